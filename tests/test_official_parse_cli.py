"""`fxticker official parse`: the banks' parsers from the command line, one JSON line per rate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.bank_answers import BANKS, HTML_ERROR


def test_cli_parse_prints_json_lines_and_names_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "error.html"
    bad.write_bytes(HTML_ERROR)
    done = subprocess.run([sys.executable, "-m", "fxticker", "official", "parse", "nbkr",
                           str(BANKS / "nbkr-daily-2026-05-24.xml"), str(bad)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {"provider": "nbkr", "date": "2026-05-24", "currency": "KGS", "per_usd": "87.4500"}]
    assert done.stderr.splitlines() == [f"{bad}: not NBKR CurrencyRates XML (root element <html>)"]


def test_a_provider_key_is_one_key_in_two_spellings_and_any_case_is_taken() -> None:
    from fxticker import vocab
    from fxticker.official.banks import PROVIDERS, provider
    from fxticker.rates import lineup

    registry = lineup.standard()
    for key, bank in PROVIDERS.items():
        assert key == vocab.provider_key(key) == bank.key  # fxticker's own spelling: nbk
        for typed in (key, key.upper(), key.capitalize()):
            assert provider(typed) is bank
            found = registry.find(typed)
            assert found is not None and found.key == vocab.v2_provider_key(key) == key.upper()  # /v2: NBK
    done = subprocess.run([sys.executable, "-m", "fxticker", "official", "parse", "NBKR",
                           str(BANKS / "nbkr-daily-2026-05-24.xml")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["provider"] == "nbkr"
