-- Aggregations read only the index: time, deletion mark and numeric value ride along with the key.
DROP INDEX history_entity_attr_time;
CREATE INDEX history_entity_attr_time ON history (tenant, entity_id, attr, observed_ts, deleted_ts, num);
