"""Hostile paths and sources: devices, FIFOs, odd names, unsearchable folders, full disks.

Each is refused with one line naming the input and the reason, and never reads without bound, hangs or
stops the rest of a run. The commands run as subprocesses, with a memory limit and a timeout, so that a
regression fails the test instead of exhausting the machine.
"""

from __future__ import annotations

import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from fxticker import settings
from fxticker.collect.sources import FetchError, check_source
from fxticker.settings import SettingError
from tests.pages import FIVE, text_page

FXTICKER = [sys.executable, "-m", "fxticker"]
MEMORY_LIMIT = 1024 * 1024 * 1024


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def fx(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FXTICKER, *args], env=env, capture_output="stdout" not in kwargs, text=True,
                          timeout=60, preexec_fn=_limit_memory, check=False, **kwargs)  # type: ignore[call-overload]


def assert_one_line(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


def test_parse_of_dev_zero_and_a_fifo_fails_at_once(tmp_path: Path, env: dict[str, str]) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = fx(["parse", "/dev/zero", str(fifo)], env)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "/dev/zero: not a regular file (a character device)",
        f"{fifo}: not a regular file (a FIFO)",
    ]


def test_scrape_of_dev_zero_is_a_failure(env: dict[str, str], db_url: str) -> None:
    result = fx(["scrape"], {**env, "FXTICKER_SOURCES": "/dev/zero"})
    assert result.returncode == 1, result.stdout
    assert result.stdout.splitlines() == ["failed        /dev/zero: not a regular file (a character device)"]
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT status, error FROM scrape_source_run").fetchone()
    assert row == ("failed", "not a regular file (a character device)")


@pytest.mark.parametrize("source", ["file:///etc/passwd", "ftp://host/page", "javascript:alert(1)",
                                    "FILE:page.txt", "mailto:a@b.example"])
def test_only_http_urls_and_paths_are_sources(source: str, env: dict[str, str], tmp_path: Path) -> None:
    scheme = source.split(":")[0]
    reason = (f"{source} is neither an http(s) URL nor a file path (a {scheme}: URL; "
              f"write ./{source} for a file whose name has a colon)")
    with pytest.raises(FetchError) as refused:
        check_source(source)
    assert str(refused.value) == reason
    # The one rule holds for the setting and the command line alike.
    setting = f"https://example.org/,{source}"
    with pytest.raises(SettingError) as bad_setting:
        settings.load({"FXTICKER_SOURCES": setting})
    assert str(bad_setting.value) == f"FXTICKER_SOURCES='{setting}': {reason}"
    for command in (["ingest", source], ["parse", source]):
        result = fx(command, env, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.splitlines() == [f"fxticker: {reason}"]
    scrape = fx(["scrape"], {**env, "FXTICKER_SOURCES": source})
    assert scrape.returncode == 1
    assert scrape.stderr.splitlines() == [f"fxticker: FXTICKER_SOURCES='{source}': {reason}"]


def test_an_http_url_needs_a_host(env: dict[str, str]) -> None:
    for source in ("https:///page", "http://[::1/"):
        with pytest.raises(FetchError, match=r"neither an http\(s\) URL nor a file path \(no host name\)$"):
            check_source(source)
    result = fx(["ingest", "https:///page"], env)
    assert result.stderr.splitlines() == [
        "fxticker: https:///page is neither an http(s) URL nor a file path (no host name)"]


def test_ingest_of_an_empty_path_is_refused(env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    (tmp_path / "p.txt").write_text(text_page())
    result = fx(["ingest", str(tmp_path / "p.txt"), ""], env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["fxticker: an empty source: give an http(s) URL or a file path"]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM observation").fetchone() == (0,)


def test_a_file_name_that_is_not_utf8_is_stored_escaped(env: dict[str, str], tmp_path: Path,
                                                        db_url: str) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    odd = os.path.join(os.fsencode(folder), b"caf\xe9-\xff.txt")
    with open(odd, "w") as handle:
        handle.write(text_page())
    (folder / "z.txt").write_text(text_page([(c, "0.00194" if c == "KZT" else r, ch) for c, r, ch in FIVE]))
    result = fx(["ingest", str(folder)], env)
    assert result.returncode == 0, result.stderr
    assert "2 page(s) read, 6 observation(s) new, 4 duplicate(s), 0 page(s) rejected" in result.stderr
    with psycopg.connect(db_url) as conn:
        sources = conn.execute("SELECT DISTINCT first_source FROM observation ORDER BY 1").fetchall()
    assert sources == [(f"{folder}/caf\\xe9-\\xff.txt",), (f"{folder}/z.txt",)]


def test_a_name_too_long_is_one_rejected_page(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text(text_page())
    long_name = str(tmp_path / ("x" * 5000))
    result = fx(["ingest", long_name, str(tmp_path / "p.txt")], env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"rejected {long_name}: File name too long" in result.stderr.splitlines()
    assert "2 page(s) read, 5 observation(s) new, 0 duplicate(s), 1 page(s) rejected" in result.stderr


@pytest.fixture
def unsearchable() -> Iterator[Path]:
    """A folder `nobody` can open, holding a subfolder it may list but not search and one it may not list.

    Root searches anything, so the commands that meet these folders run as `nobody` (setpriv) when the
    tests run as root.
    """
    top = Path(tempfile.mkdtemp(prefix="fxticker-perm-"))
    try:
        top.chmod(0o755)
        (top / "a.txt").write_text(text_page())
        listed = top / "listed"
        listed.mkdir()
        (listed / "b.txt").write_text(text_page())
        closed = top / "closed"
        closed.mkdir()
        (closed / "c.txt").write_text(text_page())
        for path in (top, top / "a.txt", listed, listed / "b.txt", closed, closed / "c.txt"):
            if os.geteuid() == 0:
                os.chown(path, 65534, 65534)
        (top / "a.txt").chmod(0o644)
        listed.chmod(stat.S_IRUSR)  # names visible, files unreachable
        closed.chmod(0)
        yield top
    finally:
        for folder in (top / "listed", top / "closed"):
            folder.chmod(0o700)
        shutil.rmtree(top)


def as_unprivileged(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", *args]


def test_files_that_cannot_be_reached_are_rejected_one_by_one(unsearchable: Path, tmp_path: Path) -> None:
    # parse needs no database, so `nobody` can run it; ingest rejects through the same read_file.
    assert os.access(sys.executable, os.X_OK)
    env = {"PATH": os.environ["PATH"], "HOME": "/", "FXTICKER_DATA_DIR": "/nonexistent"}
    result = subprocess.run(as_unprivileged([*FXTICKER, "parse", str(unsearchable)]), env=env,
                            capture_output=True, text=True, timeout=60, check=False, cwd="/")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{unsearchable}/closed: Permission denied",
        f"{unsearchable}/listed/b.txt: Permission denied",
    ]
    assert len(result.stdout.splitlines()) == 5  # a.txt's five quotes


@pytest.mark.parametrize("command", [["export"], ["parse", "PAGE"]])
def test_a_full_disk_on_stdout_is_one_line(command: list[str], env: dict[str, str], tmp_path: Path) -> None:
    page = tmp_path / "p.txt"
    page.write_text(text_page())
    args = [str(page) if arg == "PAGE" else arg for arg in command]
    with open("/dev/full", "w") as full:
        result = fx(args, env, stdout=full, stderr=subprocess.PIPE)
    assert result.returncode == 1
    assert_one_line(result.stderr)
    assert result.stderr == "fxticker: cannot write to standard output: No space left on device\n"
