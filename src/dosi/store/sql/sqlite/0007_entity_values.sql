-- The value index: every scalar a top-level q comparison looks at, so that q runs on indexes.
CREATE TABLE entity_values (
    tenant TEXT NOT NULL,
    attr TEXT NOT NULL,
    seq INTEGER NOT NULL,
    num REAL,
    txt TEXT
);
CREATE INDEX entity_values_num ON entity_values (tenant, attr, num);
CREATE INDEX entity_values_txt ON entity_values (tenant, attr, txt);
CREATE INDEX entity_values_seq ON entity_values (seq, attr);
INSERT INTO entity_values (tenant, attr, seq, num, txt)
SELECT DISTINCT e.tenant, a.key, e.seq,
       CASE WHEN v.type IN ('integer', 'real') THEN v.value END,
       CASE WHEN v.type = 'text' THEN v.value END
FROM entities e, json_each(e.doc, '$.attrs') a, json_each(a.value) i,
     json_each(i.value, CASE json_extract(i.value, '$.type')
         WHEN 'Relationship' THEN '$.object'
         WHEN 'VocabProperty' THEN '$.vocab'
         WHEN 'LanguageProperty' THEN '$.languageMap'
         ELSE CASE json_type(i.value, '$.value') WHEN 'object' THEN '$.value."@value"' ELSE '$.value' END
     END) v
WHERE coalesce(json_extract(i.value, '$.type'), 'Property')
          IN ('Property', 'Relationship', 'VocabProperty', 'LanguageProperty')
  AND v.type IN ('integer', 'real', 'text');
