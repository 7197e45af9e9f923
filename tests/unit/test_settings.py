"""Settings: one table, read and checked once at start, documented in the README row for row."""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from fxticker import settings
from fxticker.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"

# A value each setting must refuse, and the reason it must give. Every setting has one (checked below),
# so a new setting cannot go unchecked. Short values: a message quotes at most 40 characters of one, so
# not a path inside the checkout, whose depth varies.
BAD: dict[str, tuple[str, str]] = {
    "DATABASE_URL": ("http://db.example/fxticker", "must be a postgresql:// URL"),
    "DATABASE_READ_URL": ("host=a port", "not a libpq connection string"),
    "FXTICKER_DATA_DIR": ("/dev/null", "exists and is not a directory"),
    "FXTICKER_PG_BINDIR": ("/", "holds no initdb or pg_ctl"),
    "FXTICKER_SOURCES": ("https://a.example/,ftp://b.example/x", "is neither an http(s) URL nor a file path"),
    "FXTICKER_INTERVAL": ("0", "must be from 1 to 604800"),
    "FXTICKER_JITTER": ("-1", "must be from 0 to 86400"),
    "FXTICKER_FETCH_TIMEOUT": ("2.5", "not a whole number"),
    "FXTICKER_FETCH_ATTEMPTS": ("1000", "must be from 1 to 10"),
    "FXTICKER_RETRY_BACKOFF": ("nan", "must be from 0 to 60"),
    "FXTICKER_TIMEZONE": ("Mars/Olympus", "not a known time zone"),
    "FXTICKER_MAX_PAGE_BYTES": ("1e9", "not a whole number"),
    "FXTICKER_ARCHIVE_URL": ("http://archive.example/?collection=1", "must not carry a query or a fragment"),
    "FXTICKER_ARCHIVE_DELAY": ("-0.5", "must be from 0 to 3600"),
    "FXTICKER_BACKFILL_ON_START": ("yes", "not a whole number (from 0 to 1)"),
    "FXTICKER_POOL_SIZE": ("1000000", "must be from 1 to 100"),
    "FXTICKER_WORKERS": ("100000", "must be from 1 to 64"),
    "FXTICKER_HEALTH_MAX_AGE": ("soon", "not a whole number"),
    "PROMETHEUS_MULTIPROC_DIR": ("/dev/null", "exists and is not a directory"),
    "FXTICKER_OFFICIAL_PAUSE": ("-0.5", "must be from 0 to 60"),
    "FXTICKER_OFFICIAL_ORIGINS": ("nbk=http://127.0.0.1:1/rss", "is not an origin such as https://host:port"),
    "FXTICKER_LOG_LEVEL": ("LOUD", "must be one of DEBUG, INFO, WARNING, ERROR"),
}

COMMANDS = [
    ["serve"], ["parse", "x.html"], ["ingest", "x.html"], ["migrate"], ["sample"], ["scrape"], ["schedule"],
    ["export"], ["db", "status"], ["official", "fetch"], ["backfill"],
]


def readme_rows() -> dict[str, tuple[str, str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z_]+)` \| (.*?) \| (.*?) \| (.*) \|$", section, re.MULTILINE)
    return {name: (default, accepted, meaning) for name, default, accepted, meaning in rows}


def test_readme_documents_every_setting_with_its_default_range_and_meaning() -> None:
    def shown(setting: settings.Setting[object]) -> str:
        return "(unset)" if setting.shown_default is None else f"`{setting.shown_default}`"

    assert readme_rows() == {
        s.name: (shown(s), s.parse.allowed, s.help) for s in settings.SETTINGS
    }


def test_an_empty_environment_gives_every_default_and_each_default_passes_its_own_check() -> None:
    conf = settings.load({})
    for setting in settings.SETTINGS:
        assert getattr(conf, setting.field) == setting.default, setting.name
        if setting.shown_default is not None:
            assert setting.parse(setting.shown_default) == setting.default, setting.name
    assert conf.timezone == zoneinfo.ZoneInfo("Asia/Almaty")
    assert conf.workers == 2 and conf.jitter == 60.0 and conf.sources == ("https://timesca.com/",)
    assert conf.scrape_max_age == 3 * 1800


def test_every_setting_has_a_refused_value_in_this_test() -> None:
    assert set(BAD) == {s.name for s in settings.SETTINGS}


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_value_is_refused_with_a_line_naming_the_setting(name: str) -> None:
    raw, reason = BAD[name]
    with pytest.raises(settings.SettingError) as caught:
        settings.load({name: raw})
    message = str(caught.value)
    assert "\n" not in message and reason in message
    setting = next(s for s in settings.SETTINGS if s.name == name)
    prefix = f"{name}=(not shown): " if setting.secret else f"{name}='{raw}': "
    assert message.startswith(prefix), message


def test_a_database_url_is_never_echoed_it_may_hold_a_password() -> None:
    with pytest.raises(settings.SettingError) as caught:
        settings.load({"DATABASE_URL": "mysql://admin:hunter2@db/x"})
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("raw", ["1\x1b[2J", "Asia/Almaty\x00"])
def test_control_characters_are_refused_and_not_echoed_raw(raw: str) -> None:
    with pytest.raises(settings.SettingError) as caught:
        settings.load({"FXTICKER_TIMEZONE": raw})
    assert "contains a control character" in str(caught.value)
    assert str(caught.value).isprintable()


def test_values_are_typed_and_blank_is_unset() -> None:
    conf = settings.load({
        "FXTICKER_WORKERS": " 64 ", "FXTICKER_LOG_LEVEL": "debug", "FXTICKER_RETRY_BACKOFF": "0.5",
        "FXTICKER_SOURCES": " http://a/ , /tmp/x.html,,http://a/ ", "FXTICKER_HEALTH_MAX_AGE": "  ",
        "FXTICKER_TIMEZONE": "UTC",
    })
    assert conf.workers == 64 and conf.log_level == "DEBUG" and conf.retry_backoff == 0.5
    assert conf.sources == ("http://a/", "/tmp/x.html")
    assert conf.health_max_age is None and conf.timezone == zoneinfo.ZoneInfo("UTC")


def test_settings_are_frozen() -> None:
    conf = settings.load({})
    with pytest.raises(AttributeError):
        conf.workers = 100000  # type: ignore[misc]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_refuses_a_bad_setting_before_doing_anything(
    command: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FXTICKER_LOG_LEVEL", "LOUD")
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1
    assert result.output == (
        "fxticker: FXTICKER_LOG_LEVEL='LOUD': must be one of DEBUG, INFO, WARNING, ERROR\n")
    assert not (tmp_path / ".fxticker").exists(), "no embedded database was started"


def test_the_workers_option_and_setting_share_one_range() -> None:
    serve = main.get_command(click.Context(main), "serve")
    assert serve is not None
    option = next(p for p in serve.params if p.name == "workers")
    assert isinstance(option.type, click.IntRange)
    assert (option.type.min, option.type.max) == (settings.WORKERS.low, settings.WORKERS.high)
    result = CliRunner().invoke(main, ["serve", "--workers", str(settings.WORKERS.high + 1)])
    assert result.exit_code == 2 and "--workers" in result.output


def test_the_readme_shows_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text
