-- Each tenant's subscriptions carry a version that changes whenever one of them is created, changed or deleted.
-- Writers keep the tenant's subscriptions in memory and check the version inside the statement that writes
-- (no round trip to read the subscriptions for every write). Versions come from one sequence: never reused,
-- so a version seen before a reset cannot match one after it.
CREATE SEQUENCE subscription_change;
CREATE TABLE subscription_versions (
    tenant text PRIMARY KEY,
    version bigint NOT NULL
);
CREATE FUNCTION bump_subscription_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO subscription_versions (tenant, version)
    VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant ELSE NEW.tenant END, nextval('subscription_change'))
    ON CONFLICT (tenant) DO UPDATE SET version = EXCLUDED.version;
    RETURN NULL;
END $$;
CREATE TRIGGER subscriptions_changed AFTER INSERT OR DELETE OR UPDATE OF tenant, doc ON subscriptions
FOR EACH ROW EXECUTE FUNCTION bump_subscription_version();
