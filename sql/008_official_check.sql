-- The check of every ticker quote against the official rate, computed here and only here.
--
-- A quote's band is the interval of rates that round to it (rate_low..rate_high, USD per unit, from
-- observation_detail or daily_series); in units per USD it is 1/rate_high .. 1/rate_low. The official
-- rate of the same currency for the quote's day, else of the latest earlier day within 7 days (its
-- official_date then says which), is compared with that band:
--   agrees:       inside the band widened by 1% (low * 0.99 .. high * 1.01);
--   differs:      outside that, inside the band widened by 5%;
--   suspect:      further (a stale page, a unit slip per 100 vs per 1, an inverted rate);
--   no_reference: no official rate within 7 days.
-- Edges belong to the nearer verdict (BETWEEN is inclusive). deviation_pct is the quote's units per USD
-- against the official rate, in percent, signed: positive when the ticker makes the dollar dearer.
-- The thresholds follow Frankfurter's guide: over 1% is worth a look, over 5% is almost surely an error.
CREATE FUNCTION official_check(p_currency text, p_rate_date date, p_rate numeric, p_rate_low numeric,
                               p_rate_high numeric)
RETURNS TABLE (official_provider text, official_date date, official_per_usd numeric, deviation_pct numeric,
               official_check text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ref.provider, ref.rate_date, ref.per_usd,
           round((1 / (p_rate * ref.per_usd) - 1) * 100, 3),
           CASE WHEN ref.per_usd IS NULL THEN 'no_reference'
                WHEN ref.per_usd BETWEEN 0.99 / p_rate_high AND 1.01 / p_rate_low THEN 'agrees'
                WHEN ref.per_usd BETWEEN 0.95 / p_rate_high AND 1.05 / p_rate_low THEN 'differs'
                ELSE 'suspect' END
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
        SELECT r.provider, r.rate_date, r.per_usd
        FROM official_rate r
        WHERE r.currency = p_currency
          AND r.rate_date <= p_rate_date AND r.rate_date >= p_rate_date - 7
        ORDER BY r.rate_date DESC, r.provider
        LIMIT 1
    ) AS ref ON true
$$;

COMMENT ON FUNCTION official_check(text, date, numeric, numeric, numeric) IS
    'The official rate nearest before a quote (7 days at most) and the verdict: agrees, differs, suspect, no_reference.';

-- Every revision, as observation_detail, with its check.
CREATE VIEW observation_checked AS
SELECT o.*, c.official_provider, c.official_date, c.official_per_usd, c.deviation_pct, c.official_check
FROM observation_detail o
CROSS JOIN LATERAL official_check(o.currency, o.rate_date, o.rate, o.rate_low, o.rate_high) c;

-- Each day's rate, as daily_series, with its check.
CREATE VIEW daily_checked AS
SELECT d.*, c.official_provider, c.official_date, c.official_per_usd, c.deviation_pct, c.official_check
FROM daily_series d
CROSS JOIN LATERAL official_check(d.currency, d.rate_date, d.rate, d.rate_low, d.rate_high) c;

GRANT SELECT ON observation_checked, daily_checked TO fxticker_reader;
