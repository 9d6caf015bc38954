-- Entities per (tenant, type) in buckets of 4096 consecutive seq values: an order-statistics
-- index, so that a deep page (offset 500,000) is found by summing a few hundred counts.
CREATE TABLE type_buckets (
    tenant TEXT NOT NULL,
    type TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (tenant, type, bucket)
) WITHOUT ROWID;
INSERT INTO type_buckets (tenant, type, bucket, n)
    SELECT tenant, type, seq >> 12, count(*) FROM entity_types GROUP BY tenant, type, seq >> 12;
