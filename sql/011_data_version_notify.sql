-- Every move of the data version is announced on the channel fxticker_data_version. PostgreSQL delivers
-- a notification at its transaction's commit and not before (a rolled-back bump announces nothing), so
-- a listener learns of a change about when the change becomes visible, without asking. The web tier's
-- workers listen (fxticker.web.version_watch) instead of reading the version once per request.
--
-- No payload: any role that can connect may notify any channel, so a listener must not take a version
-- from a notification. It reads the version from this table when one arrives; a forged notification
-- costs it one read.
--
-- A row trigger on data_version itself, not a line in the bump functions: every way the version moves
-- announces it, including the hand-made bump that 004 asks of whoever drops chunks.
CREATE FUNCTION announce_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fxticker_data_version', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER data_version_announces
AFTER UPDATE ON data_version
FOR EACH ROW EXECUTE FUNCTION announce_data_version();
