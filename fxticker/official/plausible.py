"""Whether a bank's rates are believable beside the ones stored: a rate that moved more than FACTOR times
from its nearest stored neighbour (or from the day before it in the same answer) is refused, unless forced.

Why FACTOR = 5: a slipped decimal point or a missed nominal moves a rate ten times or more, and the
largest real moves of these currencies are far smaller (the som's liberalisation of September 2017 took
UZS from about 4,200 to 8,100 per USD in a day, under twice; the tenge's float of August 2015 and the
manat's devaluation of January 2015 moved less). Five times either way catches every slip and leaves room
for twice the worst day on record. A real jump beyond it (a redenomination) is stored with --force.
Rates per USD outside LOWEST_PER_USD..HIGHEST_PER_USD are refused by fxticker.official.answers, always.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

import psycopg

from fxticker.official import rate_store
from fxticker.official.answers import OfficialRate

FACTOR = Decimal(5)
# A stored rate further away than this says nothing about a new one (a currency may drift far in years).
NEIGHBOUR_SPAN = dt.timedelta(days=365)


def _apart(a: Decimal, b: Decimal) -> bool:
    return a > b * FACTOR or b > a * FACTOR


def doubt(conn: psycopg.Connection, rates: Sequence[OfficialRate]) -> str | None:
    """Why one of the rates is not believed beside its neighbours; None when all are."""
    groups: dict[tuple[str, str], list[OfficialRate]] = defaultdict(list)
    for rate in rates:
        groups[(rate.provider, rate.currency)].append(rate)
    for (provider, currency), group in groups.items():
        group.sort(key=lambda r: r.rate_date)
        for before, rate in itertools.pairwise(group):
            if _apart(rate.per_usd, before.per_usd):
                return _line(rate, before.rate_date, before.per_usd, "in the same answer")
        stored = rate_store.neighbours(conn, provider, currency, [r.rate_date for r in group], NEIGHBOUR_SPAN)
        for rate in group:
            for day, per_usd in stored.get(rate.rate_date, []):
                if _apart(rate.per_usd, per_usd):
                    return _line(rate, day, per_usd, "stored")
    return None


def _line(rate: OfficialRate, day: dt.date, per_usd: Decimal, where: str) -> str:
    return (f"{rate.provider} {rate.rate_date.isoformat()}: {rate.per_usd:f} {rate.currency} per USD is more "
            f"than {FACTOR} times away from {per_usd:f} of {day.isoformat()} ({where}): not believed "
            "(--force stores it)")
