"""The dashboard at /: latest rates and plotly charts, with the app's own plotly.js and a strict CSP."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import plotly
import psycopg
from flask import Blueprint, render_template, send_file, url_for
from psycopg.rows import dict_row
from werkzeug.wrappers import Response

from fxticker import vocab
from fxticker.export import tables
from fxticker.inputs import http_url, shown
from fxticker.web import official_view as official_web
from fxticker.web import params, quality
from fxticker.web.errors import BadInput, NotFound
from fxticker.web.pool import read_connection

# Templates and static files are the app's own (fxticker/web/templates and static, served at /static).
bp = Blueprint("dashboard", __name__)

# Enough points per currency for a chart as wide as a screen; ten years at daily resolution would be 3,650.
MAX_POINTS = 800
# Days without data, in bucket widths, that the line does not bridge: a weekend is not a gap, a week is.
GAP_BUCKETS = 3
# Revisions listed one by one on a daily chart (about 40 bytes each in the page); older days beyond the
# cap keep their ring and count, and their hover asks for a shorter range.
MAX_REVISION_ROWS = 2000
# A source is a URL or a path; a longer one is cut rather than let one row swell the page.
MAX_SOURCE_CHARS = 120

# Scripts only from this app. Styles must allow 'unsafe-inline': plotly.js injects its own stylesheet and
# style attributes at runtime (a strict style-src blocks them and logs errors); styles cannot run code.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_PARAMS = {"currencies", "from", "to"}


def change_text(change: Decimal, direction: str) -> str:
    return vocab.change_text(change, direction) + "%"


# ---- queries -------------------------------------------------------------------------------------------

_LATEST = """
SELECT l.currency, l.rate_date, l.rate, l.change_pct, l.direction,
       l.last_seen, l.last_source,
       (SELECT count(*) FROM observation o
         WHERE o.currency = l.currency AND o.rate_date = l.rate_date) AS revisions,
       d.per_usd AS official_per_usd, d.provider AS official_provider, d.official_date,
       official_deviation(l.rate, d.per_usd) AS deviation_pct,
       official_verdict(d.per_usd, l.rate_low, l.rate_high) AS official_check
FROM (SELECT DISTINCT ON (currency) * FROM daily_rate ORDER BY currency, rate_date DESC) l
-- The check of sql/009 (its reference days and verdict), applied to the latest days only: through
-- daily_checked, every day of every currency would be joined first.
LEFT JOIN official_day d ON d.currency = l.currency AND d.day = l.rate_date
"""

_SPAN = """
SELECT min(rate_date), max(rate_date) FROM observation WHERE currency = ANY(%(currencies)s)
"""

# Every chart query buckets the same way (bucket_params gives the values), so that the official line
# and the marks land on the series' own points.
_BUCKET = "time_bucket(make_interval(days => %(days)s), rate_date, %(origin)s::date) AS bucket, currency"
_IN_RANGE = "currency = ANY(%(currencies)s) AND rate_date >= %(start)s AND rate_date <= %(end)s"

# One point per bucket and currency: the mean of the days' rates, and the widest precision band.
_SERIES = f"""
SELECT {_BUCKET}, avg(rate) AS rate, avg(1 / rate) AS per_usd, min(rate_low) AS low, max(rate_high) AS high
FROM daily_rate WHERE {_IN_RANGE}
GROUP BY bucket, currency ORDER BY currency, bucket
"""

# The official rate's mean per bucket, drawn as a second line.
_OFFICIAL = f"""
SELECT {_BUCKET}, avg(per_usd) AS per_usd FROM official_rate WHERE {_IN_RANGE}
GROUP BY bucket, currency ORDER BY currency, bucket
"""

# The buckets holding days whose rate differs from the official one, or is suspect, and how many.
_FLAGGED = f"""
SELECT {_BUCKET}, count(*) FILTER (WHERE official_check = 'differs') AS differs,
       count(*) FILTER (WHERE official_check = 'suspect') AS suspect, max(abs(deviation_pct)) AS worst
