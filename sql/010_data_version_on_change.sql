-- The data version moves only when rows change. 004's trigger ran once per statement, whether or not
-- the statement changed a row, so re-reading an unchanged file (its capture time the file's, already
-- stored) bumped the version and emptied every worker's cache: 30 times in 6 s with five file sources
-- scraped every 2 s. A statement-level trigger cannot see whether rows changed on a hypertable
-- (TimescaleDB refuses transition tables there), so a row-level trigger does it, once per transaction:
-- a transaction-local setting remembers that this transaction bumped already, so a page of five quotes,
-- or a batch of thousands, costs one UPDATE of data_version and a lookup of that setting per row.
-- A rolled-back transaction (or savepoint) rolls back the setting with its bump.
CREATE FUNCTION bump_data_version_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('fxticker.data_version_bumped', true) IS DISTINCT FROM 'yes' THEN
        UPDATE data_version SET version = version + 1;
        PERFORM set_config('fxticker.data_version_bumped', 'yes', true);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER observation_bumps_data_version ON observation;
CREATE TRIGGER observation_row_bumps_data_version
AFTER INSERT OR UPDATE OR DELETE ON observation
FOR EACH ROW EXECUTE FUNCTION bump_data_version_once();
-- TRUNCATE has no rows to fire for: it keeps a statement trigger (it always empties something or nothing
-- worth caching).
CREATE TRIGGER observation_truncate_bumps_data_version
AFTER TRUNCATE ON observation
FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();

DROP TRIGGER official_rate_bumps_data_version ON official_rate;
CREATE TRIGGER official_rate_row_bumps_data_version
AFTER INSERT OR UPDATE OR DELETE ON official_rate
FOR EACH ROW EXECUTE FUNCTION bump_data_version_once();
CREATE TRIGGER official_rate_truncate_bumps_data_version
AFTER TRUNCATE ON official_rate
FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();

COMMENT ON TABLE data_version IS
    'One row: bumped by every transaction that changes observation or official_rate rows; the web tier '
    'caches responses by it.';
