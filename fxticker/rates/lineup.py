"""The providers an app serves, listed once: the ticker first, so that it stays the default source and
wins a day another provider also quotes, then the central banks (named by a request's `providers=`)."""

from __future__ import annotations

from fxticker.rates import bank_provider
from fxticker.rates.registry import TICKER, Registry


def standard() -> Registry:
    return Registry([TICKER, *bank_provider.providers()])