FROM daily_checked WHERE {_IN_RANGE} AND official_check IN ('differs', 'suspect')
GROUP BY bucket, currency ORDER BY currency, bucket
"""

# Revised days (several quotes on one day), counted per bucket of the series: complete for any range, and
# a few bytes a bucket, however many revisions the days had.
_REVISED = f"""
SELECT {_BUCKET}, count(*) AS days, max(rate_date) AS last,
       (array_agg(revisions ORDER BY rate_date DESC))[1] AS last_revisions
FROM (SELECT currency, rate_date, count(*) AS revisions
      FROM observation
      WHERE {_IN_RANGE}
      GROUP BY currency, rate_date
      HAVING count(*) > 1) AS revised
GROUP BY bucket, currency
ORDER BY currency, bucket
"""

# Each revision of the revised days, newest days first so that the cap drops the oldest ones.
_REVISIONS = """
SELECT rate_date, currency, rate, change_pct, direction, last_seen, last_source
FROM observation_detail
WHERE revisions > 1 AND currency = ANY(%(currencies)s) AND rate_date >= %(start)s AND rate_date <= %(end)s
ORDER BY rate_date DESC, currency, revision_rank
LIMIT %(limit)s
"""

_LAST_SCRAPE = """
SELECT started_at, finished_at, status, sources_total, sources_failed
FROM scrape_run ORDER BY started_at DESC LIMIT 1
"""

_FRESHNESS = """
SELECT max(last_seen) AS last_seen, count(*) AS observations,
       count(*) FILTER (WHERE starts_with(last_source, %(samples)s)) AS from_samples
FROM observation
"""


def _latest(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = list(cur.execute(_LATEST))
    table = []
    for row in sorted(rows, key=lambda r: vocab.ticker_order(r["currency"])):
        usd_low, usd_high, per_usd_low, per_usd_high = vocab.bounds(row["rate"]).texts()
        table.append({
            "code": row["currency"],
            "name": vocab.currency_name(row["currency"]),
            "rate": vocab.decimal_text(row["rate"]),
            "usd_low": usd_low,
            "usd_high": usd_high,
            "per_usd_low": per_usd_low,
            "per_usd_high": per_usd_high,
            "change": change_text(row["change_pct"], row["direction"]),
            "direction": row["direction"],
            "date": row["rate_date"].isoformat(),
            "revisions": row["revisions"],
            **source_link(row["last_source"]),
            **official_web.official_fields(row),
        })
    return table


def source_link(source: str) -> dict[str, str | None]:
    """A quote's source for the table: an http(s) URL (a page, an archive's capture) becomes a link
    labelled with its host; a file path stays text, labelled with its name."""
    try:
        host = http_url(source).hostname
    except ValueError:  # not an http(s) URL, or a malformed one (an unclosed IPv6 bracket): shown, not linked
        host = None
    if host:
        return {"source_url": source, "source_label": host}
    label = Path(source).name or source
    return {"source_url": None, "source_label": label[:MAX_SOURCE_CHARS]}


def bucket_days(start: dt.date, end: dt.date) -> int:
    return max(1, math.ceil(((end - start).days + 1) / MAX_POINTS))


def bucket_params(codes: Sequence[str], start: dt.date, end: dt.date, days: int) -> dict[str, Any]:
    """The values of _BUCKET and _IN_RANGE: buckets of `days` days counted from the range's first day."""
    return {"days": days, "origin": start, "currencies": list(codes), "start": start, "end": end}


def _short(value: Decimal) -> float:
    """A float for plotting, six significant digits: enough for a chart, light in JSON."""
    return float(f"{value:.6g}")


