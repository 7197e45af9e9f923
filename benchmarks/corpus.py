"""A deterministic corpus of realistic ticker pages on disk, with the observations ingesting it must store.

The pages imitate what a scraper of The Times of Central Asia keeps: mostly HTML pages like the live site
(head, inline style and script, a menu, the ticker strip as 8 copies of its items, the "today" date line,
an article), and plain-text renderings of pages like those a scraper writes after turning HTML into text.
Rates, changes and article text are invented here (a seeded random walk and filler of our own); nothing is
copied from captures of the site.

`write_corpus(directory, pages)` writes the pages and returns a `Corpus`: their paths, total bytes, and the
rows `fxticker ingest --date <corpus.fallback_date> DIR` must leave in `observation`, worked out by
replaying the ingest's upsert rules in the order the ingest reads the files. The same seed and page count
always give the same bytes, file names, capture times and rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import math
import os
import random
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

SITE_TZ = zoneinfo.ZoneInfo("Asia/Almaty")
# The newest day of every corpus: fixed, so that a corpus is the same whenever it is written.
LAST_DAY = dt.date(2025, 12, 19)
# Before this day the strip showed four pairs: older captures of the site have no TMT.
TMT_FROM = dt.date(2019, 1, 1)
PAGES_PER_DAY = 3  # a scraper's archive: a few captures a day, some days none
HTML_SHARE = 2 / 3  # the rest are plain-text renderings
UNDATED_SHARE = 0.06  # pages without a date line: captures of the last day, ingested with --date
REVISED_DAY_SHARE = 0.2  # days on which the ticker changed during the day (a second revision)
COPIES = 8  # the scrolling strip repeats its items

# Columns of observation in the order of the CSV that the \copy floor loads.
COPY_COLUMNS = ("rate_date", "currency", "rate", "change_pct", "direction", "first_seen", "last_seen",
                "sightings", "first_source", "last_source", "first_hash", "last_hash")

# (currency, starting USD per unit, daily volatility); TMT is pegged and UZS shows one significant digit.
_CURRENCIES = (("KGS", 0.01460, 0.004), ("KZT", 0.00300, 0.006), ("TJS", 0.12700, 0.003),
               ("UZS", 0.00008, 0.0), ("TMT", 0.28490, 0.0))
_FIVE_PLACES = Decimal("0.00001")


@dataclass(frozen=True)
class Quote:
    """One ticker item as the page shows it."""

    currency: str
    rate: str  # five decimals, as quoted
    change: str  # as quoted, without the % sign: "0.28", "-0.18", "0", "-0"

    @property
    def direction(self) -> str:
        if self.change.startswith("-"):
            return "down"
        return "up" if Decimal(self.change) > 0 else "flat"

    @property
    def stored_change(self) -> str:
        """change_pct as the database stores it: a quoted "-0" is 0 (its direction keeps the sign)."""
        return self.change.removeprefix("-") if Decimal(self.change) == 0 else self.change


@dataclass(frozen=True)
class Observation:
    """A row of `observation` as `SELECT ...::text` shows it, with times as UTC datetimes."""

    rate_date: dt.date
    currency: str
    rate: str
    change_pct: str
    direction: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    sightings: int
    first_source: str
    last_source: str
    first_hash: str
    last_hash: str


@dataclass(frozen=True)
class PageSpec:
    """One page of the corpus: what it shows and when it was captured."""

    path: Path
    day: dt.date
    quotes: tuple[Quote, ...]
    captured: dt.datetime  # UTC, whole seconds: the file's modification time
    dated: bool
    is_html: bool


@dataclass(frozen=True)
class Corpus:
    """The pages written, in the order `fxticker ingest DIR` reads them, and what storing them gives."""

    directory: Path
    paths: list[Path]
    total_bytes: int
    rows: list[Observation]  # sorted by (rate_date, currency, first_seen)
    fallback_date: dt.date  # give it as `ingest --date`: the day of the pages without a date line
    html_pages: int
    undated_pages: int
    quotes: int  # quotes the parser returns over all pages (one per currency per page)
    ticker_lines: int  # ticker lines over all pages (every copy of the strip counts)

    @property
    def new(self) -> int:
        return len(self.rows)

    @property
    def duplicates(self) -> int:
        return self.quotes - len(self.rows)

    @property
    def days(self) -> int:
        return len({row.rate_date for row in self.rows})


def write_corpus(directory: Path, pages: int, *, seed: int = 20251219) -> Corpus:
    """Write `pages` pages into directory (created if needed) and return what they are and must store."""
    rng = random.Random(f"{seed}:{pages}")
    directory.mkdir(parents=True, exist_ok=True)
    return _write(directory, _plan(directory, pages, rng), rng)


def write_cadence_corpus(directory: Path, days: int, every_minutes: int, *, seed: int = 20251219) -> Corpus:
    """A scraper's archive at its cadence: a capture every `every_minutes` of every one of `days` days
    (ending LAST_DAY), each page dated, most of them the same ticker as the capture before."""
    rng = random.Random(f"{seed}:{days}:{every_minutes}")
    directory.mkdir(parents=True, exist_ok=True)
    return _write(directory, _plan_cadence(directory, days, every_minutes, rng), rng)


def _write(directory: Path, specs: list[PageSpec], rng: random.Random) -> Corpus:
    total = 0
    lines = 0
    hashes: dict[Path, str] = {}
    for spec in specs:
        body = (_html_page if spec.is_html else _text_page)(spec, rng).encode("utf-8")
        spec.path.write_bytes(body)
        stamp = spec.captured.timestamp()
        os.utime(spec.path, (stamp, stamp))
        hashes[spec.path] = hashlib.sha256(body).hexdigest()
        total += len(body)
        lines += len(spec.quotes) * COPIES
    ordered = sorted(specs, key=lambda s: s.path)  # the order in which ingest.expand lists a directory
    return Corpus(
        directory=directory,
        paths=[s.path for s in ordered],
        total_bytes=total,
        rows=expected_rows(ordered, hashes, LAST_DAY),
        fallback_date=LAST_DAY,
        html_pages=sum(s.is_html for s in specs),
        undated_pages=sum(not s.dated for s in specs),
        quotes=sum(len(s.quotes) for s in specs),
        ticker_lines=lines,
    )


_WRITTEN: dict[tuple[Path, str], Corpus] = {}


def cached(directory: Path, pages: int) -> Corpus:
    """write_corpus, once per directory and size in this process (benchmarks share their corpora)."""
    key = (directory, f"{pages} pages")
    if key not in _WRITTEN:
        _WRITTEN[key] = write_corpus(directory, pages)
    return _WRITTEN[key]


def cached_cadence(directory: Path, days: int, every_minutes: int) -> Corpus:
    """write_cadence_corpus, once per directory in this process."""
    key = (directory, f"{days} days every {every_minutes} min")
    if key not in _WRITTEN:
        _WRITTEN[key] = write_cadence_corpus(directory, days, every_minutes)
    return _WRITTEN[key]


def expected_rows(specs: Iterable[PageSpec], hashes: dict[Path, str], fallback: dt.date) -> list[Observation]:
    """Replay store.save_quotes over pages in ingest order: one row per distinct quote and day.

    A later sighting moves last_seen (and its source and hash), an earlier one first_seen; either counts
    a sighting, one within the known span changes nothing.
    """
    table: dict[tuple[str, dt.date, Decimal, Decimal, str], Observation] = {}
    for spec in specs:
        day = spec.day if spec.dated else fallback
        source, digest, seen = str(spec.path), hashes[spec.path], spec.captured
        for quote in spec.quotes:
            key = (quote.currency, day, Decimal(quote.rate), Decimal(quote.stored_change), quote.direction)
            old = table.get(key)
            if old is None:
                table[key] = Observation(day, quote.currency, quote.rate, quote.stored_change,
                                         quote.direction, seen, seen, 1, source, source, digest, digest)
            elif seen > old.last_seen or seen < old.first_seen:
                row = replace(old, sightings=old.sightings + 1)
                if seen > old.last_seen:
                    row = replace(row, last_seen=seen, last_source=source, last_hash=digest)
                if seen < old.first_seen:
                    row = replace(row, first_seen=seen, first_source=source, first_hash=digest)
                table[key] = row
    return sorted(table.values(), key=lambda r: (r.rate_date, r.currency, r.first_seen))


def write_copy_file(rows: Sequence[Observation], path: Path) -> Path:
    """The rows as CSV in COPY_COLUMNS order, for `\\copy observation(...) FROM path (FORMAT csv)`."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        for r in rows:
            writer.writerow((r.rate_date.isoformat(), r.currency, r.rate, r.change_pct, r.direction,
                             r.first_seen.isoformat(), r.last_seen.isoformat(), r.sightings,
                             r.first_source, r.last_source, r.first_hash, r.last_hash))
    return path


