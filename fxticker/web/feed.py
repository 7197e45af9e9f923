"""GET /feed.atom: what the check and the scorecard find, as an Atom 1.0 feed a reader or a chat tool can
follow: an entry per quoted day the check calls differs or suspect and per stale run, newest first.

feedgen writes the Atom (escaping, dates, the required elements). Links are relative to the feed's own
URL, which a reader resolves against where it fetched the feed: an absolute link would have to come from
the request's Host header, which the client chooses, and the cached feed would then carry one client's
host to every other.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

import pandas as pd
from feedgen.feed import FeedGenerator
from flask import Blueprint, Response, url_for

from fxticker.official import check, scorecard
from fxticker.storage import daily
from fxticker.web import cache, params
from fxticker.web.pool import read_connection

bp = Blueprint("feed", __name__)

MAX_ENTRIES = 100
# An entry's link opens the dashboard this many days either side of its date.
AROUND = dt.timedelta(days=14)
ATOM = "application/atom+xml; charset=utf-8"
# Entry ids are permanent and the same on every host: UUIDs named by what the entry is about.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "fxticker:feed")
_NO_DATA = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _moment(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _dashboard(code: str, first: dt.date, last: dt.date, newest: dt.date) -> str:
    query = {"currencies": code, "from": (first - AROUND).isoformat(),
             "to": min(last + AROUND, newest).isoformat()}
    return f"{url_for('dashboard.index')}?{urlencode(query)}#quality"


def _flagged(quoted: pd.DataFrame, newest: dt.date) -> list[dict[str, Any]]:
    """Entries for the newest MAX_ENTRIES days the check calls differs or suspect."""
    days = quoted[quoted["check"].isin(("differs", "suspect"))]
    days = days.sort_values(["day", "currency"], ascending=[False, True]).head(MAX_ENTRIES)
    entries = []
    for row in days.to_dict("records"):
        day = scorecard.day_date(row["day"])
        how = "suspect" if row["check"] == "suspect" else "differs from"
        limit = check.DIFFERS_PCT if row["check"] == "suspect" else check.AGREES_PCT
        entries.append({
            "id": f"check/{row['currency']}/{day}",
            "date": day,
            "updated": _moment(row["last_seen"]),
            "title": (f"{row['currency']} {day}: the ticker {how} the central bank "
                      f"({row['deviation_pct']:+.3f}%)"),
            "summary": (f"The ticker quoted {row['rate']:.6g} USD per {row['currency']} on {day}, "
                        f"{1 / row['rate']:,.6g} {row['currency']} per USD; the central bank's rate "
                        f"of the day was {row['per_usd']:,.6g}. Beyond its own precision the quote is "
                        f"more than {limit}% from it: the check calls it {row['check']}."),
            "link": _dashboard(row["currency"], day, day, newest),
        })
    return entries


def _stale(found: scorecard.Scorecard, newest: dt.date) -> list[dict[str, Any]]:
    quoted = found.quoted
    seen = quoted.set_index(["currency", "day"])["last_seen"]
    entries = []
    for run in found.runs:
        first, last = dt.date.fromisoformat(run["first_date"]), dt.date.fromisoformat(run["last_date"])
        entries.append({
            "id": f"stale/{run['currency']}/{first}",
            "date": last,
            "updated": _moment(seen.loc[(run["currency"], scorecard.day_number(last))]),
            "title": f"{run['currency']} {first} to {last}: the ticker stood still for {run['quoted_days']} "
                     f"quoted days while the central bank moved {run['official_move_pct']}%",
            "summary": (f"The ticker showed the same {run['currency']} rate on {run['quoted_days']} "
                        f"consecutive quoted days, {first} to {last}, while the central bank's rate moved by "
                        f"{run['official_move_pct']}% (its highest over its lowest): a stale run."),
            "link": _dashboard(run["currency"], first, last, newest),
        })
    return entries


def build(found: scorecard.Scorecard) -> bytes:
    """The feed of a scorecard over all the data."""
    quoted = found.quoted
    newest = scorecard.day_date(quoted["day"].max()) if len(quoted) else dt.date.today()
    entries = [*_flagged(quoted, newest), *_stale(found, newest)]
    entries.sort(key=lambda e: (e["date"], e["id"]), reverse=True)
    entries = entries[:MAX_ENTRIES]
    feed = FeedGenerator()
    feed.id(uuid.uuid5(_NAMESPACE, "feed").urn)
    feed.title("fxticker: the ticker against the central banks")
    feed.subtitle("Days the Times of Central Asia's ticker differs from a central bank's official rate or is "
                  "suspect, and stretches where it stood still while the bank's rate moved.")
    feed.author(name="fxticker")
    feed.generator("fxticker")
    feed.link(href=url_for("feed.atom"), rel="self", type="application/atom+xml")
    feed.link(href=url_for("dashboard.index"), rel="alternate", type="text/html")
    newest_seen = _moment(quoted["last_seen"].max()) if len(quoted) else _NO_DATA
    feed.updated(max((e["updated"] for e in entries), default=newest_seen))
    # feedgen puts each added entry first; added oldest first, they come out newest first.
    for item in reversed(entries):
        entry = feed.add_entry()
        entry.id(uuid.uuid5(_NAMESPACE, item["id"]).urn)
        entry.title(item["title"])
        entry.summary(item["summary"])
        entry.updated(item["updated"])
        entry.link(href=item["link"], rel="alternate", type="text/html")
    body: bytes = feed.atom_str(pretty=True)
    return body


@bp.get("/feed.atom")
@cache.cached
def atom() -> Response:
    params.query(())
    with read_connection() as conn:
        found = scorecard.scorecard(conn, scorecard.chosen(None, daily.stored_currencies(conn)))
    return Response(build(found), content_type=ATOM)
