"""The dashboard page at /, through Flask's test client: the table, the chart data, escaping, CSP, size."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import lxml.html
import psycopg
import pytest
from flask.testing import FlaskClient

from benchmarks import data
from fxticker.collect.ingest import ingest_many
from fxticker.web import create_app
from fxticker.web import pool as web_db
from fxticker.web.dashboard import CSP, MAX_POINTS, MAX_REVISION_ROWS
from tests.pages import table_rows, with_quote, write_page


def page_data(html: str) -> dict[str, Any]:
    tree = lxml.html.fromstring(html)
    (script,) = tree.xpath('//script[@id="fx-data"]')
    result: dict[str, Any] = json.loads(script.text)
    return result


def test_latest_table_shows_rates_ranges_falls_and_revisions(client: FlaskClient, tmp_path: Path) -> None:
    ingest_many([
        write_page(tmp_path, "a.txt", "3 December 2025", with_quote("TJS", "0.10890", "-0.14"),
                   1_764_700_000),
        write_page(tmp_path, "b.txt", "3 December 2025", with_quote("TJS", "0.10899", "-0.06"),
                   1_764_740_000),
    ], None)
    response = client.get("/")
    assert response.status_code == 200
    rows = table_rows(response.text)
    assert list(rows) == ["KGS", "KZT", "TJS", "UZS", "TMT"]
    assert rows["UZS"][:3] == ["Uzbek sum UZS", "0.00008", "11764.705..13333.334"]
    # KZT was quoted "-0%": a fall rounded to zero, shown with the falling arrow.
    assert rows["KZT"][3] == "▼ -0%" and rows["KZT"][2] == "516.79586..519.48052"
    assert rows["TJS"][1] == "0.10899" and rows["TJS"][4] == "2025-12-03 ✱ 2 revisions"
    assert rows["KGS"][4] == "2025-12-03"
    assert "sample" not in response.text.lower().split("about the data")[1]


def test_chart_data_has_gaps_bands_and_revision_hovers(client: FlaskClient, tmp_path: Path) -> None:
    pages = [
        write_page(tmp_path, "d1.txt", "1 December 2025"),
        write_page(tmp_path, "d2.txt", "2 December 2025", with_quote("KZT", "0.00194", "0.52")),
        # 3..9 December missing: a gap; 10 December twice, revised.
        write_page(tmp_path, "d10a.txt", "10 December 2025", with_quote("KZT", "0.00195", "0.52"),
                   1_765_300_000),
        write_page(tmp_path, "d10b.txt", "10 December 2025", with_quote("KZT", "0.00196", "1.03"),
                   1_765_340_000),
    ]
    ingest_many(pages, None)
    data = page_data(client.get("/?currencies=KZT,UZS").text)
    assert data["bucket_days"] == 1 and (data["start"], data["end"]) == ("2025-12-01", "2025-12-10")
    kzt, uzs = data["currencies"]
    assert (kzt["code"], kzt["name"], uzs["name"]) == ("KZT", "Kazakh tenge", "Uzbek sum")
    assert kzt["x"] == ["2025-12-01", "2025-12-02", "2025-12-03", "2025-12-10"]
    assert kzt["y"] == [0.00193, 0.00194, None, 0.00196]
    assert kzt["lo"][0] == 0.001925 and kzt["hi"][0] == 0.001935
    assert uzs["yi"][0] == 12500.0
    # The ring on 10 December: a daily chart lists the day's revisions, latest first, each with its source.
    summary = {k: v for k, v in kzt["rev"].items() if k != "list"}
    assert summary == {"i": [3], "days": [1], "last": [0], "n": [2]}
    (revisions,) = kzt["rev"]["list"]
    assert [(rate, change, seen) for rate, change, seen, _ in revisions] == [
        ("0.00196", "1.03%", "2025-12-10 04:13"), ("0.00195", "0.52%", "2025-12-09 17:06")]
    assert [data["sources"][source][-8:] for *_, source in revisions] == ["d10b.txt", "d10a.txt"]
    assert uzs["rev"] == {"i": [], "days": [], "last": [], "n": [], "list": []}


def test_page_escapes_sources_and_keeps_scripts_external(client: FlaskClient, tmp_path: Path) -> None:
    name = '<img src=x onerror="alert(1)">.txt'
    ingest_many([
        write_page(tmp_path, "ok.txt", "10 December 2025", mtime=1_765_300_000),
        write_page(tmp_path, name, "10 December 2025", with_quote("TMT", "0.28491", "0"), 1_765_340_000),
    ], None)
    response = client.get("/")
    assert response.headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-eval" not in CSP
    assert "<img" not in response.text
    tree = lxml.html.fromstring(response.text)
    scripts = tree.xpath("//script")
    assert all(s.get("src", "").startswith("/") for s in scripts if s.get("type") != "application/json")
    assert [s.get("src") for s in scripts if s.get("src")] == [
        s.get("src") for s in scripts if s.get("type") != "application/json"
    ]
    # The source reaches the JSON block as data (tojson escapes "<" there); dashboard.js escapes it for the
    # hover, which tests/test_browser.py checks.
    data = page_data(response.text)
    (revisions,) = data["currencies"][4]["rev"]["list"]
    assert data["sources"][revisions[0][3]].endswith(name)


def test_plotly_js_is_served_by_the_app(client: FlaskClient, tmp_path: Path) -> None:
    ingest_many([write_page(tmp_path, "p.txt", "10 December 2025")], None)
    tree = lxml.html.fromstring(client.get("/").text)
    sources = [s.get("src") for s in tree.xpath("//script[@src]")]
    plotly_src = next(src for src in sources if "plotly" in src)
    with client.get(plotly_src) as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        body = response.get_data()
    assert len(body) > 1_000_000 and b"plotly.js" in body[:500]
    stale = client.get("/assets/plotly-1.0.0.min.js")
    assert stale.status_code == 404 and "not &#39;1.0.0&#39;" in stale.text  # quoted by inputs.shown
    with client.get(next(src for src in sources if "dashboard.js" in src)) as own:
        assert own.status_code == 200 and b"Plotly.react" in own.get_data()


def test_empty_database_page(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "No rates stored yet" in response.text and "fx-data" not in response.text
    assert "No scrape has been recorded yet." in response.text


def test_last_scrape_and_sample_statement(client: FlaskClient, conn: psycopg.Connection) -> None:
    from importlib import resources

    samples = resources.files("fxticker") / "samples"
    ingest_many([str(samples)], None)
    conn.execute(
        "INSERT INTO scrape_run (started_at, finished_at, status, sources_total, sources_failed)"
        " VALUES ('2026-01-02 03:04:05+00', '2026-01-02 03:04:09+00', 'ok', 2, 1)"
    )
    tree = lxml.html.fromstring(client.get("/").text)
    text = " ".join(tree.xpath('//section[@id="provenance"]')[0].text_content().split())
    assert "Last scrape: 2026-01-02 03:04 UTC, ok (1 of 2 sources read)." in text
    count = conn.execute("SELECT count(*) FROM observation").fetchone()
    assert count is not None
    note = " ".join(tree.xpath('//p[@class="sample-note"]')[0].text_content().split())
    assert note.startswith(f"Sample data: {count[0]} of these quotes come from the sample pages")


def test_selection_without_data_says_so(client: FlaskClient, tmp_path: Path) -> None:
    ingest_many([write_page(tmp_path, "p.txt", "10 December 2025")], None)
    for query in ("from=2026-01-01", "to=2020-01-01"):
        response = client.get(f"/?{query}")
        assert response.status_code == 200
        assert "No quotes stored for this selection." in response.text and "fx-data" not in response.text
    # A currency nothing is stored for is an error, as in the API and the export, not an empty page.
    response = client.get("/?currencies=XYZ")
    assert response.status_code == 422
    assert "unknown currency XYZ" in response.text


def test_the_form_leaves_empty_fields_out_and_repeats_currencies(client: FlaskClient, tmp_path: Path) -> None:
    ingest_many([write_page(tmp_path, "p.txt", "10 December 2025")], None)
    response = client.get("/?currencies=KZT&currencies=UZS&from=&to=")
    assert response.status_code == 200
    assert [c["code"] for c in page_data(response.text)["currencies"]] == ["KZT", "UZS"]
    assert client.get("/?from=2025-12-01&from=2025-12-02").status_code == 422


@pytest.mark.slow
def test_unreachable_database_is_a_503_page() -> None:
    app = create_app({"TESTING": True, "DATABASE_READ_URL": "postgresql://x@127.0.0.1:1/none"})
    try:
        response = app.test_client().get("/")
    finally:
        web_db.close(app)
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "the database is unavailable; try again shortly" in response.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2025-02-30", "'from' must be a date of the form YYYY-MM-DD"),
        ("currencies=<b>x</b>", "'currencies' takes three-letter codes such as KZT, separated by commas"),
        ("from=2025-12-02&to=2025-12-01", "'from' is after 'to'"),
        ("colour=<i>red</i>", "unknown parameter: 'colour'"),
    ],
)
def test_bad_parameters_give_an_html_error_page(client: FlaskClient, query: str, message: str) -> None:
    response = client.get(f"/?{query}")
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CSP
    tree = lxml.html.fromstring(response.text)
    assert tree.xpath('//section[@class="error"]/p')[0].text_content() == message
    assert "<b>" not in response.text and "<i>" not in response.text


def test_ten_years_of_five_currencies_stay_under_500_kb(
    client: FlaskClient, conn: psycopg.Connection
) -> None:
    conn.execute("""
        INSERT INTO observation (rate_date, currency, rate, change_pct, direction, first_seen, last_seen,
                                 first_source, last_source, first_hash, last_hash)
        SELECT d::date, c.code, round(c.base * (1 + 0.1 * sin(extract(epoch FROM d) / 8e6))::numeric, 5),
               0.1, 'up', d, d, 'generated', 'generated', 'h', 'h'
        FROM generate_series('2015-01-01'::timestamptz, '2024-12-31', interval '1 day') AS d,
             (VALUES ('KGS', 0.01144), ('KZT', 0.00193), ('TJS', 0.10851), ('UZS', 0.00008),
                     ('TMT', 0.28490)) AS c(code, base)
    """)
    assert conn.execute("SELECT count(*) FROM observation").fetchone() == (18_265,)
    response = client.get("/")
    size = len(response.get_data())
    assert response.status_code == 200 and size < 500_000, size
    data = page_data(response.text)
    assert data["bucket_days"] == 5
    for series in data["currencies"]:
        assert 700 <= len(series["x"]) <= MAX_POINTS
    # A short range is not downsampled.
    short = page_data(client.get("/?from=2024-01-01&to=2024-03-31").text)
    assert short["bucket_days"] == 1 and len(short["currencies"][0]["x"]) == 91


TEN_YEARS_END = dt.date(2024, 12, 31)
TEN_YEARS = (TEN_YEARS_END - dt.date(2015, 1, 1)).days + 1


def generated_revised(code: str, day: dt.date, revised_every: int) -> bool:
    """Whether benchmarks/data.py gave this currency's day a second revision (its rule, restated)."""
    position = data.currencies(5).index(code) + 1
    return ((TEN_YEARS_END - day).days + position) % revised_every == 0


