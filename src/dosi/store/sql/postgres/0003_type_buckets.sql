-- Entities per (tenant, type) in buckets of 4096 consecutive seq values: an order-statistics
-- index, so that a deep page (offset 500,000) is found by summing a few hundred counts.
CREATE TABLE type_buckets (
    tenant text NOT NULL,
    type text NOT NULL,
    bucket bigint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (tenant, type, bucket)
);
INSERT INTO type_buckets (tenant, type, bucket, n)
    SELECT tenant, type, seq >> 12, count(*) FROM entity_types GROUP BY tenant, type, seq >> 12;
