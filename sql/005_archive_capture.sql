-- Backfill from web archives: the outcome of every archive capture read, so that a re-run (or a run after
-- a crash) fetches only the captures with no outcome yet or a failed one. A stored capture's outcome
-- commits in the same transaction as its quotes (fxticker/backfill.py).
CREATE TABLE archive_capture (
    archive                text        NOT NULL,  -- the archive's base URL (FXTICKER_ARCHIVE_URL)
    original               text        NOT NULL,  -- the page as the archive's listing names it
    captured_at            timestamptz NOT NULL,  -- the listing's timestamp
    digest                 text        NOT NULL,  -- the listing's digest: equal digests, equal bytes
    -- stored: its quotes are in observation; rejected: no usable ticker (see reason), never fetched
    -- again; failed: could not be fetched after retries, fetched again by the next run.
    status                 text        NOT NULL CHECK (status IN ('stored', 'rejected', 'failed')),
    reason                 text,
    -- The capture the archive actually served (a redirect may serve a nearby one), as stored quotes cite it.
    served_at              timestamptz,
    source                 text,
    rate_date              date,
    observations_new       integer     NOT NULL DEFAULT 0,
    observations_duplicate integer     NOT NULL DEFAULT 0,
    attempts               integer     NOT NULL DEFAULT 1 CHECK (attempts > 0),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (archive, original, captured_at),
    CHECK (status <> 'stored' OR (served_at IS NOT NULL AND source IS NOT NULL AND rate_date IS NOT NULL)),
    CHECK (status = 'stored' OR reason IS NOT NULL)
);

-- "Already seen" is asked by digest: a capture whose bytes were stored or rejected before is not fetched.
CREATE INDEX archive_capture_digest ON archive_capture (digest) WHERE status <> 'failed';

COMMENT ON TABLE archive_capture IS
    'Backfill: each archive capture''s outcome (stored, rejected with reason, failed), for resuming.';
GRANT SELECT ON archive_capture TO fxticker_reader;
