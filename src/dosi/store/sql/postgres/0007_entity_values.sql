-- The value index: every scalar a top-level q comparison looks at, so that q runs on indexes.
CREATE TABLE entity_values (
    tenant text NOT NULL,
    attr text NOT NULL,
    seq bigint NOT NULL,
    num double precision,
    txt text
);
CREATE INDEX entity_values_num ON entity_values (tenant, attr, num);
CREATE INDEX entity_values_txt ON entity_values (tenant, attr, txt COLLATE "C");
CREATE INDEX entity_values_seq ON entity_values (seq, attr);
INSERT INTO entity_values (tenant, attr, seq, num, txt)
SELECT DISTINCT e.tenant, a.key, e.seq,
       CASE WHEN jsonb_typeof(s.item) = 'number' THEN (s.item #>> '{}')::double precision END,
       CASE WHEN jsonb_typeof(s.item) = 'string' THEN s.item #>> '{}' END
FROM entities e
CROSS JOIN LATERAL jsonb_each(e.doc -> 'attrs') AS a(key, instances)
CROSS JOIN LATERAL jsonb_array_elements(a.instances) AS i(inst)
CROSS JOIN LATERAL jsonb_path_query(
    CASE coalesce(i.inst ->> 'type', 'Property')
        WHEN 'Relationship' THEN i.inst -> 'object'
        WHEN 'VocabProperty' THEN i.inst -> 'vocab'
        WHEN 'LanguageProperty' THEN i.inst -> 'languageMap'
        ELSE coalesce(i.inst -> 'value' -> '@value', i.inst -> 'value')
    END,
    CASE WHEN i.inst ->> 'type' = 'LanguageProperty' THEN 'lax $.*' ELSE 'lax $[*]' END::jsonpath
) AS s(item)
WHERE coalesce(i.inst ->> 'type', 'Property') IN ('Property', 'Relationship', 'VocabProperty', 'LanguageProperty')
  AND jsonb_typeof(s.item) IN ('number', 'string');
