"""The official-rate providers in the Frankfurter-style API's registry (fxticker.rates.registry): NBK, CBU,
NBKR, NBT and PEG, each quoting its own currency from official_rate.

They take part only when a request names them (`providers=`) or asks `expand=providers`: without
`providers`, /v2 answers with the ticker's rates, as before (RateProvider.default is False).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Context, Decimal

import psycopg

from fxticker import vocab
from fxticker.official.banks import PEGS, PROVIDERS, Bank
from fxticker.rates import registry

# USD per unit is 1/per_usd; 28 significant digits keep it far beyond any published digit.
_INVERSE = Context(prec=28)

_CURRENCIES = "SELECT DISTINCT currency FROM official_rate WHERE provider = %(provider)s"
_SPANS = """
SELECT currency, min(rate_date), max(rate_date) FROM official_rate
WHERE provider = %(provider)s AND currency = ANY(%(currencies)s) GROUP BY currency
"""
_QUOTES = """
SELECT rate_date, currency, per_usd FROM official_rate
WHERE provider = %(provider)s AND currency = ANY(%(currencies)s)
  AND rate_date >= %(start)s AND rate_date <= %(end)s
ORDER BY rate_date
"""
_ON_OR_BEFORE = ("SELECT max(rate_date) FROM official_rate"
                 " WHERE provider = %(provider)s AND rate_date <= %(on)s")


def _reader(p: Bank) -> registry.RateProvider:
    key = p.key

    def currencies(conn: psycopg.Connection) -> list[str]:
        return sorted(row[0] for row in conn.execute(_CURRENCIES, {"provider": key}))

    def spans(conn: psycopg.Connection, codes: Sequence[str]) -> registry.Spans:
        rows = conn.execute(_SPANS, {"provider": key, "currencies": list(codes)})
        return {code: (first, last) for code, first, last in rows}

    def quotes(conn: psycopg.Connection, codes: Sequence[str], start: dt.date,
               end: dt.date) -> dict[dt.date, dict[str, Decimal]]:
        days: dict[dt.date, dict[str, Decimal]] = {}
        params = {"provider": key, "currencies": list(codes), "start": start, "end": end}
        for day, code, per_usd in conn.execute(_QUOTES, params):
            days.setdefault(day, {})[code] = _INVERSE.divide(Decimal(1), per_usd)
        return days

    def latest_day(conn: psycopg.Connection, on: dt.date) -> dt.date | None:
        row = conn.execute(_ON_OR_BEFORE, {"provider": key, "on": on}).fetchone()
        return row[0] if row else None

    return registry.RateProvider(
        key=vocab.v2_provider_key(key), name=p.name, country_code=p.country_code,
        rate_type="fixed" if key in PEGS else "official", pivot_currency=p.currency, data_url=p.data_url,
        terms_url=None, publish_cadence="daily", currencies=currencies, spans=spans, quotes=quotes,
        latest_day=latest_day, default=False)


def providers() -> list[registry.RateProvider]:
    """The official providers, in the banks' order (fxticker.official.banks)."""
    return [_reader(p) for p in PROVIDERS.values()]
