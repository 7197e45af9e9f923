-- A day's rate when two of its revisions were last seen at the same instant: the later-ingested wins.
--
-- Files from one checkout share an mtime, so two revisions of a day can carry the same last_seen; the
-- daily view, the API and the continuous aggregate then picked one arbitrarily (each its own way). Every
-- observation now carries ingest_seq, its place in ingestion order: drawn from a sequence when the row
-- is inserted (a column default, so every insert path, page by page or staged batch, honours it) and
-- drawn again whenever an upsert moves its last_seen forward (a trigger, for the same reason). A day's
-- rate is its revision with the greatest (last_seen, ingest_seq). Re-reading a capture that moves
-- nothing keeps its place: it was not seen later, only read again.
CREATE SEQUENCE observation_ingest_seq AS bigint;

-- Added without a default first: a volatile default would rewrite every (possibly compressed) chunk.
ALTER TABLE observation ADD COLUMN ingest_seq bigint;

-- Rows stored before this migration, numbered in the order the old views ranked them (last_seen, then
-- first_seen); the key columns make the numbering total.
UPDATE observation o
SET ingest_seq = numbered.n
FROM (SELECT currency, rate_date, rate, change_pct, direction,
             row_number() OVER (ORDER BY last_seen, first_seen, currency, rate_date, rate, change_pct,
                                         direction) AS n
      FROM observation) AS numbered
WHERE (o.currency, o.rate_date, o.rate, o.change_pct, o.direction)
    = (numbered.currency, numbered.rate_date, numbered.rate, numbered.change_pct, numbered.direction);
SELECT setval('observation_ingest_seq', greatest(1, (SELECT max(ingest_seq) FROM observation)),
              (SELECT count(*) > 0 FROM observation));

ALTER TABLE observation ALTER COLUMN ingest_seq SET DEFAULT nextval('observation_ingest_seq');

CREATE FUNCTION observation_ingest_order() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.last_seen > OLD.last_seen THEN
        NEW.ingest_seq := nextval('observation_ingest_seq');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER observation_ingest_order BEFORE UPDATE ON observation
FOR EACH ROW EXECUTE FUNCTION observation_ingest_order();

-- The same columns as before (views keep their column lists); only the ranking changes.
CREATE OR REPLACE VIEW observation_detail AS
SELECT o.rate_date, o.currency, o.rate, o.change_pct, o.direction, o.first_seen, o.last_seen,
       o.sightings, o.first_source, o.last_source, o.first_hash, o.last_hash,
       trim_scale(rate - 0.5 * power(10::numeric, -scale(rate))) AS rate_low,
       trim_scale(rate + 0.5 * power(10::numeric, -scale(rate))) AS rate_high,
       count(*) OVER day AS revisions,
       row_number() OVER (day ORDER BY last_seen DESC, ingest_seq DESC NULLS LAST) AS revision_rank
FROM observation o
WINDOW day AS (PARTITION BY currency, rate_date);

CREATE OR REPLACE VIEW daily_rate AS
SELECT DISTINCT ON (currency, rate_date)
       rate_date, currency, rate, change_pct, direction, last_seen, last_source,
       trim_scale(rate - 0.5 * power(10::numeric, -scale(rate))) AS rate_low,
       trim_scale(rate + 0.5 * power(10::numeric, -scale(rate))) AS rate_high
FROM observation
ORDER BY currency, rate_date, last_seen DESC, ingest_seq DESC NULLS LAST;

-- On the Apache build daily_series reads daily_rate and follows it. On the community license it reads a
-- continuous aggregate, whose definition cannot be altered: it is made again, ordering last() by the
-- same key as a row (last_seen, ingest_seq), NULL as 0 like NULLS LAST above. Views that read
-- daily_series (008's daily_checked, when this runs after it) are dropped with it and made again as
-- they were. The new aggregate starts empty; real-time aggregation shows every day meanwhile, and its
-- policy refreshes from the first day (start_offset NULL): a refresh materializes only what is missing
-- or changed, so after the first run that is the days new captures touched, old ones included.
DO $$
DECLARE
    dependent record;
    remake text[] := '{}';
    statement text;
BEGIN
    IF current_setting('timescaledb.license') = 'timescale' THEN
        -- community:begin
        FOR dependent IN
            SELECT DISTINCT v.oid::regclass::text AS name, pg_get_viewdef(v.oid) AS definition
            FROM pg_depend d
            JOIN pg_rewrite r ON r.oid = d.objid
            JOIN pg_class v ON v.oid = r.ev_class
            WHERE d.refobjid = 'daily_series'::regclass AND v.oid <> 'daily_series'::regclass
        LOOP
            remake := remake || format('CREATE VIEW %s AS %s', dependent.name, dependent.definition);
        END LOOP;
        DROP VIEW daily_series CASCADE;
        DROP MATERIALIZED VIEW daily_series_agg;
        CREATE MATERIALIZED VIEW daily_series_agg
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(INTERVAL '1 day', rate_date) AS rate_date,
               currency,
               last(rate, (last_seen, coalesce(ingest_seq, 0)))        AS rate,
               last(change_pct, (last_seen, coalesce(ingest_seq, 0)))  AS change_pct,
               last(direction, (last_seen, coalesce(ingest_seq, 0)))   AS direction,
               max(last_seen)                                         AS last_seen,
               last(last_source, (last_seen, coalesce(ingest_seq, 0))) AS last_source
        FROM observation
        GROUP BY 1, 2
        WITH NO DATA;
        PERFORM add_continuous_aggregate_policy('daily_series_agg',
            start_offset => NULL, end_offset => NULL,
            schedule_interval => INTERVAL '30 minutes');
        CREATE VIEW daily_series AS
        SELECT rate_date, currency, rate, change_pct, direction, last_seen, last_source,
               trim_scale(rate - 0.5 * power(10::numeric, -scale(rate))) AS rate_low,
               trim_scale(rate + 0.5 * power(10::numeric, -scale(rate))) AS rate_high
        FROM daily_series_agg;
        FOREACH statement IN ARRAY remake LOOP
            EXECUTE statement;
        END LOOP;
        GRANT SELECT ON daily_series_agg, daily_series TO fxticker_reader;
        -- community:end
    END IF;
END
$$;

GRANT SELECT ON ALL TABLES IN SCHEMA public TO fxticker_reader;
COMMENT ON COLUMN observation.ingest_seq IS
    'Place in ingestion order: set on insert and whenever last_seen moves forward; breaks last_seen ties.';
