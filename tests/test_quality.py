"""The scorecard against the central banks on every surface: /api/quality (JSON and CSV), `fxticker
quality`, the dashboard's section and /feed.atom, on data built so that the answers are known
(tests/scorecard_data.py), in the real database."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import feedparser
import psycopg
import pytest
from click.testing import CliRunner
from flask import Flask
from lxml import etree

from fxticker.cli import main
from fxticker.web import feed
from tests import scorecard_data as known
from tests.fix_api import CheckedClient

RANGE = f"from={known.START}&to={known.END}"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def built(conn: psycopg.Connection, env: dict[str, str]) -> None:
    known.store(conn)


def matches(cards: list[dict[str, Any]], start: str = str(known.START), end: str = str(known.END)) -> None:
    """The cards are the ones worked out from the definitions (the median of an even count may differ
    in its last rounded digit: a mean of two floats there, of two decimals here)."""
    expected = [{**known.expected(c, known.START, known.END), "from": start, "to": end} for c in known.CODES]
    assert [c["median_deviation_pct"] for c in cards] == [
        pytest.approx(e["median_deviation_pct"], abs=0.0011) if e["median_deviation_pct"] is not None
        else None for e in expected]
    assert [{**c, "median_deviation_pct": 0} for c in cards] == [
        {**e, "median_deviation_pct": 0} for e in expected]


def test_api_gives_the_known_scorecards(built: None, api: CheckedClient) -> None:
    cards = api.json(f"/api/quality?{RANGE}")
    matches(cards)
    kzt = next(c for c in cards if c["currency"] == "KZT")
    # As built: KZT follows the bank the same day and froze once; KGS follows two days late and slipped
    # three times (a revision that slipped and was corrected the same day does not count).
    assert (kzt["best_lag_days"], kzt["stale_runs"], kzt["longest_stale_run"]["quoted_days"]) == (
        known.LAGS["KZT"], 1, len(known.FROZEN) + 1)
    kgs = next(c for c in cards if c["currency"] == "KGS")
    assert (kgs["best_lag_days"], kgs["suspect"], kgs["lag_share"]) == (
        known.LAGS["KGS"], len(known.SLIPS), (known.DAYS - len(known.SLIPS)) / known.DAYS)
    # Without from and to, the range is the data's.
    assert api.json("/api/quality") == cards
    assert api.json("/api/quality?currencies=kzt,usd") == [kzt]


def test_csv_holds_the_same_numbers(built: None, api: CheckedClient) -> None:
    cards = api.json(f"/api/quality?{RANGE}")
    response = api.get(f"/api/quality.csv?{RANGE}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["currency"] for r in rows] == list(known.CODES)
    kzt = next(r for r in rows if r["currency"] == "KZT")
    card = next(c for c in cards if c["currency"] == "KZT")
    assert float(kzt["median_deviation_pct"]) == card["median_deviation_pct"]
    assert float(kzt["lag_share"]) == card["lag_share"] and kzt["best_lag_days"] == "0"
    assert kzt["longest_stale_first_date"] == card["longest_stale_run"]["first_date"]
    assert next(r for r in rows if r["currency"] == "TJS")["best_lag_days"] == ""


def test_the_command_line_gives_the_same_numbers(built: None, api: CheckedClient) -> None:
    args = ["quality", "--from", str(known.START), "--to", str(known.END)]
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == api.json(f"/api/quality?{RANGE}")
    result = CliRunner().invoke(main, [*args, "--format", "csv", "--currencies", "KGS,KZT,TJS"])
    assert result.stdout_bytes == api.get(f"/api/quality.csv?{RANGE}").data
    table = CliRunner().invoke(main, args).stdout.splitlines()
    assert table[0].split() == list(known.CODES)
    shares = [str(c["lag_share"]) if c["lag_share"] is not None else "-"
              for c in api.json(f"/api/quality?{RANGE}")]
    lag = next(line for line in table if line.startswith("lag_share "))
    assert lag.split()[1:] == shares and shares[-1] == "-"


def test_bad_input_gets_the_answers_of_the_other_endpoints(built: None, api: CheckedClient) -> None:
    for query in ("currencies=XYZ", "currency=K1Z", "from=2025-02-30", "from=2025-04-01&to=2025-03-01",
                  "to=2999-01-01", "currencies=", "nonsense=1", "from=2025-03-01&from=2025-03-02"):
        ours = api.get(f"/api/quality?{query}")
        theirs = api.get(f"/api/observations?{query}")
        assert ours.status_code == 422, query
        assert (ours.status_code, ours.json) == (theirs.status_code, theirs.json), query
    result = CliRunner().invoke(main, ["quality", "--currencies", "XYZ"])
    assert result.exit_code == 1
    assert result.stderr.startswith("fxticker: 'currencies': unknown currency XYZ; known: USD, ")
    result = CliRunner().invoke(main, ["quality", "--from", "2025-04-01", "--to", "2025-03-01"])
    assert (result.exit_code, result.stderr) == (1, "fxticker: 'from' is after 'to'\n")


def test_a_range_without_official_rates_gives_nulls(built: None, api: CheckedClient) -> None:
    cards = api.json("/api/quality?from=2024-01-01&to=2024-01-31")
    assert [c["days_quoted"] for c in cards] == [0, 0, 0]
    assert {c[f] for c in cards for f in ("median_deviation_pct", "best_lag_days", "same_day_share",
                                          "stale_runs", "longest_stale_run", "resolution_pct")} == {None}
    # A range from the calendar's first day: the lags look back no further than it can.
    assert [c["days_quoted"] for c in api.json("/api/quality?from=0001-01-03&to=2025-03-01")] == [1, 1, 1]
    tjs = api.json(f"/api/quality?currency=TJS&{RANGE}")[0]
    assert (tjs["no_reference"], tjs["best_lag_days"], tjs["stale_runs"]) == (known.TJS_DAYS, None, None)


def test_answers_are_cached_by_data_version(built: None, api: CheckedClient, app: Flask,
                                            conn: psycopg.Connection) -> None:
    stats = app.extensions["fxticker_response_cache"].stats
    first = api.json(f"/api/quality?{RANGE}")
    hits = stats().hits
    assert api.json(f"/api/quality?{RANGE}") == first and stats().hits == hits + 1
    conn.execute("DELETE FROM official_rate WHERE currency = 'KGS'")
    kgs = next(c for c in api.json(f"/api/quality?{RANGE}") if c["currency"] == "KGS")
    assert (kgs["no_reference"], kgs["best_lag_days"]) == (known.DAYS, None)


class _Section(HTMLParser):
    """The dashboard's scorecard table: {currency: {field: text}}."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.inside = False
        self.currency = ""
        self.field: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.inside = a.get("class") == "quality"
        elif self.inside and tag == "tr" and a.get("data-currency"):
            self.currency = a["data-currency"] or ""
            self.rows[self.currency] = {}
        elif self.inside and tag == "td":
            self.field = a.get("data-field")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self.field = None
        elif tag == "table":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.field:
            row = self.rows[self.currency]
            row[self.field] = row.get(self.field, "") + data