def _series(conn: psycopg.Connection, codes: list[str], start: dt.date, end: dt.date,
            days: int) -> dict[str, dict[str, list[Any]]]:
    series: dict[str, dict[str, list[Any]]] = {
        c: {"x": [], "y": [], "yi": [], "lo": [], "hi": []} for c in codes
    }
    previous: dict[str, dt.date] = {}
    rows = conn.execute(_SERIES, bucket_params(codes, start, end, days))
    for bucket, code, rate, per_usd, low, high in rows:
        s = series[code]
        last = previous.get(code)
        if last is not None and (bucket - last).days > GAP_BUCKETS * days:
            # A null point inside the gap: plotly (connectgaps false) breaks the line there.
            s["x"].append((last + dt.timedelta(days=days)).isoformat())
            for key in ("y", "yi", "lo", "hi"):
                s[key].append(None)
        previous[code] = bucket
        s["x"].append(bucket.isoformat())
        s["y"].append(_short(rate))
        s["yi"].append(_short(per_usd))
        s["lo"].append(_short(low))
        s["hi"].append(_short(high))
    return series


def _revised(conn: psycopg.Connection, series: dict[str, dict[str, list[Any]]], start: dt.date,
             end: dt.date, days: int) -> dict[str, dict[str, list[Any]]]:
    """The points whose bucket holds revised days: the point's index, and a summary a hover can show.

    Per point: `i` its index in the series, `days` the revised days in its bucket, `last` the latest of
    them as days after the bucket's start, `n` that day's revisions. dashboard.js builds the hover text,
    so the page carries numbers rather than repeated HTML.
    """
    marks: dict[str, dict[str, list[Any]]] = {
        c: {"i": [], "days": [], "last": [], "n": []} for c in series
    }
    index = {c: {x: k for k, x in enumerate(s["x"])} for c, s in series.items()}
    params = bucket_params(list(series), start, end, days)
    for bucket, code, revised_days, last, revisions in conn.execute(_REVISED, params):
        point = index[code].get(bucket.isoformat())
        if point is None:
            continue  # a day stored between the two queries (read committed): its ring comes next time
        m = marks[code]
        m["i"].append(point)
        m["days"].append(revised_days)
        m["last"].append((last - bucket).days)
        m["n"].append(revisions)
    return marks


def _revision_lists(conn: psycopg.Connection, series: dict[str, dict[str, list[Any]]],
                    marks: dict[str, dict[str, list[Any]]], start: dt.date,
                    end: dt.date) -> list[str]:
    """Adds each revised day's revisions to its mark (daily points only); returns the sources they cite.

    `list` holds, per mark, the day's revisions latest first as [rate as quoted, change, seen (UTC),
    index into the returned sources], or null where MAX_REVISION_ROWS cut the day off. A source (a URL or
    a path, up to 120 characters) often recurs across revisions and currencies, so each is sent once.
    """
    sources: dict[str, int] = {}
    found: dict[tuple[str, str], list[list[Any]]] = defaultdict(list)
    params = {"currencies": list(series), "start": start, "end": end, "limit": MAX_REVISION_ROWS}
    for date, code, rate, change, direction, seen, source in conn.execute(_REVISIONS, params):
        found[(code, date.isoformat())].append([
            vocab.decimal_text(rate), change_text(change, direction),
            seen.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M"),
            sources.setdefault(source[:MAX_SOURCE_CHARS], len(sources)),
        ])
    for code, m in marks.items():
        days = [series[code]["x"][i] for i in m["i"]]
        # A day the LIMIT cut short (or left out) has fewer rows than its count: none rather than some.
        m["list"] = [rows if len(rows) == n else None
                     for rows, n in zip((found.get((code, day), []) for day in days), m["n"], strict=True)]
    return list(sources)


def _provenance(conn: psycopg.Connection) -> dict[str, Any]:
    samples = str(resources.files("fxticker") / "samples")
    with conn.cursor(row_factory=dict_row) as cur:
        fresh = cur.execute(_FRESHNESS, {"samples": samples}).fetchone() or {}
        run = cur.execute(_LAST_SCRAPE).fetchone()
    parts = []
    if run is None:
        parts.append("No scrape has been recorded yet.")
    else:
        read = ""
        if run["sources_total"]:
            read = f" ({run['sources_total'] - run['sources_failed']} of {run['sources_total']} sources read)"
        parts.append(f"Last scrape: {_utc(run['started_at'])}, {run['status']}{read}.")
    if fresh.get("last_seen"):
        parts.append(f"Newest quote seen {_utc(fresh['last_seen'])}; "
                     f"{fresh['observations']:,} quotes stored.")
    return {"statement": " ".join(parts), "from_samples": fresh.get("from_samples", 0)}


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


