-- Data models registered at run time, ingest source configs shared by every worker, each source's last status,
-- and the log of every message that was rejected (or stored with a warning), kept for listing and replay.
CREATE TABLE data_models (
    type TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    registered_at TEXT NOT NULL
);
CREATE TABLE ingest_sources (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE ingest_status (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE ingest_rejections (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    source TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL,
    replayed_at TEXT
);
CREATE INDEX ingest_rejections_source ON ingest_rejections (source, seq);
