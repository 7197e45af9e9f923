"""What the two Frankfurter-compatible APIs (/v1 and /v2) share: the currencies a request may name, its
base and quotes resolved against them as Frankfurter answers (422 for a code that is not ISO 4217, 404 for
one without rates), rates written as JSON numbers, and the amount-free rows kept per worker."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
from cachetools import LRUCache
from flask import current_app

from fxticker import vocab
from fxticker.rates import pricing
from fxticker.rates.registry import RateProvider, Registry
from fxticker.vocab import USD
from fxticker.web import cache, params
from fxticker.web.errors import BadInput, NotFound

T = TypeVar("T")

# A bound on the amount-free rows kept per worker (a row is about 200 bytes): a year of five
# currencies is under 2,200 rows.
COMPUTED_ROWS = 100_000


def number(value: Decimal) -> int | float:
    """A rounded rate as a JSON number (pricing.json_number: 12500, 518.13)."""
    return pricing.json_number(value)


def number_text(value: Decimal) -> str:
    """number(value) as the JSON answers write it, for the CSV: 9.203, not the Decimal's 9.2030; 12500."""
    return json.dumps(number(value))


class Computed:
    """Amount-free rows per query and data version, so a new `amount` costs a multiplication per row.

    The response cache (fxticker.web.cache) keys whole bodies by every argument; without this, each new
    amount recomputed the series. Thread-safe like the response cache; older versions are dropped.
    """

    def __init__(self, max_rows: int = COMPUTED_ROWS) -> None:
        self._lock = threading.Lock()
        self._rows: LRUCache[tuple[Any, ...], list[Any]] = LRUCache(maxsize=max_rows,
                                                                     getsizeof=lambda r: max(1, len(r)))
        self._version = 0

    def get(self, version: int, key: tuple[Any, ...], compute: Callable[[], list[T]]) -> list[T]:
        with self._lock:
            if version > self._version:
                self._rows.clear()
                self._version = version
            found = self._rows.get(key)
        if found is not None:
            return found
        found = compute()
        if len(found) <= COMPUTED_ROWS // 8:
            with self._lock:
                if version == self._version:
                    self._rows[key] = found
        return found


def computed(conn: psycopg.Connection, key: tuple[Any, ...], compute: Callable[[], list[T]]) -> list[T]:
    """compute(), or its rows from this app's (this worker's, this database's) earlier call with key.

    The data version is the one the response cache read for this request.
    """
    store: Computed = current_app.extensions.setdefault("fxticker_computed_rates", Computed())
    return store.get(cache.request_version(lambda: conn), key, compute)


def providers() -> Registry:
    """The providers this app serves (built by create_app, fxticker.rates.lineup)."""
    found: Registry = current_app.extensions["fxticker_providers"]
    return found


def known_currencies(conn: psycopg.Connection, sources: Sequence[RateProvider]) -> list[str]:
    """USD and every code the providers quote, sorted; a 404 while nothing is stored at all."""
    codes = computed(conn, ("currencies", *(p.key for p in sources)),
                     lambda: sorted({USD, *(c for p in sources for c in p.currencies(conn))}))
    if codes == [USD]:
        raise NotFound("no rates are stored yet")
    return codes


def iso_code(name: str, raw: str) -> str:
    """A three-letter code (any case) that is ISO 4217; else a 422 (Frankfurter: 'invalid currency')."""
    code = params.parse_code(name, raw)
    if vocab.iso_currency(code) is None:
        raise BadInput(f"'{name}': {code} is not an ISO 4217 currency code")
    return code


def resolve_base(name: str, raw: str, known: Sequence[str]) -> str:
    """The base: an ISO code without rates here is a 404, as Frankfurter answers for no data."""
    code = iso_code(name, raw)
    if code not in known:
        raise NotFound(f"no rates for {code}; known: {', '.join(known)}")
    return code


def resolve_quotes(name: str, raw: str, known: Sequence[str]) -> list[str]:
    """Listed ISO codes with rates here, in the order given; codes without rates are left out, and only
    when none remains is it a 404. A code that is not ISO 4217 is a 422."""
    codes = params.parse_codes(name, raw)
    for code in codes:
        if vocab.iso_currency(code) is None:
            raise BadInput(f"'{name}': {code} is not an ISO 4217 currency code")
    kept = [c for c in codes if c in known]
    if not kept:
        raise NotFound(f"no rates for {', '.join(codes[:5])}; known: {', '.join(known)}")
    return kept
