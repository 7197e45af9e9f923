"""Every setting is documented in the README's configuration table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fxticker import settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_documents_every_setting_and_no_other() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", section, re.MULTILINE))
    assert documented == {s.name for s in settings.SETTINGS}


def test_readme_shows_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text


@pytest.mark.parametrize(("raw", "message"), [("abc", "is not a whole number"), ("0", "greater than zero")])
def test_positive_int_settings_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings.positive_int("FXTICKER_INTERVAL", {"FXTICKER_INTERVAL": raw})