def section(page: str) -> dict[str, dict[str, str]]:
    parser = _Section()
    parser.feed(page)
    return parser.rows


def test_the_dashboard_shows_the_same_numbers(built: None, api: CheckedClient, client: Any) -> None:
    cards = api.json(f"/api/quality?{RANGE}")
    page = client.get(f"/?{RANGE}").get_data(as_text=True)
    assert "How close is the ticker to the banks?" in page
    shown = section(page)
    assert list(shown) == list(known.CODES)
    for card in cards:
        row = shown[card["currency"]]
        for field, value in card.items():
            if field in ("currency", "from", "to"):
                continue
            if field == "longest_stale_run":
                assert (value is None) == (row[field] == "–")
                if value:
                    assert f"{value['first_date']} to {value['last_date']}" in row[field]
                    assert f"{value['quoted_days']} quoted days" in row[field]
                    assert f"moved {value['official_move_pct']}%" in row[field]
            else:
                assert row[field] == ("–" if value is None else str(value)), (card["currency"], field)
    # The chart's data: each day's deviation, and the frozen stretch to shade.
    data = json.loads(re.search(r'<script type="application/json" id="fx-data">(.*?)</script>', page,
                                re.S)[1])  # type: ignore[index]
    assert data["quality"]["cards"] == cards
    chart = {c["code"]: c for c in data["quality"]["chart"]["currencies"]}
    run = next(c for c in cards if c["currency"] == "KZT")["longest_stale_run"]
    assert chart["KZT"]["stale"] == [[run["first_date"], run["last_date"]]]
    assert len(chart["KGS"]["y"]) == known.DAYS and chart["TJS"]["y"] == []
    assert data["quality"]["chart"]["lines"] == [1, 5]


