-- near finds its candidates on the geometry index by lon/lat boxes (then decides on the sphere), so the
-- geography expression index is one more index every write of a location had to keep, and no query uses it.
DROP INDEX IF EXISTS entity_geo_geog;