# --- what each page shows ---------------------------------------------------------------------------

def _plan(directory: Path, pages: int, rng: random.Random) -> list[PageSpec]:
    """Days, tickers and capture times of every page, before any text is written."""
    days = max(1, round(pages / PAGES_PER_DAY))
    first_day = LAST_DAY - dt.timedelta(days=days - 1)
    tickers = _tickers(first_day, days, rng)
    undated = max(1, round(pages * UNDATED_SHARE))
    specs = []
    for number in range(pages):
        dated = number >= undated
        day = first_day + dt.timedelta(days=rng.randrange(days)) if dated else LAST_DAY
        morning, revised_at, evening = tickers[day]
        local = dt.datetime.combine(day, dt.time(), SITE_TZ) + dt.timedelta(minutes=rng.randrange(5, 1435))
        quotes = evening if revised_at is not None and local.hour * 60 + local.minute >= revised_at \
            else morning
        captured = local.astimezone(dt.UTC)
        is_html = rng.random() < HTML_SHARE
        # Named by capture time like a scraper's archive, so the ingest reads them chronologically.
        name = f"{captured:%Y%m%dT%H%M%SZ}-{number:05d}.{'html' if is_html else 'txt'}"
        specs.append(PageSpec(directory / name, day, quotes, captured, dated, is_html))
    return specs


