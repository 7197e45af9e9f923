"""Grafana: the provisioned datasource and dashboards, and every panel's SQL run against the test database.

Grafana expands its macros before the SQL reaches PostgreSQL; expand() below does the same for the
macros the dashboards use (as Grafana's PostgreSQL datasource with the TimescaleDB option documents them),
and fails on any other, so a dashboard cannot use a macro this test does not understand.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg.rows import dict_row

from tests.fix_ops import add_scrape_run, store_days

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = sorted((ROOT / "dashboards" / "json").glob("*.json"))
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
FROM = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
TO = dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def seconds(interval: str) -> int:
    match = re.fullmatch(r"(\d+)([smhdw])", interval.strip().strip("'"))
    assert match, f"interval {interval!r} is not of the form 30m, 1d"
    return int(match[1]) * UNITS[match[2]]


def _args(sql: str, start: int) -> tuple[list[str], int]:
    """The comma-separated arguments of a macro call whose '(' is at start; nested parentheses kept."""
    depth, args, current = 0, [], ""
    for i in range(start, len(sql)):
        ch = sql[i]
        if ch == "(":
            depth += 1
            if depth == 1:
                continue
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(current.strip())
                return [a for a in args if a], i + 1
        elif ch == "," and depth == 1:
            args.append(current.strip())
            current = ""
            continue
        current += ch
    raise AssertionError(f"unbalanced macro call in {sql!r}")


def expand(sql: str, *, interval: str, variables: dict[str, list[str]]) -> str:
    literal = {"from": f"'{FROM.isoformat()}'", "to": f"'{TO.isoformat()}'"}
    sql = sql.replace("$__interval_ms", str(seconds(interval) * 1000)).replace("$__interval", interval)
    for name, values in variables.items():
        # Grafana quotes the values of a multi-value variable for SQL datasources.
        sql = re.sub(rf"\$\{{{name}\}}|\${name}\b", ",".join(f"'{v}'" for v in values), sql)
    out, pos = "", 0
    for match in re.finditer(r"\$__(\w+)", sql):
        if match.start() < pos:
            continue
        name = match[1]
        args, end = _args(sql, match.end()) if sql[match.end():match.end() + 1] == "(" else ([], match.end())
        if name == "timeFilter":
            text = f"{args[0]} BETWEEN {literal['from']} AND {literal['to']}"
        elif name in ("timeFrom", "timeTo"):
            text = literal[name[4:].lower()]
        elif name in ("timeGroup", "timeGroupAlias"):
            # With the datasource's timescaledb option, Grafana emits time_bucket.
            text = f"time_bucket('{seconds(args[1])}s', {args[0]})"
            text += ' AS "time"' if name == "timeGroupAlias" else ""
        elif name == "time":
            text = f'{args[0]} AS "time"'
        else:
            raise AssertionError(f"macro $__{name} is not expanded by this test; teach expand() first")
        out += sql[pos:match.start()] + text
        pos = end
    out += sql[pos:]
    assert "$" not in out, f"unexpanded variable left in {out!r}"
    return out


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # panels inside collapsed rows
    return found


def queries() -> list[tuple[str, str, str, str]]:
    """(dashboard, panel title, min interval, rawSql) for every SQL target and variable."""
    found = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                found.append((path.name, f"variable {variable['name']}", "1d", variable["query"]))
        for panel in panels(board):
            for target in panel.get("targets", []):
                found.append((path.name, panel["title"], panel.get("interval", "1m"), target["rawSql"]))
    return found


def test_expand_knows_grafana_macros() -> None:
    sql = expand("SELECT $__timeGroupAlias(d::date, $__interval) WHERE $__timeFilter(t) AND c IN ($c)",
                 interval="2d", variables={"c": ["KZT", "UZS"]})
    assert sql == ("SELECT time_bucket('172800s', d::date) AS \"time\" WHERE t BETWEEN "
                   f"'{FROM.isoformat()}' AND '{TO.isoformat()}' AND c IN ('KZT','UZS')")
    with pytest.raises(AssertionError, match="not expanded"):
        expand("SELECT $__unixEpochFilter(t)", interval="1d", variables={})


@pytest.fixture
def reader(conn: psycopg.Connection, tmp_path: Path, env: dict[str, str]) -> psycopg.Connection:
    """The test database with a month of quotes and some scrape runs, seen as Grafana's read-only role."""
    store_days(tmp_path, [FROM.date() + dt.timedelta(days=n) for n in range(0, 20, 2)])
    for hours in range(1, 13):
        finished = TO - dt.timedelta(days=5, hours=hours)
        failed = hours % 4 == 0
        add_scrape_run(conn, "failed" if failed else "ok", finished, [
            ("https://a.test/", "ok", 5 if hours == 12 else 0, 0 if hours == 12 else 5, None),
            ("https://b.test/", "failed" if failed else "not_modified", 0, 0,
             "timed out" if failed else None),
        ])
    conn.execute("SET ROLE fxticker_reader")
    return conn


