"""The safety run: a safety surge alerted within a day, not at the end of its week (issue #16).

Daily (``schedules.safety_cron``; hourly works too) and by hand (``voc check-safety``):

1. the weekly run's own preparation, in the same order (``flows.weekly.PREPARE``): ingest what is new,
   understand it, assign it to topics and count it, up to the week ``now`` falls in;
2. the safety cells (``product×safety``, ``safety``) over the last 7 days ending at ``now`` against the
   complete weeks before that window (``flows.surge_stage.assess_safety_window``, ``surges.rolling``);
   the flagged cells are stored under the week ``now`` falls in (its safety rows only);
3. alerts through the weekly alert lifecycle (``flows.alert_stage``, ``only_safety``): the product's
   owner (or the matching routes' owners) and ``alerts.safety_list`` at once, whatever the quiet
   hours. A surge is one identity (``s|{product}``) and one episode for the rest of its life: the
   next day's check and the Monday run do not tell anyone again; a rise by
   ``alerts.escalation_factor`` is an escalation. Resolved notes are left to the weekly run.

A week the weekly run has already judged (a backfill with an old ``--now``) keeps its verdict: the
window is still tested and reported, but nothing is stored or sent for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, task
from prefect.cache_policies import NONE
from sqlalchemy import Engine

from voc.config.settings import Settings, VocConfig
from voc.delivery.lifecycle import parse_key
from voc.errors import VocError
from voc.flows import alert_stage
from voc.flows.surge_stage import SAFETY_WINDOW_DAYS, assess_safety_window, store_safety_window
from voc.flows.weekly import PREPARE, StageProgress, ready_engine, run_settings
from voc.store import analysis, stage_runs, themes
from voc.store.run_lock import week_lock
from voc.store.tickets import count_tickets
from voc.surges.selection import group_surges
from voc.weeks import Week


@dataclass
class SafetyResult:
    now: str  # UTC, ISO
    window_start: str
    week: str
    ingested: int = 0  # tickets new in the store after this run's ingest
    tested: int = 0  # safety cells tested over the window
    flagged: int = 0
    alerts: dict[str, int] = field(default_factory=dict)  # alert_stage.send's counts (sent, failed, ...)
    suppressed: int = 0  # flagged surges everyone concerned had been told about already
    note: str = ""
    lines: list[str] = field(default_factory=list)

    def line(self) -> str:
        sent = self.alerts.get("sent", 0)
        text = (
            f"safety check {self.now} UTC (window from {self.window_start}, stored under {self.week}): "
            f"{self.ingested} tickets ingested, {self.tested} safety cells tested, {self.flagged} flagged, "
            f"{sent} alert(s) sent, {self.suppressed} suppressed (told already)"
        )
        extra = {k: v for k, v in self.alerts.items() if k != "sent" and v}
        if extra:
            text += ", " + ", ".join(f"{v} {k}" for k, v in extra.items())
        return text + (f"; {self.note}" if self.note else "")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_now(text: str | None, cfg: VocConfig) -> datetime | None:
    """``--now``: ISO date-time; without an offset it is a wall-clock time in ``schedules.timezone``."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise VocError(f"not a date-time (e.g. 2026-11-27T18:00): {text!r}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=ZoneInfo(cfg.schedules.timezone))


def utc_naive(now: datetime | None) -> datetime:
    """As tickets' ``event_at``: naive UTC (a naive ``now`` is taken as UTC already)."""
    if now is None:
        return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


@contextmanager
def safety_locks(engine: Engine, now: datetime) -> Iterator[None]:
    """The locks of the week ``now`` falls in and of the week before: this run rebuilds their counts,
    as a weekly run of either does, so they never overlap."""
    week = Week.of(utc_naive(now))
    with ExitStack() as stack:
        for w in (week.shift(-1), week):
            stack.enter_context(week_lock(engine, w.ordinal(), str(w)))
        yield


def _tickets(engine: Engine) -> int:
    with engine.connect() as conn:
        return count_tickets(conn)


def _judged_whole(engine: Engine, week: Week) -> bool:
    """Did the weekly detection run for ``week`` (a complete week: its verdict stands)?"""
    return stage_runs.ran(engine, week.ordinal(), "surges")


@task(retries=2, retry_delay_seconds=5, cache_policy=NONE)
def safety_alerts_task(
    settings: Settings, cfg: VocConfig, week: Week, sink_dir: Path | None, now: datetime
) -> tuple[dict[str, int], int]:
    """Plan and send the week's safety alerts: (send counts, flagged surges nobody had to be told about)."""
    engine = ready_engine(settings)
    channels = alert_stage.channel_from(settings, sink_dir)
    planned = alert_stage.plan(
        engine, cfg, week, getattr(channels, "name", "email"), now=now.replace(tzinfo=UTC), only_safety=True
    )
    with engine.connect() as conn:
        groups = group_surges(analysis.load_surges(conn, week.ordinal()), themes.topic_theme_map(conn))
    flagged = {g.identity for g in groups if any(r.severity == "safety" for r in g.rows)}
    told = {parsed[0] for p in planned for k in p.dedupe_keys if (parsed := parse_key(k)) is not None}
    stats = alert_stage.send(engine, planned, channels, week, cfg.alerts.attempts, cfg.alerts.retry_delay)
    return stats, len(flagged - told)


@flow(name="voc-safety", log_prints=True)
def safety_flow(
    now: datetime | None = None,
    sink_dir: Path | None = None,
    progress: StageProgress | None = None,
    take_lock: bool = True,
) -> SafetyResult:
    """Prepare (ingest, understand, topics and counts), judge the safety cells over the last 7 days,
    alert. ``now``: the clock (tests, backfills; naive = UTC); ``sink_dir``: write alerts as files
    there (default ``alerts.sink_dir``, else send); ``take_lock=False``: the caller holds
    :func:`safety_locks` already. Settings come from :func:`flows.weekly.run_settings` (never flow
    parameters: Prefect stores those in plain text)."""
    settings, cfg = run_settings()
    if sink_dir is None and cfg.alerts.sink_dir:
        sink_dir = Path(cfg.alerts.sink_dir)
    at = utc_naive(now)
    week = Week.of(at)
    engine = ready_engine(settings)
    with safety_locks(engine, at) if take_lock else nullcontext():
        before = _tickets(engine)
        lines: list[str] = []
        for _name, stage in PREPARE:
            lines += stage(settings, cfg, week, progress)
        verdict = assess_safety_window(engine, cfg, at, SAFETY_WINDOW_DAYS)
        res = SafetyResult(
            now=f"{at:%Y-%m-%dT%H:%M}",
            window_start=f"{verdict.start:%Y-%m-%dT%H:%M}",
            week=str(week),
            ingested=_tickets(engine) - before,
            tested=len(verdict.tested),
            flagged=len(verdict.rows),
            lines=lines,
        )
        if _judged_whole(engine, week):
            res.note = (
                f"{week} was judged whole by the weekly run: its verdict and alerts stand, nothing sent"
            )
        else:
            store_safety_window(engine, verdict)
            res.alerts, res.suppressed = safety_alerts_task(settings, cfg, week, sink_dir, at)
    return res
