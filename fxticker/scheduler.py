"""Scheduler: a long-running process that scrapes every FXTICKER_INTERVAL while it holds the leader lock.

Several `fxticker schedule` processes may run (replicas, a restart overlapping the old process). Each polls a
PostgreSQL session-level advisory lock on a connection of its own; the one that holds it leads and schedules
the scrape job, the others wait. The lock dies with its connection, so when the leader is killed, even with
kill -9, the server drops the lock and a standby takes it at its next poll, then scrapes one interval after
the last scheduled run started (at once if that is past).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
import threading
from dataclasses import dataclass
from types import FrameType

import psycopg
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from fxticker import vocab
from fxticker.collect import backfill
from fxticker.collect.scrape import CONNECT_TIMEOUT, ScrapeConfig, Scraper
from fxticker.inputs import first_line
from fxticker.official import bank_runs as official_run
from fxticker.official import rate_store as official_store
from fxticker.official.bank_runs import OfficialConfig
from fxticker.official.banks import PROVIDERS
from fxticker.settings import Settings
from fxticker.storage import observations
from fxticker.storage.scrape_runs import close_abandoned, last_scheduled_start

log = logging.getLogger(__name__)

LEADER_LOCK = 7_405_003  # advisory lock key of the active scheduler (7_405_001 is migrate's)
SCRAPE_JOB = "scrape"
BACKFILL_JOB = "backfill"
LEADERSHIP_JOB = "leadership"
OFFICIAL_JOB = "official-{}"


@dataclass(frozen=True)
class ScheduleConfig:
    interval: float
    jitter: float
    poll: float  # how often a standby asks for the lock, and the leader checks it still has it

    @classmethod
    def from_settings(cls, conf: Settings) -> ScheduleConfig:
        interval = float(conf.interval)
        # A standby must notice a dead leader well within one interval; 5 s is cheap for long intervals.
        return cls(interval=interval, jitter=conf.scrape_jitter, poll=max(0.2, min(5.0, interval / 2)))


class Leadership:
    """The leader lock: held as long as its own connection lives."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._conn: psycopg.Connection | None = None

    @property
    def leading(self) -> bool:
        return self._conn is not None

    def try_acquire(self) -> bool:
        try:
            conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.OperationalError as exc:
            log.debug("standby: database unreachable (%s)", first_line(exc))
            return False
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,)).fetchone()
        except psycopg.Error:
            conn.close()
            return False
        if row is None or not row[0]:
            conn.close()
            return False
        self._conn = conn
        return True

    def still_held(self) -> bool:
        """False once the lock's connection is gone (the database restarted, the network broke)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            self.release()
            return False

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Closing the session releases the lock; an explicit unlock would be one more round trip
            # that can fail.
            conn.close()


class ScheduledScraper:
    """The `fxticker schedule` process: APScheduler in the foreground, scraping while it leads."""

    def __init__(self, database_url: str, scrape_config: ScrapeConfig, config: ScheduleConfig,
                 official: OfficialConfig | None = None, *,
                 backfill_config: backfill.BackfillConfig | None = None) -> None:
        self.database_url = database_url
        self.config = config
        self.scrape_config = scrape_config
        # The official rates' daily fetches (fxticker/official/bank_runs.py); None: not scheduled.
        self.official = official
        # A leader that finds a provider not fetched for a day fetches it this long after taking over:
        # soon, yet not at once, so that restarts in a row do not ask the banks each time.
        self.official_catch_up = dt.timedelta(minutes=5)
        self.backfill_config = backfill_config  # None: FXTICKER_BACKFILL_ON_START is off
        self._backfill_due = False
        self.scraper = Scraper(database_url, scrape_config, trigger="schedule")
        self.leadership = Leadership(database_url)
        self.stopping = threading.Event()
        # Held while a job runs, so that stopping can wait for jobs in flight. Not shutdown(wait=True):
        # it holds the scheduler's job store lock while it waits, and a leadership job that is adding or
        # removing the scrape job at that moment would wait for that lock for ever.
        self._leadership_busy = threading.Lock()
        self._scrape_busy = threading.Lock()
        self._official_busy = threading.Lock()
        self._backfill_busy = threading.Lock()
        self.scheduler = BlockingScheduler(
            timezone=dt.UTC,
            # The leadership poll, a scrape, an official fetch and a backfill (which takes hours) may run
            # at once.
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                # A run that is late (a suspended host, a long previous run) still happens within
                # one interval; later than that it is skipped and the next one comes on time.
                "misfire_grace_time": max(1, int(config.interval)),
            },
        )
        self.scheduler.add_listener(self._job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        self.scheduler.add_job(self._check_leadership, IntervalTrigger(seconds=config.poll, timezone=dt.UTC),
                               id=LEADERSHIP_JOB, next_run_time=dt.datetime.now(dt.UTC))

    def run(self) -> None:
        """Block until SIGTERM or Ctrl-C; a scrape in progress stops after its current page."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        log.info("scheduler up: every %.0f s (jitter up to %.0f s), waiting to lead", self.config.interval,
                 self.config.jitter)
        try:
            if not self.stopping.is_set():
                self.scheduler.start()
        finally:
            # Let the jobs in flight finish (a scrape stops after its current page) before letting go of
            # the lock: otherwise a standby could start a run while ours still writes.
            with self._leadership_busy, self._scrape_busy, self._official_busy, self._backfill_busy:
                pass
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.leadership.release()
            self.scraper.close()
            for record in self.scraper.pending:
                log.error("scrape run never recorded (database unreachable): %s", record.line())
            log.info("scheduler stopped")

    def stop(self) -> None:
        """Ask the scheduler to stop; run() returns once the jobs in flight have finished."""
        self.stopping.set()
        self.scraper.interrupt.set()
        # Not running: not started yet (run() checks `stopping` first) or stopped already.
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=False)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: stopping after the current page", signal.Signals(signum).name)
        # The scheduler's locks may be held by the code this handler interrupted: stop from another thread.
        threading.Thread(target=self.stop, name="fxticker-stop").start()

    def _job_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its time %s", event.job_id, event.scheduled_run_time)
            return
        # The exception carries its own traceback; APScheduler's event.traceback is already text, which
        # logging cannot format as one (the record then fails to print at all).
        log.error("job %s failed: %r", event.job_id, event.exception, exc_info=event.exception)

    def _check_leadership(self) -> None:
        with self._leadership_busy:
            if not self.stopping.is_set():
                self._lead_or_stand_by()

    def _lead_or_stand_by(self) -> None:
        if self.leadership.leading:
            if not self.leadership.still_held():
                log.warning("lost the leader lock (database connection gone); standing by")
                self._unschedule()
            return
        if not self.leadership.try_acquire():
            self.scraper.flush_pending()
            return
        try:
            first = self._take_over()
        except (psycopg.Error, observations.MigrationError) as exc:
            # Let go rather than hold the lock doing nothing; a standby (or we, next poll) tries again.
            log.error("took the leader lock but cannot lead: %s; standing by", first_line(exc))
            self.leadership.release()
            return
        self.scheduler.add_job(
            self._scrape,
            IntervalTrigger(seconds=self.config.interval, start_date=first, jitter=self.config.jitter or None,
                            timezone=dt.UTC),
            # Explicitly: a start_date a moment in the past would otherwise put the first run an interval out.
            next_run_time=first, id=SCRAPE_JOB, replace_existing=True,
        )
        log.info("leading: next scrape at %s", first.isoformat(timespec="seconds"))
        self._schedule_official()
        if self._backfill_due:
            self.scheduler.add_job(self._backfill, id=BACKFILL_JOB, replace_existing=True)

    def _take_over(self) -> dt.datetime:
        """Bring the schema up to date, close runs a dead leader left open, and say when to scrape first."""
        with psycopg.connect(self.database_url, connect_timeout=CONNECT_TIMEOUT) as conn:
            observations.migrate(conn)
            abandoned = close_abandoned(conn) + official_store.close_abandoned(conn)
            if abandoned:
                log.warning("marked %d scheduled run(s) of a dead leader as abandoned", abandoned)
            last = last_scheduled_start(conn)
            # Asked before the first scrape stores anything: that would make the database look done.
            self._backfill_due = self.backfill_config is not None and backfill.wanted_on_start(conn)
        now = dt.datetime.now(dt.UTC)
        if last is None:
            return now
        return max(now, last + dt.timedelta(seconds=self.config.interval))

    def _unschedule(self) -> None:
        for job in self.scheduler.get_jobs():
            if job.id != LEADERSHIP_JOB:
                self.scheduler.remove_job(job.id)

    def _schedule_official(self) -> None:
        """Each provider once a day after its usual publication; at once if no run of ours began in a day."""
        if self.official is None:
            return
        try:
            with psycopg.connect(self.database_url, connect_timeout=CONNECT_TIMEOUT) as conn:
                last = official_run.last_scheduled(conn)
        except psycopg.Error as exc:
            log.warning("official rates: cannot read past runs (%s); scheduling at the usual times",
                        first_line(exc))
            last = {}
        now = dt.datetime.now(dt.UTC)
        for key, p in PROVIDERS.items():
            trigger = CronTrigger(hour=p.fetch_at.hour, minute=p.fetch_at.minute, timezone=dt.UTC)
            behind = key not in last or now - last[key] > dt.timedelta(days=1)
            self.scheduler.add_job(
                self._fetch_official, trigger, args=[key], id=OFFICIAL_JOB.format(key), replace_existing=True,
                # A fetch a few hours late is still worth making; the next day's looks back a week anyway.
                misfire_grace_time=6 * 3600,
                **({"next_run_time": now + self.official_catch_up} if behind else {}))

    def _official_sleep(self, seconds: float) -> None:
        if self.stopping.wait(seconds) or not self.leadership.leading:
            raise official_run.Stopped

    def _fetch_official(self, key: str) -> None:
        with self._official_busy:
            if not self.leadership.leading or self.stopping.is_set() or self.official is None:
                return
            p = PROVIDERS[key]
            today = vocab.site_today(self.scrape_config.tz)
            try:
                with psycopg.connect(self.database_url, connect_timeout=CONNECT_TIMEOUT) as conn:
                    first = official_run.first_quote(conn)
                since, until = official_run.daily_window(p, today, first)
                record = official_run.run(self.database_url, [p], since, until, today=today,
                                          config=self.official, trigger="schedule",
                                          sleep=self._official_sleep, should_stop=self._should_stop)
            except psycopg.Error as exc:
                log.error("official rates of %s: database error: %s", key, first_line(exc))
                return
            for outcome in record.outcomes:
                log.info("official rates: %s", official_run.outcome_line(outcome, since, until))

    def _scrape(self) -> None:
        with self._scrape_busy:
            if self.leadership.leading and not self.stopping.is_set():
                self._scrape_once()

    def _scrape_once(self) -> None:
        record = self.scraper.run(should_stop=self._should_stop)
        if record.database_error and record.run_id is None:
            log.error("scrape run failed: %s; it will be recorded when the database is back", record.error)

    def _backfill(self) -> None:
        with self._backfill_busy:
            if self.backfill_config is not None and self.leadership.leading and not self.stopping.is_set():
                backfill.run_scheduled(self.database_url, self.backfill_config, should_stop=self._should_stop,
                                       stopping=self.stopping)

    def _should_stop(self) -> bool:
        return self.stopping.is_set() or not self.leadership.leading


def run(database_url: str, conf: Settings) -> None:
    """`fxticker schedule`: schedule scrapes until stopped."""
    scrape_config = ScrapeConfig.from_settings(conf)
    config = ScheduleConfig.from_settings(conf)
    backfill_config = backfill.BackfillConfig.from_settings(conf) if conf.backfill_on_start else None
    # APScheduler logs every run of the leadership poll at INFO; our listener reports what matters.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    ScheduledScraper(database_url, scrape_config, config, OfficialConfig.from_settings(conf),
                     backfill_config=backfill_config).run()
