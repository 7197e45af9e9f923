"""The central banks' real answers kept for the tests (tests/central_banks/), and a bank's error page."""

from __future__ import annotations

from pathlib import Path

BANKS = Path(__file__).resolve().parent / "central_banks"

# What a bank's server sends instead of rates when it fails: a page, not data.
HTML_ERROR = (b"<!DOCTYPE html><html><head><title>Error</title></head>"
              b"<body><h1>Service unavailable</h1></body></html>")
