-- Notifications owed, written in the same transaction as the change that owes them.
-- A delivery worker claims due rows, sends them, and deletes them (or schedules a retry).
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    claimed_until REAL NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (next_at);

-- When a timeInterval subscription is next due; claimed with compare-and-set by one worker.
ALTER TABLE subscriptions ADD COLUMN next_at REAL NOT NULL DEFAULT 0;