@pytest.mark.parametrize("revised_every", [1, 3, 10])
def test_ten_years_with_revisions_stay_under_500_kb_with_every_revision_counted(
    client: FlaskClient, db_url: str, revised_every: int
) -> None:
    # Every day revised twice (1), a third of days (3), and about as often as the sample data (10).
    data.generate(db_url, data.currencies(5), TEN_YEARS, end=TEN_YEARS_END, revised_every=revised_every)
    response = client.get("/")
    size = len(response.get_data())
    assert response.status_code == 200 and size < 400_000, size
    sent = page_data(response.text)
    assert sent["bucket_days"] == 5 and sent["sources"] == []
    start = dt.date.fromisoformat(sent["start"])
    for series in sent["currencies"]:
        code, rev = series["code"], series["rev"]
        assert "list" not in rev  # long ranges summarise; no revision is listed one by one
        # Every revised day of ten years is counted in some ring.
        every_day = (start + dt.timedelta(n) for n in range(TEN_YEARS))
        assert sum(rev["days"]) == sum(generated_revised(code, d, revised_every) for d in every_day)
        # A known bucket: 31 December 2019 to 4 January 2020, the 366th point.
        bucket = dt.date(2019, 12, 31)
        assert series["x"][365] == bucket.isoformat()
        days = [bucket + dt.timedelta(n) for n in range(5)]
        expected = [d for d in days if generated_revised(code, d, revised_every)]
        if expected:
            m = rev["i"].index(365)
            summary = (rev["days"][m], rev["last"][m], rev["n"][m])
            assert summary == (len(expected), (expected[-1] - bucket).days, 2)
        else:
            assert 365 not in rev["i"]

    # A short range is daily, and lists each revision of a revised day, latest first, with its source.
    short = page_data(client.get("/?currencies=TMT&from=2024-12-01&to=2024-12-31").text)
    (tmt,) = short["currencies"]
    assert short["bucket_days"] == 1 and len(tmt["x"]) == 31
    revised_days = [d for d in tmt["x"] if generated_revised("TMT", dt.date.fromisoformat(d), revised_every)]
    assert [tmt["x"][i] for i in tmt["rev"]["i"]] == revised_days
    day = revised_days[-1]
    url = f"https://timesca.com/news/{day.replace('-', '/')}/latest/"
    assert [(seen, short["sources"][source]) for _, _, seen, source in tmt["rev"]["list"][-1]] == [
        (f"{day} 08:30", url), (f"{day} 03:30", url)]


def test_a_long_daily_range_lists_the_newest_revisions_and_counts_the_rest(
    client: FlaskClient, db_url: str
) -> None:
    # 800 days of five currencies, every day revised twice: 8,000 revisions, more than the page lists.
    data.generate(db_url, data.currencies(5), MAX_POINTS, end=TEN_YEARS_END, revised_every=1)
    response = client.get("/")
    assert len(response.get_data()) < 500_000, len(response.get_data())
    sent = page_data(response.text)
    assert sent["bucket_days"] == 1
    listed = [(series["x"][i], rows) for series in sent["currencies"]
              for i, rows in zip(series["rev"]["i"], series["rev"]["list"], strict=True)]
    assert len(listed) == 5 * MAX_POINTS  # every revised day keeps its ring and count
    with_rows = [day for day, rows in listed if rows is not None]
    assert len(with_rows) == MAX_REVISION_ROWS // 2
    # The newest days are listed; older ones ask for a shorter range (their hover says so).
    assert min(with_rows) > max(day for day, rows in listed if rows is None)
    assert max(with_rows) == TEN_YEARS_END.isoformat()