# ---- views ---------------------------------------------------------------------------------------------

def _selection() -> tuple[tuple[str, ...], dt.date | None, dt.date | None]:
    # The page's own form: checkboxes repeat the parameter, and an empty date field means none.
    args = params.query(_PARAMS, lists=("currencies",), form=True)
    try:
        query = tables.make_query(currencies=args.get("currencies"), start=args.get("from"),
                                  end=args.get("to"))
    except vocab.BadValue as exc:
        raise BadInput(str(exc)) from None
    return query.currencies, query.start, query.end


@bp.get("/")
def index() -> str:
    chosen, start, end = _selection()
    with read_connection() as conn:
        latest = _latest(conn)
        available = [row["code"] for row in latest]
        if available:
            params.known_codes("currencies", chosen, available)
        codes = sorted((c for c in (chosen or available) if c in available), key=vocab.ticker_order)
        span = conn.execute(_SPAN, {"currencies": codes}).fetchone()
        first, last = span if span else (None, None)
        start, end = start or first, end or last
        data: dict[str, Any] = {"currencies": [], "bucket_days": 1}
        suspects: list[dict[str, Any]] = []
        if codes and start and end and start <= end:
            days = bucket_days(start, end)
            series = _series(conn, codes, start, end, days)
            marks = _revised(conn, series, start, end, days)
            # Each revision only where a point is a day: a long range would send thousands of them.
            sources = _revision_lists(conn, series, marks, start, end) if days == 1 else []
            bucketed = bucket_params(codes, start, end, days)
            overlays = official_web.chart_overlays(series, conn.execute(_OFFICIAL, bucketed),
                                                   conn.execute(_FLAGGED, bucketed))
            suspects = official_web.suspects(conn, codes, start, end)
            data = {
                "bucket_days": days,
                "detail_days": MAX_POINTS,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "sources": sources,
                "currencies": [
                    {"code": c, "name": vocab.currency_name(c), **series[c], "rev": marks[c],
                     "official": overlays[c]} for c in codes
                ],
            }
            data["quality"] = quality.section(conn, codes, start, end, days)
        provenance = _provenance(conn)
    download: dict[str, Any] = {"currencies": ",".join(codes), "from": start, "to": end}
    return render_template(
        "dashboard.html",
        latest=latest,
        available=[(c, vocab.currency_name(c)) for c in available],
        chosen=set(codes),
        start=start,
        end=end,
        data=data,
        provenance=provenance,
        suspects=suspects,
        plotly_version=plotly_js_version(),
        download_url=url_for("export.export_csv", **{k: v for k, v in download.items() if v}),
        detail_url=url_for("dashboard.index", **{k: v for k, v in download.items() if v}),
    )


@cache
def plotly_js_path() -> Path:
    """plotly.js as shipped inside the installed plotly package: the dashboard needs no CDN."""
    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"plotly.js is missing from the plotly package at {path}")
    return path


@cache
def plotly_js_version() -> str:
    from plotly.offline import get_plotlyjs_version

    return str(get_plotlyjs_version())


@bp.get("/assets/plotly-<version>.min.js")
def plotly_js(version: str) -> Response:
    # The version in the URL lets browsers cache the 4 MB file for a year and still see upgrades.
    if version != plotly_js_version():
        raise NotFound(f"this app serves plotly.js {plotly_js_version()}, not {shown(version, 20)}")
    return send_file(plotly_js_path(), mimetype="text/javascript", max_age=365 * 24 * 3600)


@bp.after_request
def content_security_policy(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP  # nosniff, as on every answer: web/headers.py
    return response


def error_page(status: int, message: str) -> tuple[str, int]:
    """The dashboard's errors as a page rather than JSON (called by the app's one error handler)."""
    return render_template("error.html", status=status, message=message), status
