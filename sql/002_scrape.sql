-- Accounting of scheduled and manual scrapes: every run, and every source within it.
CREATE TABLE scrape_run (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz,
    status         text        NOT NULL DEFAULT 'running'
                               CHECK (status IN ('running', 'ok', 'failed')),
    trigger        text        NOT NULL DEFAULT 'manual' CHECK (trigger IN ('manual', 'schedule')),
    host           text,
    sources_total  integer     NOT NULL DEFAULT 0,
    sources_failed integer     NOT NULL DEFAULT 0,
    error          text
);
CREATE INDEX scrape_run_started ON scrape_run (started_at DESC);

CREATE TABLE scrape_source_run (
    run_id                 bigint      NOT NULL REFERENCES scrape_run (id) ON DELETE CASCADE,
    source                 text        NOT NULL,
    started_at             timestamptz NOT NULL,
    finished_at            timestamptz NOT NULL,
    http_status            integer,
    -- ok: stored (new or duplicate quotes); not_modified: a 304, nothing to store; failed: see error.
    status                 text        NOT NULL CHECK (status IN ('ok', 'not_modified', 'failed')),
    observations_new       integer     NOT NULL DEFAULT 0,
    observations_duplicate integer     NOT NULL DEFAULT 0,
    error                  text,
    PRIMARY KEY (run_id, source)
);

-- Validators for conditional GET, per source.
CREATE TABLE source_state (
    source        text        PRIMARY KEY,
    etag          text,
    last_modified text,
    updated_at    timestamptz NOT NULL
);
