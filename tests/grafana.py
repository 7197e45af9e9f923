"""The Grafana dashboards as data, and Grafana's macros expanded as Grafana does before the SQL reaches
PostgreSQL: expand() covers the macros the dashboards use (as Grafana's PostgreSQL datasource with the
TimescaleDB option documents them) and fails on any other, so a dashboard cannot use a macro the tests
do not understand.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

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
