-- Delivery counters live apart from the subscription document: one small row updated in place per delivery,
-- instead of rewriting the document (and contending for it) twice per notification.
CREATE TABLE subscription_stats (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    times_sent INTEGER NOT NULL DEFAULT 0,
    times_failed INTEGER NOT NULL DEFAULT 0,
    last_notification TEXT,
    last_success TEXT,
    last_failure TEXT,
    status TEXT,
    PRIMARY KEY (tenant, id)
);
INSERT INTO subscription_stats
SELECT tenant, id,
       coalesce(json_extract(doc, '$.notification.timesSent'), 0),
       coalesce(json_extract(doc, '$.notification.timesFailed'), 0),
       json_extract(doc, '$.notification.lastNotification'),
       json_extract(doc, '$.notification.lastSuccess'),
       json_extract(doc, '$.notification.lastFailure'),
       json_extract(doc, '$.notification.status')
FROM subscriptions WHERE json_extract(doc, '$.notification.timesSent') IS NOT NULL;
