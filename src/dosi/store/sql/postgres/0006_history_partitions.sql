-- History partitioned by when each instance was recorded (created_ts, epoch seconds), one partition a month:
-- retention drops whole months, and queries on a time window skip the months outside it.
ALTER TABLE history RENAME TO history_unpartitioned;
ALTER TABLE history_unpartitioned ALTER COLUMN seq DROP DEFAULT;
ALTER SEQUENCE history_seq_seq OWNED BY NONE;
DROP INDEX history_entity_attr_time;
DROP INDEX history_attr_time;
DROP INDEX history_seq_brin;
DROP INDEX history_instance;

CREATE TABLE history (
    seq bigint NOT NULL DEFAULT nextval('history_seq_seq'),
    tenant text NOT NULL,
    entity_id text NOT NULL,
    types jsonb NOT NULL,
    attr text NOT NULL,
    instance_id text NOT NULL,
    dataset_id text,
    observed_ts double precision,
    created_ts double precision NOT NULL,
    modified_ts double precision NOT NULL,
    deleted_ts double precision,
    num double precision,
    doc jsonb NOT NULL
) PARTITION BY RANGE (created_ts);
ALTER SEQUENCE history_seq_seq OWNED BY history.seq;
-- rows whose month has no partition yet land here; creating that month's partition moves them over
CREATE TABLE history_default PARTITION OF history DEFAULT;
CREATE INDEX history_entity_attr_time ON history (tenant, entity_id, attr, observed_ts);
CREATE INDEX history_attr_time ON history (tenant, attr, observed_ts);
CREATE INDEX history_instance ON history (tenant, instance_id);
CREATE INDEX history_created_brin ON history USING brin (created_ts);

-- The partition holding epoch second `at` (history_YYYYMM, UTC), created when missing.
CREATE FUNCTION dosi_history_partition(at double precision) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    first timestamp := date_trunc('month', to_timestamp(at) AT TIME ZONE 'UTC');
    name text := 'history_' || to_char(first, 'YYYYMM');
    lo double precision := extract(epoch FROM first);
    hi double precision := extract(epoch FROM first + interval '1 month');
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN name;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('dosi_history_partition'));
    IF to_regclass(name) IS NOT NULL THEN
        RETURN name;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE history INCLUDING DEFAULTS)', name);
    EXECUTE format(
        'WITH moved AS (DELETE FROM history_default WHERE created_ts >= %s AND created_ts < %s RETURNING *)'
        ' INSERT INTO %I SELECT * FROM moved', lo, hi, name);
    EXECUTE format('ALTER TABLE history ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', name, lo, hi);
    RETURN name;
END;
$$;

SELECT dosi_history_partition(extract(epoch FROM month))
FROM (SELECT DISTINCT date_trunc('month', to_timestamp(created_ts) AT TIME ZONE 'UTC') AS month
      FROM history_unpartitioned) AS months;
SELECT dosi_history_partition(extract(epoch FROM now()));
SELECT dosi_history_partition(extract(epoch FROM now() + interval '1 month'));
INSERT INTO history SELECT * FROM history_unpartitioned;
DROP TABLE history_unpartitioned;
