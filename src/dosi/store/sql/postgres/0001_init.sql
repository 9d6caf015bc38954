-- Entities of every tenant. seq is the stable insertion order used for paging.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE entities (
    seq bigserial PRIMARY KEY,
    tenant text NOT NULL,
    id text NOT NULL,
    doc jsonb NOT NULL,
    created_at text NOT NULL,
    modified_at text NOT NULL
);
CREATE UNIQUE INDEX entities_tenant_id ON entities (tenant, id);
CREATE INDEX entities_tenant_seq ON entities (tenant, seq);

-- One row per entity type, for type filters and /types.
CREATE TABLE entity_types (
    tenant text NOT NULL,
    type text NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (tenant, type, seq)
);
CREATE INDEX entity_types_seq ON entity_types (seq);

-- One row per attribute and attribute type, for attrs filters and /attributes.
CREATE TABLE entity_attrs (
    tenant text NOT NULL,
    attr text NOT NULL,
    seq bigint NOT NULL,
    atype text NOT NULL,
    PRIMARY KEY (tenant, attr, seq, atype)
);
CREATE INDEX entity_attrs_seq ON entity_attrs (seq);

-- GeoProperty values (made valid), for geo-queries.
CREATE TABLE entity_geo (
    seq bigint NOT NULL,
    tenant text NOT NULL,
    attr text NOT NULL,
    geom geometry(Geometry, 4326) NOT NULL
);
CREATE INDEX entity_geo_seq ON entity_geo (seq);
CREATE INDEX entity_geo_geom ON entity_geo USING gist (geom);
CREATE INDEX entity_geo_geog ON entity_geo USING gist ((geom::geography));

CREATE TABLE tenants (
    tenant text PRIMARY KEY
);

CREATE TABLE contexts (
    id text PRIMARY KEY,
    url text NOT NULL,
    kind text NOT NULL,
    body jsonb NOT NULL,
    created_at text NOT NULL,
    last_used text,
    hits integer NOT NULL DEFAULT 0
);
