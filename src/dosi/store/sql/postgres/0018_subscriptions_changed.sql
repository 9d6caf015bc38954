-- A write sent alone (no transaction block around it: one round trip) checks inside its statement that the
-- tenant's subscriptions are still the version its notifications were made from. When they changed, the
-- statement calls this, fails and writes nothing; the writer reads them again and writes in a transaction.
CREATE FUNCTION subscriptions_changed(tenant_name text) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION 'the subscriptions of tenant "%" changed', tenant_name USING ERRCODE = 'DS001';
END $$;
