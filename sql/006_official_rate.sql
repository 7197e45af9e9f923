-- Official rates: what the central banks (and the manat's peg) say a US dollar is worth in their own
-- currency, beside the ticker's quotes; and the accounting of their fetches, like scrape_run's.
CREATE TABLE official_rate (
    provider   text        NOT NULL CHECK (provider ~ '^[a-z]{2,12}$'),
    currency   text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- The day the rate is for (not the day it was published: NBKR publishes the day before).
    rate_date  date        NOT NULL,
    -- Units of currency per USD: the published value divided by the nominal, exactly (numeric keeps the
    -- published scale: NBKR's 87,4500 is 87.4500).
    per_usd    numeric     NOT NULL CHECK (per_usd > 0),
    published  text        NOT NULL,
    nominal    integer     NOT NULL CHECK (nominal IN (1, 10, 100, 1000)),
    fetched_at timestamptz NOT NULL,
    -- The URL fetched, or the file ingested; NULL for a peg, which nothing is fetched for.
    source     text,
    PRIMARY KEY (provider, currency, rate_date)
);

SELECT create_hypertable('official_rate', by_range('rate_date', INTERVAL '1 year'));

CREATE INDEX official_rate_currency_day ON official_rate (currency, rate_date DESC);

COMMENT ON TABLE official_rate IS
    'Official rates: units of currency per USD on rate_date, by provider, as published, with provenance.';

-- The API caches answers by data_version, and official rates are part of the answers now.
CREATE TRIGGER official_rate_bumps_data_version
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON official_rate
FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();

CREATE TABLE official_run (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    status      text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'failed')),
    trigger     text        NOT NULL DEFAULT 'manual' CHECK (trigger IN ('manual', 'schedule', 'backfill')),
    host        text,
    since       date        NOT NULL,
    until       date        NOT NULL,
    error       text
);
CREATE INDEX official_run_started ON official_run (started_at DESC);

-- One row per provider within a run: a bank that is down fails its own row only.
CREATE TABLE official_run_provider (
    run_id         bigint      NOT NULL REFERENCES official_run (id) ON DELETE CASCADE,
    provider       text        NOT NULL,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz NOT NULL,
    status         text        NOT NULL CHECK (status IN ('ok', 'failed')),
    requests       integer     NOT NULL DEFAULT 0,
    rates_new      integer     NOT NULL DEFAULT 0,
    rates_changed  integer     NOT NULL DEFAULT 0,
    rates_same     integer     NOT NULL DEFAULT 0,
    -- Days asked whose answer was for another day (a holiday, NBT's today-for-unknown-days): no row.
    days_refused   integer     NOT NULL DEFAULT 0,
    error          text,
    PRIMARY KEY (run_id, provider)
);
CREATE INDEX official_run_provider_latest ON official_run_provider (provider, finished_at DESC);

GRANT SELECT ON official_rate, official_run, official_run_provider TO fxticker_reader;
