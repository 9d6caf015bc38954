-- API keys (stored hashed), the local development issuer's signing key, and the hash-chained audit log.
CREATE TABLE api_keys (
    key_id text PRIMARY KEY,
    name text NOT NULL,
    hash text NOT NULL,
    roles jsonb NOT NULL,
    tenants jsonb,
    created_at text NOT NULL,
    expires_at text,
    revoked_at text,
    last_used_at text
);
CREATE TABLE secrets (
    name text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE audit (
    seq bigserial PRIMARY KEY,
    doc text NOT NULL,
    hash text NOT NULL
);
