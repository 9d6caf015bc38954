-- How many entities of each type have each attribute, by attribute type: what /types and /attributes with
-- details answer, read from a few hundred rows instead of joining every entity's type and attribute rows (about
-- 10 s at a million entities). The writes keep it: a write group adds its changes with its commit.
CREATE TABLE type_attrs (
    tenant TEXT NOT NULL,
    type TEXT NOT NULL,
    attr TEXT NOT NULL,
    atype TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (tenant, type, attr, atype)
) WITHOUT ROWID;
INSERT INTO type_attrs (tenant, type, attr, atype, n)
    SELECT t.tenant, t.type, a.attr, a.atype, count(*) FROM entity_types t JOIN entity_attrs a ON a.seq = t.seq
    GROUP BY t.tenant, t.type, a.attr, a.atype;