@pytest.mark.parametrize("interval", [None, "7d"], ids=["panel-interval", "zoomed-out"])
def test_every_panel_query_runs_as_the_reader(reader: psycopg.Connection, interval: str | None) -> None:
    all_queries = queries()
    assert len(all_queries) >= 8
    results = {}
    for board, title, min_interval, raw in all_queries:
        sql = expand(raw, interval=interval or min_interval, variables={"currency": ["KZT", "UZS", "TMT"]})
        try:
            with reader.cursor(row_factory=dict_row) as cur:
                results[(board, title)] = cur.execute(sql.encode()).fetchall()
        except psycopg.Error as exc:
            pytest.fail(f"{board}: panel {title!r}: {exc.diag.message_primary}\n{sql}")
    latest = results[("rates.json", "Latest quote")]
    assert [(r["currency"], str(r["USD per unit"]), r["day"]) for r in latest] == [
        ("KZT", "0.00210", dt.date(2025, 12, 19)),
        ("TMT", "0.31054", dt.date(2025, 12, 19)),
        ("UZS", "0.00009", dt.date(2025, 12, 19)),
    ]
    assert [r["currency"] for r in results[("rates.json", "variable currency")]] == [
        "KGS", "KZT", "TJS", "TMT", "UZS"]
    by_day = results[("rates.json", "$currency/USD by day")]
    assert {r["metric"] for r in by_day} == {"KZT", "UZS", "TMT"}
    assert len(by_day) == (30 if interval is None else len({r["time"] for r in by_day}) * 3)
    runs = {r["status"]: r["runs"] for r in results[("scrape-health.json", "Runs by outcome")]}
    assert runs == {"ok": 9, "failed": 3}
    age = results[("scrape-health.json", "Since the last successful scrape")][0]["age"]
    assert age > 5 * 86400
    sources = {r["source"]: r for r in results[("scrape-health.json", "Sources")]}
    failing = sources["https://b.test/"]
    assert (failing["failures"], failing["last error"]) == (3, "timed out")


def test_provisioning_points_grafana_at_the_dashboards_and_the_reader() -> None:
    provisioning = ROOT / "dashboards" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "fxticker.yml").read_text())["datasources"]
    assert len(sources) == 1
    source = sources[0]
    assert (source["type"], source["user"], source["jsonData"]["timescaledb"]) == (
        "grafana-postgresql-datasource", "fxticker_grafana", True)
    # The password is the container's environment, never a value in the repository.
    assert source["secureJsonData"]["password"] == "$FXTICKER_GRAFANA_DB_PASSWORD"
    uids = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        uids.add(board["uid"])
        for panel in panels(board):
            assert panel["datasource"]["uid"] == source["uid"], f"{path.name}: {panel['title']}"
    assert len(uids) == len(DASHBOARDS) == 2
    provider = yaml.safe_load((provisioning / "dashboards" / "fxticker.yml").read_text())["providers"][0]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = {v.split(":")[0]: v.split(":")[1] for v in compose["services"]["grafana"]["volumes"]}
    assert mounts["./dashboards/json"] == provider["options"]["path"]
    assert mounts["./dashboards/provisioning"] == "/etc/grafana/provisioning"


def test_rates_over_time_are_bucketed_by_time_group() -> None:
    rates = json.loads((ROOT / "dashboards" / "json" / "rates.json").read_text())
    series = [p for p in panels(rates) if p["type"] == "timeseries"]
    assert series and all("$__timeGroupAlias(rate_date, $__interval)" in p["targets"][0]["rawSql"]
                          for p in series)
    # time_bucket on a date column takes whole days only.
    assert all(seconds(p["interval"]) % 86400 == 0 for p in series)
