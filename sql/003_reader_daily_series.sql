-- Operations: a read-only role for the web tier and Grafana, and the daily series.
--
-- fxticker_reader is a NOLOGIN role holding SELECT only. Roles are cluster-wide while grants are per
-- database, so the role is created only when missing and the grants are made in every database migrated.
-- The web tier's read pool does SET ROLE fxticker_reader on each new connection (fxticker/web/__init__.py);
-- dedicated login roles (docker/initdb/10-fxticker-roles.sh) are members of it and get SELECT through it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fxticker_reader') THEN
        CREATE ROLE fxticker_reader NOLOGIN;
    END IF;
    -- SET ROLE needs membership; the migrating user (the one the web tier's URL usually names on one
    -- machine) is made a member. A superuser may SET ROLE anyway, so this only matters for ordinary owners.
    IF NOT pg_has_role(current_user, 'fxticker_reader', 'MEMBER') THEN
        EXECUTE format('GRANT fxticker_reader TO %I', current_user);
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO fxticker_reader', current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO fxticker_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO fxticker_reader;
-- Tables and views that later migrations create (as the same migrating user) are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO fxticker_reader;

-- The daily series: daily_rate's columns, from a continuous aggregate where TimescaleDB's community
-- license allows one, else a plain view over daily_rate. Queries (the dashboards, the API) read
-- daily_series and do not change with the edition. SHOW timescaledb.license is 'timescale' for the
-- community edition (the docker image) and 'apache' for the Apache-only build that `make setup` makes.
--
-- A continuous aggregate cannot use DISTINCT ON, so a day's latest revision is last(x, last_seen); on a
-- tie in last_seen (two revisions seen in the same instant) it may pick either, where daily_rate breaks
-- the tie on first_seen. rate_low/rate_high are computed by the view on top, not in the aggregate.
-- CREATE MATERIALIZED VIEW ... WITH (timescaledb.continuous) may run inside a transaction (and so inside
-- this migration) only WITH NO DATA; the refresh policy fills it, and materialized_only = false makes
-- the not-yet-materialized recent days visible in the meantime (real-time aggregation).
DO $$
BEGIN
    IF current_setting('timescaledb.license') = 'timescale' THEN
        -- community:begin
        CREATE MATERIALIZED VIEW daily_series_agg
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(INTERVAL '1 day', rate_date) AS rate_date,
               currency,
               last(rate, last_seen)        AS rate,
               last(change_pct, last_seen)  AS change_pct,
               last(direction, last_seen)   AS direction,
               max(last_seen)               AS last_seen,
               last(last_source, last_seen) AS last_source
        FROM observation
        GROUP BY 1, 2
        WITH NO DATA;
        -- A late capture can still revise a recent day, so the last 30 days are refreshed each time.
        PERFORM add_continuous_aggregate_policy('daily_series_agg',
            start_offset => INTERVAL '30 days', end_offset => NULL,
            schedule_interval => INTERVAL '30 minutes');
        CREATE VIEW daily_series AS
        SELECT rate_date, currency, rate, change_pct, direction, last_seen, last_source,
               trim_scale(rate - 0.5 * power(10::numeric, -scale(rate))) AS rate_low,
               trim_scale(rate + 0.5 * power(10::numeric, -scale(rate))) AS rate_high
        FROM daily_series_agg;
        -- Compressed chunks must keep the unique key's columns in segmentby/orderby so that the
        -- ingest's ON CONFLICT still finds duplicates in them.
        ALTER TABLE observation SET (
            timescaledb.compress,
            timescaledb.compress_segmentby = 'currency',
            timescaledb.compress_orderby = 'rate_date DESC, rate, change_pct, direction');
        PERFORM add_compression_policy('observation', compress_after => INTERVAL '180 days');
        -- community:end
    ELSE
        -- apache:begin
        CREATE VIEW daily_series AS
        SELECT rate_date, currency, rate, change_pct, direction, last_seen, last_source,
               rate_low, rate_high
        FROM daily_rate;
        -- apache:end
    END IF;
END
$$;

GRANT SELECT ON daily_series TO fxticker_reader;
COMMENT ON VIEW daily_series IS
    'A day''s latest rate per currency: a continuous aggregate on community TimescaleDB, else daily_rate.';
