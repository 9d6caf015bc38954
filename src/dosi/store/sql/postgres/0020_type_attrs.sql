-- How many entities of each type have each attribute, by attribute type: what /types and /attributes with
-- details answer, read from a few hundred rows instead of joining every entity's type and attribute rows (about
-- 10 s at a million entities). Sharded like type_buckets: concurrent writers of one type never wait for each other.
CREATE TABLE type_attrs (
    tenant text NOT NULL,
    type text NOT NULL,
    attr text NOT NULL,
    atype text NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (tenant, type, attr, atype, shard)
);
INSERT INTO type_attrs (tenant, type, attr, atype, shard, n)
    SELECT t.tenant, t.type, a.attr, a.atype, 0, count(*) FROM entity_types t JOIN entity_attrs a ON a.seq = t.seq
    GROUP BY t.tenant, t.type, a.attr, a.atype;