def entry_day(title: str) -> str:
    """The day an entry is dated by: a flagged day's, or a stale run's last."""
    words = title.split()
    return words[3].rstrip(":") if "stood still" in title else words[1].rstrip(":")


def test_the_feed_lists_the_slips_and_the_frozen_stretch(built: None, client: Any) -> None:
    response = client.get("/feed.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    titles = [e.title for e in parsed.entries]
    slips = [f"KGS {known.day(n)}: the ticker suspect" for n in known.SLIPS]
    assert all(any(t.startswith(s) for t in titles) for s in slips), titles
    frozen = known.day(known.FROZEN[0] - 1), known.day(known.FROZEN[-1])
    stale = [t for t in titles if "stood still" in t]
    assert stale == [f"KZT {frozen[0]} to {frozen[1]}: the ticker stood still for {len(known.FROZEN) + 1} "
                     "quoted days while the "
                     "central bank moved "
                     f"{known.expected('KZT')['longest_stale_run']['official_move_pct']}%"]
    # Every day the check flags, and the run; newest first.
    flagged = sum(known.expected(c)[v] for c in ("KZT", "KGS") for v in ("differs", "suspect"))
    assert len(parsed.entries) == flagged + 1
    days = [entry_day(t) for t in titles]
    assert days == sorted(days, reverse=True) and days[0] == str(known.END)
    # Each links to the dashboard around its date, and the dashboard shows that range.
    slip = next(e for e in parsed.entries if e.title.startswith(slips[0]))
    link = urlsplit(slip.link)
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert (link.path, link.fragment, query["currencies"]) == ("/", "quality", "KGS")
    assert query["from"] < str(known.day(known.SLIPS[0])) < query["to"]
    page = client.get(f"{link.path}?{link.query}").get_data(as_text=True)
    assert f'name="from" value="{query["from"]}"' in page and list(section(page)) == ["KGS"]


def test_the_feed_is_atom_with_every_required_element(built: None, client: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed, "MAX_ENTRIES", 10)
    root = etree.fromstring(client.get("/feed.atom").data)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated", "author"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 10
    for entry in entries:
        for name in ("id", "title", "updated", "summary"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        # rel="alternate" is a link's default (RFC 4287, 4.2.7.2), which feedgen leaves unwritten.
        links = [link for link in entry.findall(f"{ATOM}link") if link.get("rel", "alternate") == "alternate"]
        assert len(links) == 1 and (links[0].get("href") or "").startswith("/?")
        assert entry.findtext(f"{ATOM}id", "").startswith("urn:uuid:")
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == len(ids)
    # The newest ten: the last day flagged first.
    titles = [e.findtext(f"{ATOM}title", "") for e in entries]
    assert entry_day(titles[0]) == str(known.END)
    assert root.findtext(f"{ATOM}updated") == max(e.findtext(f"{ATOM}updated", "") for e in entries)


def test_the_feed_of_an_empty_database_is_valid(client: Any, env: dict[str, str]) -> None:
    parsed = feedparser.parse(client.get("/feed.atom").data)
    assert not parsed.bozo and parsed.entries == [] and parsed.feed.updated
    assert client.get("/feed.atom?x=1").status_code == 422


def test_the_dashboard_takes_a_range_from_the_calendars_first_day(built: None, client: Any) -> None:
    page = client.get("/?from=0001-01-01&currencies=KZT").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/json" id="fx-data">(.*?)</script>', page,
                                re.S)[1])  # type: ignore[index]
    chart = data["quality"]["chart"]["currencies"][0]
    assert chart["x"] and all(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", x) for x in chart["x"])
    assert section(page)["KZT"]["days_quoted"] == str(known.DAYS)
