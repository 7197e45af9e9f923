"""File sources: read up to the limit, devices and directories refused by their kind, a name with a
colon read as a path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fxticker.collect.sources import FetchError, check_source, read_file
from tests.pages import text_page


def test_a_file_is_read_up_to_the_limit_whatever_its_size_claims() -> None:
    # procfs files say 0 bytes and hold more: the size check alone would read them whole.
    assert os.stat("/proc/self/maps").st_size == 0
    with pytest.raises(FetchError, match=r"^/proc/self/maps: over the 100-byte limit"):
        read_file(Path("/proc/self/maps"), 100)


def test_devices_and_directories_are_refused_with_their_kind(tmp_path: Path) -> None:
    # /dev/zero and FIFOs are read only by the subprocesses below, which have a memory limit and a timeout.
    cases = {Path("/dev/null"): "a character device", tmp_path: "a directory"}
    for path, kind in cases.items():
        with pytest.raises(FetchError, match=f"^{path}: not a regular file \\({kind}\\)$"):
            read_file(path, 1000)


def test_a_file_whose_name_has_a_colon_is_read_as_a_path(tmp_path: Path) -> None:
    (tmp_path / "rates:page.txt").write_text(text_page())
    assert check_source("HTTPS://example.org/") == "HTTPS://example.org/"
    assert check_source("./rates:page.txt") == "./rates:page.txt"
    assert read_file(tmp_path / "rates:page.txt", 10_000).body == text_page().encode()
