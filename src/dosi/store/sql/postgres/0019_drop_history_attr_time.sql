-- Every history query names its entities (temporal queries find them through the entity indexes), so
-- history_entity_attr_time answers them all; this index only cost every recorded instance one more b-tree.
DROP INDEX IF EXISTS history_attr_time;
