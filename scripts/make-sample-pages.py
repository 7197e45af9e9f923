#!/usr/bin/env python3
"""Write the bundled sample pages for 1 August to 27 November 2025 (fxticker/samples/sample-*.txt).

The values are invented: a seeded random walk near plausible rates that ends where the older,
hand-written sample pages (28 November onwards) begin. A week in September is left out so the
dashboard shows a gap, and some days get a second, revised page. Run it again to rebuild the same files.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "fxticker" / "samples"
FIRST, LAST = dt.date(2025, 8, 1), dt.date(2025, 11, 27)
MISSING = {dt.date(2025, 9, 15) + dt.timedelta(days=i) for i in range(7)}
# Units per USD on LAST, walking backwards in time: close to the first hand-written page's quotes.
END = {"KGS": 87.41, "KZT": 507.6, "TJS": 9.172, "UZS": 12_050.0, "TMT": 3.51}
DAILY_MOVE = {"KGS": 0.0004, "KZT": 0.004, "TJS": 0.0015, "UZS": 0.002, "TMT": 0.0}
FIVE_PLACES = Decimal("0.00001")
TEXT = "Sample page for fxticker\n\nThis page was written for the fxticker project to show the ticker format. " \
       "Its text is filler, and its rates are invented.\n"


def quote(per_usd: float) -> Decimal:
    return (Decimal(1) / Decimal(repr(per_usd))).quantize(FIVE_PLACES, rounding=ROUND_HALF_EVEN)


def change(now: Decimal, before: Decimal | None) -> str:
    if before is None or now == before:
        return "0"
    pct = ((now / before - 1) * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    if pct == 0:
        return "-0" if now < before else "0"
    return format(pct.normalize(), "f")


def page(quotes: dict[str, tuple[Decimal, str]], day: dt.date) -> str:
    items = [f"\u2022 {c}/USD = {format(r, 'f')} {ch}%" for c, (r, ch) in quotes.items()] * 4
    return items[0] + "\n" + "".join(f"  {line}\n" for line in items[1:]) + f"{day:%d %B %Y}\n\n" + TEXT


def main() -> None:
    rng = random.Random(2025)
    days = [FIRST + dt.timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    level = dict(END)
    walk: dict[dt.date, dict[str, float]] = {}
    for day in reversed(days):
        walk[day] = dict(level)
        for code, move in DAILY_MOVE.items():
            level[code] *= 1 + rng.gauss(0, move)
    previous: dict[str, Decimal] = {}
    for day in days:
        if day in MISSING:
            continue
        rates = {code: quote(value) for code, value in walk[day].items()}
        quotes = {code: (rate, change(rate, previous.get(code))) for code, rate in rates.items()}
        (OUT / f"sample-{day}a.txt").write_text(page(quotes, day), encoding="utf-8")
        if day.day in (6, 19, 27):
            # The site revises the ticker during the day: a later page shows a new tenge and somoni rate.
            revised = dict(quotes)
            for code in ("KZT", "TJS"):
                rate = quote(walk[day][code] * (1 + rng.choice((-1, 1)) * 3 * DAILY_MOVE[code]))
                revised[code] = (rate, change(rate, previous.get(code)))
            (OUT / f"sample-{day}b.txt").write_text(page(revised, day), encoding="utf-8")
            rates.update({code: revised[code][0] for code in ("KZT", "TJS")})
        previous = rates


if __name__ == "__main__":
    main()
