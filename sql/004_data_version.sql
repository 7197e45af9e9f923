-- The data version: a counter that every change to observation bumps in the changing transaction, so
-- that the web tier can cache a response under the version it read and never serve it after a change.
--
-- Why a row and not a sequence: nextval() is not transactional, so a reader could see the new version
-- before the data commits, compute the old answer and cache it under the new version (stale until the
-- next change). The row's new value becomes visible exactly when the data does, in the same commit.
--
-- Why statement-level: one bump per statement, not per row. Ingest writes one statement per page
-- (store.save_quotes), so a page costs one more tiny UPDATE (two, in fact: an INSERT ... ON CONFLICT DO
-- UPDATE fires the statement-level triggers of both INSERT and UPDATE, even when nothing changed). A
-- statement that changes nothing (a re-read of the same page) still bumps: the cache is emptied more
-- often than strictly needed, never less. TimescaleDB fires statement-level triggers once on the
-- hypertable itself, never on chunks (tested with the Apache build, 2.19: INSERT, ON CONFLICT DO
-- UPDATE, UPDATE, DELETE and TRUNCATE all fire it). On the community build, where 003 compresses old
-- chunks, TimescaleDB's limits on compressed chunks concern row-level triggers and triggers with
-- transition tables (which would have to see the rows of a compressed segment); this trigger is
-- neither and looks at no row, so it fires there as well. That build is not available here to test.
--
-- Contention: the UPDATE locks this one row until the writer's transaction ends, so concurrent writers
-- to observation queue on it. That is acceptable: every writer commits per page (ingest and scrape
-- alike, fetching outside the transaction), so the lock is held for the rest of one page's short
-- transaction, and scrapes run one at a time (the scheduler's advisory lock) every half hour. Readers
-- never wait: they read the committed version without locking.
--
-- Not seen by the trigger: removing whole chunks (drop_chunks, a retention policy) deletes rows without
-- DELETE triggers. fxticker sets no retention policy; whoever drops chunks by hand must bump the
-- version too (UPDATE data_version SET version = version + 1) or restart the web tier.
CREATE TABLE data_version (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    version bigint  NOT NULL
);
INSERT INTO data_version (version) VALUES (1);
COMMENT ON TABLE data_version IS
    'One row: bumped by every statement that changes observation; the web tier caches responses by it.';

CREATE FUNCTION bump_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_version SET version = version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER observation_bumps_data_version
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON observation
FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();

-- 003's default privileges cover tables this same user creates; granted explicitly all the same, so that
-- a migration run by another owner still leaves the web tier able to read it. SELECT only: the reader
-- must not be able to move the version (and so keep a stale cache alive).
GRANT SELECT ON data_version TO fxticker_reader;
