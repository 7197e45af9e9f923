"""The rate providers behind the Frankfurter-style API (/v2/providers, `providers=`, `expand=providers`).

The ticker is one provider. Another source of daily USD-per-unit quotes joins by building a `RateProvider`
(the central banks' official rates, for instance: keys NBK, CBU, NBKR, NBT, and pegs) with the functions
that read its own tables, and by being listed in the `Registry` an app is built with (fxticker.rates.lineup;
nothing registers itself when imported):

    Registry([TICKER, RateProvider(key="NBK", name="National Bank of Kazakhstan", country_code="KZ",
                      rate_type="official", pivot_currency="KZT", data_url=..., terms_url=None,
                      publish_cadence="daily", currencies=..., spans=..., quotes=..., latest_day=...)])

- `currencies(conn)`: the codes it has quotes for (USD is implied and never listed);
- `spans(conn, codes)`: each of those codes' first and last day with a quote;
- `quotes(conn, codes, start, end)`: {day: {code: USD per one unit}} for the days in [start, end] that
  have one (a provider quoting against another pivot converts to USD per unit here);
- `latest_day(conn, day)`: the latest day on or before `day` with any of its quotes, or None.

The API keeps what it computed per data version (sql/004_data_version.sql): a provider whose quotes
change must bump data_version in the same transaction, as every change to `observation` does.

The API computes every rate from these quotes (fxticker.rates.pricing): with several providers selected, a
currency's quote on a day comes from the first of them in registration order that has one, and each row
names that provider under `expand=providers`, beside every other provider's rate for the pair. `providers=`
selects by key (case-insensitive); without it every provider registered with default=True takes part. The
ticker comes first, so it stays the default source.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

from fxticker import vocab
from fxticker.storage import daily

Spans = dict[str, tuple[dt.date, dt.date]]


@dataclass(frozen=True)
class RateProvider:
    """One provider: Frankfurter's /v2/providers fields and the functions that read its quotes."""

    key: str
    name: str
    country_code: str | None
    rate_type: str | None
    pivot_currency: str | None
    data_url: str | None
    terms_url: str | None
    publish_cadence: str | None
    currencies: Callable[[psycopg.Connection], list[str]]
    spans: Callable[[psycopg.Connection, Sequence[str]], Spans]
    quotes: Callable[[psycopg.Connection, Sequence[str], dt.date, dt.date], dict[dt.date, dict[str, Decimal]]]
    latest_day: Callable[[psycopg.Connection, dt.date], dt.date | None]
    # False: takes part only when a request names it (the official providers: without `providers=`
    # the API answers with the ticker's rates alone).
    default: bool = True

    def daily_quotes(self, conn: psycopg.Connection, currencies: Sequence[str], start: dt.date,
                     end: dt.date) -> dict[dt.date, dict[str, Decimal]]:
        return self.quotes(conn, currencies, start, end)

    def day_on_or_before(self, conn: psycopg.Connection, on: dt.date) -> dt.date | None:
        return self.latest_day(conn, on)

    def describe(self, conn: psycopg.Connection, today: dt.date) -> dict[str, Any] | None:
        """The /v2/providers entry (Frankfurter's current shape), or None while it has no quotes."""
        codes = self.currencies(conn)
        spans = self.spans(conn, codes)
        if not spans:
            return None
        end = max(last for _, last in spans.values())
        return {
            "key": self.key,
            "name": self.name,
            "country_code": self.country_code,
            "rate_type": self.rate_type,
            "pivot_currency": self.pivot_currency,
            "data_url": self.data_url,
            "terms_url": self.terms_url,
            "start_date": min(first for first, _ in spans.values()).isoformat(),
            "end_date": end.isoformat(),
            "publish_cadence": self.publish_cadence,
            # Frankfurter counts scheduled days strictly between end_date and today.
            "publishes_missed": max(0, (today - end).days - 1) if self.publish_cadence == "daily" else None,
            "currencies": sorted({vocab.USD, *spans}),
        }


class Registry:
    """The providers one app serves, in the order that decides which quote a day uses."""

    def __init__(self, providers: Iterable[RateProvider] = ()) -> None:
        self._providers: dict[str, RateProvider] = {}
        for provider in providers:
            self.register(provider)

    def register(self, provider: RateProvider) -> None:
        """Add a provider; its key (upper case letters and digits) must be new."""
        if not provider.key.isalnum() or provider.key != vocab.v2_provider_key(provider.key):
            raise ValueError(f"provider key {provider.key!r} must be upper-case letters and digits")
        if provider.key in self._providers:
            raise ValueError(f"provider {provider.key} is already registered")
        self._providers[provider.key] = provider

    def registered(self) -> list[RateProvider]:
        """Every provider, in registration order."""
        return list(self._providers.values())

    def defaults(self) -> list[RateProvider]:
        """The providers a request without `providers=` uses, in registration order."""
        return [p for p in self._providers.values() if p.default]

    def find(self, key: str) -> RateProvider | None:
        return self._providers.get(vocab.v2_provider_key(key))


# The ticker's quotes: its daily_rate view (fxticker.storage.daily).
TICKER = RateProvider(
    key="TIMESCA",
    name="The Times of Central Asia currency ticker",
    country_code=None,
    rate_type="market",
    pivot_currency=vocab.USD,
    data_url="https://timesca.com/",
    terms_url=None,
    publish_cadence="daily",
    currencies=daily.stored_currencies,
    spans=daily.currency_spans,
    quotes=daily.daily_quotes,
    latest_day=daily.day_on_or_before,
)
