-- Ticker observations: one row per currency, day and distinct quote (a "revision" of that day).
-- Partitioned on the day the ticker showed the quote; the unique key therefore carries rate_date.
CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE observation (
    rate_date     date        NOT NULL,
    currency      text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- USD per one unit of currency, exactly as quoted: numeric keeps the quoted scale (0.28490).
    rate          numeric     NOT NULL CHECK (rate > 0),
    change_pct    numeric     NOT NULL,
    -- 'down' with change_pct = 0 is a quoted "-0%": a fall rounded to zero.
    direction     text        NOT NULL CHECK (direction IN ('up', 'down', 'flat')),
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    sightings     integer     NOT NULL DEFAULT 1 CHECK (sightings > 0),
    first_source  text        NOT NULL,
    last_source   text        NOT NULL,
    first_hash    text        NOT NULL,
    last_hash     text        NOT NULL,
    CONSTRAINT observation_quote_key UNIQUE (currency, rate_date, rate, change_pct, direction),
    CHECK (last_seen >= first_seen)
);

SELECT create_hypertable('observation', by_range('rate_date', INTERVAL '3 months'));

CREATE INDEX observation_day_latest ON observation (currency, rate_date DESC, last_seen DESC);

COMMENT ON TABLE observation IS 'Ticker quotes: USD per unit of currency on rate_date, with provenance.';

-- Every observation with the interval of rates that round to the quoted one, and the day's revision rank.
CREATE VIEW observation_detail AS
SELECT o.*,
       trim_scale(rate - 0.5 * power(10::numeric, -scale(rate))) AS rate_low,
       trim_scale(rate + 0.5 * power(10::numeric, -scale(rate))) AS rate_high,
       count(*) OVER day AS revisions,
       row_number() OVER (day ORDER BY last_seen DESC, first_seen DESC) AS revision_rank
FROM observation o
WINDOW day AS (PARTITION BY currency, rate_date);

-- A day's rate is its most recently seen revision.
CREATE VIEW daily_rate AS
SELECT DISTINCT ON (currency, rate_date)
       rate_date, currency, rate, change_pct, direction, last_seen, last_source,
       trim_scale(rate - 0.5 * power(10::numeric, -scale(rate))) AS rate_low,
       trim_scale(rate + 0.5 * power(10::numeric, -scale(rate))) AS rate_high
FROM observation
ORDER BY currency, rate_date, last_seen DESC, first_seen DESC;
