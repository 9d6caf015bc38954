-- Concurrent writers of one type counted into the same type_buckets row and so waited on its lock for each
-- other's commit: creates of one type were serialised. Each connection now counts into its own shard of a bucket
-- (pg_backend_pid() % 64; a shard's count may go below zero when it counts deletions); readers sum the shards.
ALTER TABLE type_buckets ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE type_buckets DROP CONSTRAINT type_buckets_pkey;
ALTER TABLE type_buckets ADD PRIMARY KEY (tenant, type, bucket, shard);