def _plan_cadence(directory: Path, days: int, every_minutes: int, rng: random.Random) -> list[PageSpec]:
    first_day = LAST_DAY - dt.timedelta(days=days - 1)
    tickers = _tickers(first_day, days, rng)
    specs = []
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        morning, revised_at, evening = tickers[day]
        midnight = dt.datetime.combine(day, dt.time(), SITE_TZ)
        for minute in range(7, 24 * 60, every_minutes):  # a few minutes past, as a cron job with jitter
            quotes = evening if revised_at is not None and minute >= revised_at else morning
            captured = (midnight + dt.timedelta(minutes=minute)).astimezone(dt.UTC)
            is_html = rng.random() < HTML_SHARE
            name = f"{captured:%Y%m%dT%H%M%SZ}.{'html' if is_html else 'txt'}"
            specs.append(PageSpec(directory / name, day, quotes, captured, True, is_html))
    return specs


_DayTickers = tuple[tuple[Quote, ...], int | None, tuple[Quote, ...]]


def _tickers(first_day: dt.date, days: int, rng: random.Random) -> dict[dt.date, _DayTickers]:
    """Per day: the morning ticker, the minute of the day it was revised (or None) and the revised one."""
    level = {code: start for code, start, _ in _CURRENCIES}
    sigmas = {code: sigma for code, _, sigma in _CURRENCIES}
    result: dict[dt.date, _DayTickers] = {}
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        before = dict(level)  # the change is quoted against the previous day's rate
        quotes = []
        for code in level:
            if code == "TMT" and day < TMT_FROM:
                continue
            level[code] *= math.exp(rng.gauss(0, sigmas[code]))
            quotes.append(_quote(code, level[code], before[code]))
        morning = tuple(quotes)
        if rng.random() >= REVISED_DAY_SHARE:
            result[day] = (morning, None, morning)
            continue
        # The site updates the strip during the day: one or two floating currencies move again, by at
        # least one unit in the last place so that the revision is a distinct quote.
        moved = set(rng.sample(["KGS", "KZT", "TJS"], rng.randint(1, 2)))
        evening = []
        for quote in morning:
            if quote.currency in moved:
                code = quote.currency
                steps = rng.choice((-2, -1, 1, 2))
                level[code] = float(Decimal(quote.rate) + steps * _FIVE_PLACES)
                quote = _quote(code, level[code], before[code])
            evening.append(quote)
        result[day] = (morning, rng.randrange(9 * 60, 19 * 60), tuple(evening))
    return result


