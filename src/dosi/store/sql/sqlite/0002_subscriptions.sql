-- Subscriptions, stored expanded; seq keeps the listing order stable.
CREATE TABLE subscriptions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX subscriptions_tenant_id ON subscriptions (tenant, id);
