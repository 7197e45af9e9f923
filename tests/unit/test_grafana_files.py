"""Grafana's files: the macro expansion the panel test relies on, provisioning that points Grafana at
the dashboards and the reader login, and time series bucketed by whole days."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.grafana import DASHBOARDS, FROM, ROOT, TO, expand, panels, seconds


def test_expand_knows_grafana_macros() -> None:
    sql = expand("SELECT $__timeGroupAlias(d::date, $__interval) WHERE $__timeFilter(t) AND c IN ($c)",
                 interval="2d", variables={"c": ["KZT", "UZS"]})
    assert sql == ("SELECT time_bucket('172800s', d::date) AS \"time\" WHERE t BETWEEN "
                   f"'{FROM.isoformat()}' AND '{TO.isoformat()}' AND c IN ('KZT','UZS')")
    with pytest.raises(AssertionError, match="not expanded"):
        expand("SELECT $__unixEpochFilter(t)", interval="1d", variables={})


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
