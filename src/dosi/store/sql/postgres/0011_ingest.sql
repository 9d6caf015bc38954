-- Data models registered at run time, ingest source configs shared by every worker, each source's last status,
-- and the log of every message that was rejected (or stored with a warning), kept for listing and replay.
CREATE TABLE data_models (
    type text PRIMARY KEY,
    doc text NOT NULL,
    registered_at text NOT NULL
);
CREATE TABLE ingest_sources (
    name text PRIMARY KEY,
    config text NOT NULL,
    updated_at text NOT NULL
);
CREATE TABLE ingest_status (
    name text PRIMARY KEY,
    doc text NOT NULL,
    updated_at text NOT NULL
);
CREATE TABLE ingest_rejections (
    seq bigserial PRIMARY KEY,
    tenant text NOT NULL,
    source text NOT NULL,
    outcome text NOT NULL,
    reason text NOT NULL,
    payload text NOT NULL,
    received_at text NOT NULL,
    replayed_at text
);
CREATE INDEX ingest_rejections_source ON ingest_rejections (source, seq);
