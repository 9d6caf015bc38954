-- A second, coarser level of the type counts: entities per (tenant, type) in spans of 2^18 consecutive seq values
-- (64 buckets), sharded like type_buckets. A deep page sums the few spans first, then the buckets of one span:
-- at a million entities that reads about 16 spans and 110 bucket rows instead of every one of 525 bucket rows.
CREATE TABLE type_spans (
    tenant text NOT NULL,
    type text NOT NULL,
    span bigint NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (tenant, type, span, shard)
);
INSERT INTO type_spans (tenant, type, span, shard, n)
    SELECT tenant, type, bucket >> 6, shard, sum(n) FROM type_buckets GROUP BY tenant, type, bucket >> 6, shard;

-- The seq of the entity at `at` (0-based) among a type's entities, or NULL past the last one: the span holding it,
-- the bucket inside that span, then a short step inside the bucket. Shards are summed as integers (a span holds at
-- most 2^18 entities): sum(bigint) is numeric, and a running sum over numerics costs more. A PL/pgSQL function
-- keeps its plan for the session, where the same statement inside each page query was planned again every time;
-- STABLE, it runs once per page query, in that query's snapshot.
CREATE FUNCTION type_seq_at(p_tenant text, p_type text, at bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (
        WITH s AS (
            SELECT span, n, sum(n) OVER (ORDER BY span) - n AS before FROM (
                SELECT span, sum(n)::int AS n FROM type_spans WHERE tenant = p_tenant AND type = p_type GROUP BY span
            ) AS g WHERE n > 0
        ), in_span AS (
            SELECT span, before FROM s WHERE before + n > at ORDER BY span LIMIT 1
        ), b AS (
            SELECT bucket, n, i.before + sum(n) OVER (ORDER BY bucket) - n AS before FROM (
                SELECT bucket, sum(n)::int AS n FROM type_buckets, in_span i
                WHERE tenant = p_tenant AND type = p_type AND bucket >= i.span << 6 AND bucket < (i.span + 1) << 6
                GROUP BY bucket
            ) AS g, in_span i WHERE n > 0
        ), hit AS (
            SELECT bucket, before FROM b WHERE before + n > at ORDER BY bucket LIMIT 1
        )
        SELECT (
            SELECT e.seq FROM entity_types e WHERE e.tenant = p_tenant AND e.type = p_type
            AND e.seq >= hit.bucket << 12 ORDER BY e.seq LIMIT 1 OFFSET at - hit.before
        ) FROM hit
    );
END
$$;
