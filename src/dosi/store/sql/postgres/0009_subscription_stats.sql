-- Delivery counters live apart from the subscription document: one small row updated in place per delivery,
-- instead of rewriting the document (and contending for it) twice per notification.
CREATE TABLE subscription_stats (
    tenant text NOT NULL,
    id text NOT NULL,
    times_sent bigint NOT NULL DEFAULT 0,
    times_failed bigint NOT NULL DEFAULT 0,
    last_notification text,
    last_success text,
    last_failure text,
    status text,
    PRIMARY KEY (tenant, id)
);
INSERT INTO subscription_stats
SELECT tenant, id,
       coalesce((doc #>> '{notification,timesSent}')::bigint, 0),
       coalesce((doc #>> '{notification,timesFailed}')::bigint, 0),
       doc #>> '{notification,lastNotification}',
       doc #>> '{notification,lastSuccess}',
       doc #>> '{notification,lastFailure}',
       doc #>> '{notification,status}'
FROM subscriptions WHERE doc #> '{notification,timesSent}' IS NOT NULL;
