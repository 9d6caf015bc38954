-- Retention prunes by when an instance was recorded.
CREATE INDEX history_created ON history (created_ts);
