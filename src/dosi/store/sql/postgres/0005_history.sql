-- Every instance an attribute ever had (temporal API). Times are kept as written and as epoch seconds.
CREATE TABLE history (
    seq bigserial PRIMARY KEY,
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
);
CREATE INDEX history_entity_attr_time ON history (tenant, entity_id, attr, observed_ts);
CREATE INDEX history_attr_time ON history (tenant, attr, observed_ts);
CREATE INDEX history_seq_brin ON history USING brin (seq);
CREATE UNIQUE INDEX history_instance ON history (tenant, instance_id);
