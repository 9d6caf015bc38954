-- Entities of every tenant. seq is the stable insertion order used for paging.
CREATE TABLE entities (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL
);
CREATE UNIQUE INDEX entities_tenant_id ON entities (tenant, id);
CREATE INDEX entities_tenant_seq ON entities (tenant, seq);

-- One row per entity type, for type filters and /types.
CREATE TABLE entity_types (
    tenant TEXT NOT NULL,
    type TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (tenant, type, seq)
) WITHOUT ROWID;
CREATE INDEX entity_types_seq ON entity_types (seq);

-- One row per attribute and attribute type, for attrs filters and /attributes.
CREATE TABLE entity_attrs (
    tenant TEXT NOT NULL,
    attr TEXT NOT NULL,
    seq INTEGER NOT NULL,
    atype TEXT NOT NULL,
    PRIMARY KEY (tenant, attr, seq, atype)
) WITHOUT ROWID;
CREATE INDEX entity_attrs_seq ON entity_attrs (seq);

-- Bounding boxes of GeoProperty values; id = seq * 1024 + instance number.
CREATE VIRTUAL TABLE entity_geo USING rtree (
    id, minx, maxx, miny, maxy,
    +tenant TEXT, +seq INTEGER, +attr TEXT, +geojson TEXT
);

CREATE TABLE tenants (
    tenant TEXT PRIMARY KEY
);

CREATE TABLE contexts (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used TEXT,
    hits INTEGER NOT NULL DEFAULT 0
);
