-- Notifications owed, written in the same transaction as the change that owes them.
-- Delivery workers claim due rows with FOR UPDATE SKIP LOCKED, send them, and delete them.
CREATE TABLE outbox (
    seq bigserial PRIMARY KEY,
    tenant text NOT NULL,
    subscription_id text NOT NULL,
    notification_id text NOT NULL,
    endpoint jsonb NOT NULL,
    payload text NOT NULL,
    created_at text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_at double precision NOT NULL,
    claimed_until double precision NOT NULL DEFAULT 0,
    last_error text
);
CREATE INDEX outbox_due ON outbox (next_at);

-- When a timeInterval subscription is next due; claimed with compare-and-set by one worker.
ALTER TABLE subscriptions ADD COLUMN next_at double precision NOT NULL DEFAULT 0;
