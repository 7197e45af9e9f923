"""The official-rate providers: one central bank (or peg) per ticker currency, and where each answers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from fxticker import vocab
from fxticker.inputs import shown


@dataclass(frozen=True)
class Bank:
    key: str
    name: str
    currency: str  # the bank's own currency; its rate is stored as units of it per USD
    country_code: str
    data_url: str  # the page a person reads, as Frankfurter's /v2/providers gives it
    origin: str  # scheme and host of the machine-readable endpoints; FXTICKER_OFFICIAL_ORIGINS overrides
    weekdays_only: bool  # True: no rate for Saturdays and Sundays (NBT answers them with Friday's copy)
    # The scheduler asks once a day at this UTC time, after the bank's usual publication.
    fetch_at: dt.time
    coverage_start: dt.date
    days_ahead: int = 0  # NBKR publishes the rate of tomorrow


@dataclass(frozen=True)
class Peg:
    """A fixed rate: nothing to fetch, the same rate every day since `since`."""

    per_usd: Decimal
    since: dt.date
    authority: str


PROVIDERS: dict[str, Bank] = {
    p.key: p
    for p in (
        Bank("nbk", "National Bank of Kazakhstan", "KZT", "KZ",
                 "https://nationalbank.kz/en/exchangerates/ezhednevnye-oficialnye-rynochnye-kursy-valyut",
                 "https://nationalbank.kz", True, dt.time(12, 15), dt.date(2000, 1, 1)),
        Bank("cbu", "Central Bank of Uzbekistan", "UZS", "UZ",
                 "https://cbu.uz/en/arkhiv-kursov-valyut/", "https://cbu.uz", True, dt.time(11, 15),
                 dt.date(1994, 7, 1)),
        # NBKR dates every rate itself (history once a week on Saturdays, daily.xml for the next day),
        # so there is no calendar of ours to impose.
        Bank("nbkr", "National Bank of the Kyrgyz Republic", "KGS", "KG",
                 "https://www.nbkr.kg/index1.jsp?item=1562&lang=ENG", "https://www.nbkr.kg", False,
                 dt.time(11, 15), dt.date(1999, 1, 1), days_ahead=1),
        Bank("nbt", "National Bank of Tajikistan", "TJS", "TJ", "https://www.nbt.tj/en/kurs/",
                 "https://www.nbt.tj", True, dt.time(7, 15), dt.date(2001, 1, 1)),
        Bank("peg", "Central Bank of Turkmenistan (fixed rate)", "TMT", "TM", "https://cbt.tm/",
                 "", False, dt.time(0, 15), dt.date(2015, 1, 1)),
    )
}

# Frankfurter's providers guide: cbt.tm is mostly unreachable and the manat has been fixed at 3.5 per
# USD since the devaluation of 1 January 2015; the ticker's own TMT is not 1/3.5, which is the point.
PEGS: dict[str, Peg] = {"peg": Peg(Decimal("3.5"), dt.date(2015, 1, 1), "Central Bank of Turkmenistan")}

# The NBKR history page names currencies by its own ids; USD is 15 and quoted per 1.
NBKR_USD_ID = 15


def provider(key: str) -> Bank:
    """The provider of that key; a clear error naming the known ones otherwise."""
    try:
        return PROVIDERS[vocab.provider_key(key)]
    except KeyError:
        known = ", ".join(PROVIDERS)
        raise ValueError(f"{shown(key)} is not an official-rate provider (known: {known})") from None


def parse_keys(text: str) -> list[Bank]:
    """Providers named in a comma-separated list, in the registry's order, each once."""
    named = {provider(part).key for part in text.split(",") if part.strip()}
    if not named:
        raise ValueError(f"{shown(text)} names no official-rate provider (known: {', '.join(PROVIDERS)})")
    return [p for key, p in PROVIDERS.items() if key in named]


def origins(overrides: tuple[tuple[str, str], ...] | None) -> dict[str, str]:
    """Each fetched provider's origin, the overrides applied."""
    return {key: p.origin for key, p in PROVIDERS.items() if key not in PEGS} | dict(overrides or ())


def _dmy(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


def nbk_url(origin: str, day: dt.date) -> str:
    return f"{origin}/rss/get_rates.cfm?{urlencode({'fdate': _dmy(day)})}"


def cbu_url(origin: str, day: dt.date) -> str:
    return f"{origin}/en/arkhiv-kursov-valyut/json/all/{day.isoformat()}/"


def nbt_url(origin: str, day: dt.date) -> str:
    return f"{origin}/en/kurs/export_xml.php?{urlencode({'date': day.isoformat(), 'export': 'xmlout'})}"


def nbkr_daily_url(origin: str) -> str:
    return f"{origin}/XML/daily.xml"


def nbkr_history_url(origin: str, since: dt.date, until: dt.date) -> str:
    query = {
        "item": 1562, "lang": "ENG", "valuta_id": NBKR_USD_ID,
        "beg_day": f"{since.day:02d}", "beg_month": f"{since.month:02d}", "beg_year": since.year,
        "end_day": f"{until.day:02d}", "end_month": f"{until.month:02d}", "end_year": until.year,
    }
    return f"{origin}/index1.jsp?{urlencode(query)}"


def publishes_on(p: Bank, day: dt.date) -> bool:
    """Whether the provider has a rate of its own for that day (not a weekend copy, not before its start)."""
    if day < p.coverage_start:
        return False
    return not (p.weekdays_only and day.weekday() >= 5)