def _quote(code: str, level: float, before: float) -> Quote:
    rate = Decimal(repr(level)).quantize(_FIVE_PLACES, ROUND_HALF_EVEN)
    change = Decimal(repr((level / before - 1) * 100)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    text = format(change.copy_abs(), "f").rstrip("0").rstrip(".") if change else "0"
    falling = level < before
    return Quote(code, format(max(rate, _FIVE_PLACES), "f"), ("-" if falling else "") + text)


# --- how each page reads ----------------------------------------------------------------------------

_PLACES = ("Almaty", "Astana", "Bishkek", "Osh", "Dushanbe", "Khujand", "Tashkent", "Samarkand",
           "Ashgabat", "Turkmenbashi", "Nukus", "Karaganda", "Shymkent", "Termez", "Kulob")
_SUBJECTS = ("The regional trade council", "A delegation of grain exporters", "The ministry of transport",
             "Local cotton growers", "A consortium of rail operators", "The central bank’s board",
             "Small-business owners", "A group of hydropower engineers", "The customs service",
             "Independent analysts", "Farmers along the river valley", "The city administration")
_VERBS = ("announced", "postponed", "reviewed", "welcomed", "questioned", "approved", "outlined",
          "criticised", "proposed", "completed")
_OBJECTS = ("a new freight corridor", "the tariff schedule for next season", "plans for a solar park",
            "a programme of water-saving irrigation", "the reopening of a border crossing",
            "a joint venture in textile processing", "talks on electricity exchange",
            "an upgrade of the mountain highway", "new rules for seasonal workers",
            "a study of wheat prices")
_TAILS = ("after months of negotiation", "despite objections from neighbouring districts",
          "ahead of the winter season", "with support from international lenders",
          "in a statement on Tuesday", "following a survey of 1\u00a0200 households",
          "at a forum attended by 300\u00a0delegates", "for the third time this year")
_QUOTES = ("“We expect the first results within a year,” an official said.",
           "“It is a modest step, but a real one,” one trader told reporters.",
           "Critics called the plan ‘ambitious but unfunded’.",
           "“Prices have not moved much since spring,” said a shop owner in the bazaar.",
           "The report’s authors warned that “costs could rise by 15\u00a0percent.”")
_MENU = ("Kazakhstan", "Kyrgyzstan", "Tajikistan", "Turkmenistan", "Uzbekistan", "Afghanistan",
         "Economy", "Politics", "Society", "Opinion", "Tourism")


def _sentence(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return rng.choice(_QUOTES)
    return (f"{rng.choice(_SUBJECTS)} in {rng.choice(_PLACES)} {rng.choice(_VERBS)} "
            f"{rng.choice(_OBJECTS)} {rng.choice(_TAILS)}.")


def _article(rng: random.Random) -> tuple[str, list[str]]:
    """A title and paragraphs: from a short note to a long feature (a few hundred bytes to ~10 KB)."""
    title = f"{rng.choice(_PLACES)}: {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
    count = min(40, max(1, round(rng.lognormvariate(2.0, 0.7))))
    paragraphs = [" ".join(_sentence(rng) for _ in range(rng.randint(1, 4))) for _ in range(count)]
    return title, paragraphs


def _date_line(day: dt.date) -> str:
    return f"{day.day:02d} {day:%B %Y}"  # the site writes "08 December 2025"


def _text_page(spec: PageSpec, rng: random.Random) -> str:
    items = [f"• {q.currency}/USD = {q.rate} {q.change}%" for q in spec.quotes] * COPIES
    title, paragraphs = _article(rng)
    dated = f"{_date_line(spec.day)}\n\n" if spec.dated else "\n"
    return items[0] + "\n" + "".join(f"  {item}\n" for item in items[1:]) + dated + \
        f"{title}\n\n" + "\n\n".join(paragraphs) + "\n"


def _html_page(spec: PageSpec, rng: random.Random) -> str:
    title, paragraphs = _article(rng)
    menu = "\n".join(f'      <li class="menu-item"><a href="/{m.lower()}/">{m}</a></li>' for m in _MENU)
    items = "\n".join(f'        <li class="ticker__item">• {q.currency}/USD = {q.rate} {q.change}%</li>'
                      for _ in range(COPIES) for q in spec.quotes)
    dated = f'    <div class="header-date">{_date_line(spec.day)}</div>\n' if spec.dated else ""
    body = "\n".join(f"      <p>{html.escape(p, quote=False)}</p>" for p in paragraphs)
    slug = "-".join(title.lower().replace(":", "").split()[:6])
    return (
        '<!DOCTYPE html>\n<html lang="en-US">\n<head>\n  <meta charset="UTF-8">\n'
        '  <meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"  <title>{html.escape(title)} - The Times of Central Asia</title>\n"
        f'  <link rel="canonical" href="/{slug}/">\n'
        '  <link rel="stylesheet" href="/wp-content/themes/tca/style.css?ver=3.1" media="all">\n'
        "  <style>.ticker{overflow:hidden;white-space:nowrap}.ticker__item{display:inline-block;"
        "padding:0 1.5rem}</style>\n"
        "  <script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
        "</script>\n</head>\n"
        '<body class="post-template-default single single-post">\n'
        '  <header class="site-header">\n    <nav class="main-navigation">\n      <ul id="menu">\n'
        f"{menu}\n      </ul>\n    </nav>\n"
        '    <div class="ticker-wrap">\n      <ul class="ticker">\n'
        f"{items}\n      </ul>\n    </div>\n{dated}  </header>\n"
        '  <main id="content">\n    <article class="post">\n'
        f"      <h1 class=\"entry-title\">{html.escape(title)}</h1>\n"
        f"{body}\n    </article>\n  </main>\n"
        '  <footer class="site-footer"><p>© The Times of Central Asia</p></footer>\n'
        '  <script src="/wp-content/themes/tca/ticker.js?ver=3.1" defer></script>\n'
        "</body>\n</html>\n"
    )
