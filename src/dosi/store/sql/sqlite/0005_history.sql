-- Every instance an attribute ever had (temporal API). Times are kept as written and as epoch seconds.
CREATE TABLE history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    types TEXT NOT NULL,
    attr TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    dataset_id TEXT,
    observed_ts REAL,
    created_ts REAL NOT NULL,
    modified_ts REAL NOT NULL,
    deleted_ts REAL,
    num REAL,
    doc TEXT NOT NULL
);
CREATE INDEX history_entity_attr_time ON history (tenant, entity_id, attr, observed_ts);
CREATE INDEX history_attr_time ON history (tenant, attr, observed_ts);
CREATE UNIQUE INDEX history_instance ON history (tenant, instance_id);
