-- Subscriptions, stored expanded; seq keeps the listing order stable.
CREATE TABLE subscriptions (
    seq bigserial PRIMARY KEY,
    tenant text NOT NULL,
    id text NOT NULL,
    doc jsonb NOT NULL
);
CREATE UNIQUE INDEX subscriptions_tenant_id ON subscriptions (tenant, id);
