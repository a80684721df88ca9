"""Prefect flows: thin recipes over the stage functions.

Retries sit on I/O (ingest, alerts); the analysis stages are deterministic and re-runnable per week
(each replaces its week's rows), so a failed run is simply run again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, task, unmapped
from prefect.cache_policies import NONE
from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from sqlalchemy import Engine

from voc.config.settings import Settings, VocConfig, settings_from_env
from voc.errors import ConfigError
from voc.flows import alert_stage, brief_stage, ingest_stage, topic_stage, understand
from voc.flows.logs import attach_project_loggers
from voc.flows.surge_stage import detect_week
from voc.nlp.embedding import embed_chunk
from voc.store import analysis, stage_runs
from voc.store.db import check_ready, make_engine
from voc.store.run_lock import week_lock
from voc.weeks import Week

attach_project_loggers()  # the project's INFO lines (rate-limit pauses, alert sends) in the run's logs


@dataclass
class WeeklyResult:
    week: str
    lines: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    surges: int = 0
    alerts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # "warning: ..." lines (a missing drop folder)


# The flows take no Settings: a flow's parameters are stored by Prefect in plain text (and shown in its
# UI), and Settings holds VOC_DATABASE_URL with its password and the SMTP password. A flow reads its
# settings and config from the environment where it runs (a worker, `voc serve`), or from `given(...)`
# when the caller built them already (the CLI, the demo's own database, tests).
_GIVEN: ContextVar[tuple[Settings, VocConfig] | None] = ContextVar("voc_given_settings", default=None)


@contextmanager
def given(settings: Settings, cfg: VocConfig) -> Iterator[None]:
    """Flows started inside this block use these settings and config instead of the environment's."""
    token = _GIVEN.set((settings, cfg))
    try:
        yield
    finally:
        _GIVEN.reset(token)


def run_settings() -> tuple[Settings, VocConfig]:
    """The settings and config of the current run: :func:`given`, else ``VOC_*`` and ``VOC_CONFIG``."""
    got = _GIVEN.get()
    if got is None:
        settings = settings_from_env()
        got = (settings, settings.load_config())
    return got


def _week_of(week: str | None) -> Week:
    return Week.parse(week) if week else Week.latest_complete()


def ready_engine(settings: Settings) -> Engine:
    """The run's database engine; one clear error when the database is unreachable or not initialised."""
    engine = make_engine(settings.database_url)
    check_ready(engine)
    return engine


def _mark(engine: Engine, week: Week, stage: str, summary: str) -> None:
    stage_runs.mark_done(engine, week.ordinal(), stage, summary)


@task(retries=2, retry_delay_seconds=5, cache_policy=NONE)
def ingest_task(settings: Settings, cfg: VocConfig, source: str | None = None) -> list[str]:
    """One summary line per source, then its ``warning: ...`` lines (:func:`split_warnings`)."""
    summaries = ingest_stage.ingest_all(ready_engine(settings), cfg, source)
    return [s.line() for s in summaries] + [w for s in summaries for w in s.warnings()]


def split_warnings(lines: list[str]) -> tuple[list[str], list[str]]:
    """(summary lines, ``warning: ...`` lines) of what a stage returned."""
    return (
        [x for x in lines if not x.startswith("warning: ")],
        [x for x in lines if x.startswith("warning: ")],
    )


def task_runner(settings: Settings) -> TaskRunner[Any]:
    """The runner for the understanding chunks and, on Dask, the topic stage's embedding chunks
    (``VOC_TASK_RUNNER``; docs/scale-out.md)."""
    kind = settings.task_runner
    if kind == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:
            raise ConfigError(
                "VOC_TASK_RUNNER=dask needs the dask extra: pip install 'voc-pipeline[dask]'"
            ) from None
        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": settings.workers,
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": None,
            }
        )
    # 'threads'; 'auto', 'sequential' and 'processes' submit no task (a local pool is a plain one:
    # flows.understand.POOL_MIN_TICKETS says why)
    return ThreadPoolTaskRunner(max_workers=settings.workers)


@flow(name="voc-understand", log_prints=True)
def understand_flow(progress: understand.Progress | None = None) -> str:
    """Understand pending tickets; chunks go to this flow's task runner unless sequential.

    The database reads and writes stay in this process, so workers need no database access.
    """
    settings, cfg = run_settings()
    engine = ready_engine(settings)
    kind = settings.task_runner
    if kind in ("auto", "sequential", "processes"):  # here, or a local pool without Prefect tasks
        workers = understand.local_workers(kind, settings.workers, engine)
        n = understand.understand_locally(engine, cfg, workers, progress=progress)
    else:  # enough chunks per read to keep every worker busy twice over
        n = understand.understand_pending(
            engine,
            cfg,
            batch_size=settings.chunk_size * settings.workers * 2,
            chunk_size=settings.chunk_size,
            run_chunks=understand.run_as_tasks,
            progress=progress,
        )
    return f"understood {n} tickets"


def understand_stage(settings: Settings, cfg: VocConfig, progress: understand.Progress | None = None) -> str:
    """The understanding subflow on the configured task runner."""
    with given(settings, cfg), _workers_report_here(settings):
        return understand_flow.with_options(task_runner=task_runner(settings))(progress)


@contextmanager
def _workers_report_here(settings: Settings) -> Iterator[None]:
    """Worker processes of a LocalCluster on this machine report to this process's Prefect API.
    Without a ``PREFECT_API_URL`` (Prefect's ephemeral API) each of them started an ephemeral server
    of its own (3 servers for a 2-worker run); measured when the process pool was Prefect's too, its
    test ran 38 -> 15 s with them pointed here (tests/test_scale_out.py, 2-core machine). The local
    pool (``auto``, ``processes``) runs no Prefect tasks and needs none of this."""
    local = settings.task_runner == "dask" and not settings.dask_address
    if not local or get_current_settings().api.url:
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the one this process's client started (one per process)
    server.start()  # a no-op when it runs already
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield


def _topics_and_counts(
    settings: Settings, cfg: VocConfig, week: Week, embed_chunks: topic_stage.EmbedChunks | None = None
) -> str:
    engine = ready_engine(settings)
    line = topic_stage.update_topics(engine, cfg, week, embed_chunks=embed_chunks).line()
    with engine.begin() as conn:
        analysis.update_counts(conn, week.ordinal())
    _mark(engine, week, "topics", line)
    return line


@task(cache_policy=NONE)
def topics_task(settings: Settings, cfg: VocConfig, week: Week) -> str:
    return _topics_and_counts(settings, cfg, week)


@task(retries=1, cache_policy=NONE)
def embed_chunk_task(blob: bytes, texts: list[str], tokens: list[list[str]]) -> Any:
    """One chunk of the topic stage's embedding on a Dask worker; retried once if a worker dies."""
    return embed_chunk(blob, texts, tokens)


def run_embed_tasks(blob: bytes, parts: list[tuple[list[str], list[list[str]]]]) -> list[Any]:
    """Submit every chunk to the current flow's task runner; vectors come back in submission order."""
    return embed_chunk_task.map(unmapped(blob), [p[0] for p in parts], [p[1] for p in parts]).result()


@flow(name="voc-topics", log_prints=True)
def topics_flow(week: Week) -> str:
    """Topics and counts with the embedding of many tickets (a backfill's, a refit's week) on this
    flow's task runner: VOC_TASK_RUNNER=dask. The reads, the clustering and the writes stay here."""
    settings, cfg = run_settings()
    return _topics_and_counts(settings, cfg, week, run_embed_tasks)


def topics_stage(settings: Settings, cfg: VocConfig, week: Week) -> str:
    """The topic stage: on a Dask cluster's workers for the embedding when VOC_TASK_RUNNER=dask, else
    in this process (the weekly embedding is seconds; a pool's start-up would cost more)."""
    if settings.task_runner != "dask":
        return topics_task(settings, cfg, week)
    with given(settings, cfg), _workers_report_here(settings):
        return topics_flow.with_options(task_runner=task_runner(settings))(week)


@task(cache_policy=NONE)
def surges_task(settings: Settings, cfg: VocConfig, week: Week) -> int:
    engine = ready_engine(settings)
    rows = detect_week(engine, cfg, week)
    n = sum(1 for r in rows if r["level"] != "global")
    _mark(engine, week, "surges", f"{n} flagged cells")
    return n


@task(cache_policy=NONE)
def brief_task(settings: Settings, cfg: VocConfig, week: Week, out_dir: Path) -> list[str]:
    engine = ready_engine(settings)
    paths = brief_stage.write_brief(
        engine, cfg, week, out_dir, list(cfg.report.languages), list(cfg.report.formats)
    )
    _mark(engine, week, "brief", ", ".join(p.name for p in paths))
    return [str(p) for p in paths]


@task(retries=2, retry_delay_seconds=5, cache_policy=NONE)
def alerts_task(
    settings: Settings, cfg: VocConfig, week: Week, sink_dir: Path | None, brief_link: str | None
) -> dict[str, int]:
    engine = ready_engine(settings)
    stats = alert_stage.run(engine, cfg, week, alert_stage.channel_from(settings, sink_dir), brief_link)
    _mark(engine, week, "alerts", str(stats))
    return stats


@task(retries=2, retry_delay_seconds=5, cache_policy=NONE)
def ingest_summaries_task(
    settings: Settings, cfg: VocConfig, source: str | None = None
) -> list[dict[str, Any]]:
    """Per source: its counts, summary line and warnings (:meth:`IngestSummary.as_dict`)."""
    return [s.as_dict() for s in ingest_stage.ingest_all(ready_engine(settings), cfg, source)]


@flow(name="voc-ingest", log_prints=True)
def ingest_flow(source: str | None = None) -> list[dict[str, Any]]:
    """Pull the configured sources; returns each source's summary (``voc ingest`` prints them)."""
    settings, cfg = run_settings()
    summaries = ingest_summaries_task(settings, cfg, source)
    for s in summaries:
        print(s["line"])
        for warning in s["warnings"]:
            print(warning)
    return summaries


# (what, done, total): "understand" counts tickets, "stage: NAME" counts the run's stages
StageProgress = Callable[[str, int, int], None]


def _stepper(plan: list[str], progress: StageProgress | None) -> Callable[[str], None]:
    """Reports "stage: NAME" as each planned stage starts (and "stage: done" after the last)."""

    def step(name: str) -> None:
        if progress:
            i = plan.index(name) if name in plan else len(plan)
            progress(f"stage: {name}", i, len(plan))

    return step


def _tickets(progress: StageProgress | None) -> understand.Progress | None:
    return (lambda done, total: progress("understand", done, total)) if progress else None


# A stage of the shared preparation: (settings, cfg, week, progress) -> its summary lines.
Stage = Callable[[Settings, VocConfig, Week, StageProgress | None], list[str]]


def _ingest_stage(
    settings: Settings, cfg: VocConfig, week: Week, progress: StageProgress | None
) -> list[str]:
    return ingest_task(settings, cfg)


def _understand_stage(
    settings: Settings, cfg: VocConfig, week: Week, progress: StageProgress | None
) -> list[str]:
    return [understand_stage(settings, cfg, _tickets(progress))]


def _topics_stage(
    settings: Settings, cfg: VocConfig, week: Week, progress: StageProgress | None
) -> list[str]:
    return [topics_stage(settings, cfg, week)]


# What every run does first, in this order, before anything is judged: ingest what is new, understand
# it, assign it to topics and count it (up to ``week``). The weekly run and the daily safety run
# (flows/safety.py) both go through this one list.
PREPARE: tuple[tuple[str, Stage], ...] = (
    ("ingest", _ingest_stage),
    ("understand", _understand_stage),
    ("topics", _topics_stage),
)
# Every stage of the weekly run, in order: the one list the weekly run, `voc analyze` and `--resume`
# (stage_runs records each finished one) plan from.
STAGES: tuple[str, ...] = (*(name for name, _ in PREPARE), "surges", "brief", "alerts")
ANALYSIS = ("understand", "topics", "surges")  # what `voc analyze` runs of them


@flow(name="voc-analyze", log_prints=True)
def analyze_flow(week: str | None = None, progress: StageProgress | None = None) -> list[str]:
    """Understand, topics, counts and surges for one week (ISO week; default the latest complete one)."""
    settings, cfg = run_settings()
    w = _week_of(week)
    step = _stepper([s for s in STAGES if s in ANALYSIS], progress)
    lines: list[str] = []
    for name, stage in PREPARE:
        if name in ANALYSIS:
            step(name)
            lines += stage(settings, cfg, w, progress)
    step("surges")
    lines.append(f"{surges_task(settings, cfg, w)} surge cells flagged in {w}")
    step("done")
    for line in lines:
        print(line)
    return lines


@flow(name="voc-weekly", log_prints=True)
def weekly_flow(
    week: str | None = None,
    out_dir: Path | None = None,
    sink_dir: Path | None = None,
    ingest: bool = True,
    alerts: bool = True,
    resume: bool = False,
    progress: StageProgress | None = None,
    take_lock: bool = True,
) -> WeeklyResult:
    """The whole weekly run: ingest -> understand -> topics -> surges -> brief -> alerts.

    ``week``: ISO week, default the latest complete one; ``out_dir``: default ``VOC_OUT_DIR``;
    ``sink_dir``: write alerts as files there (default ``alerts.sink_dir`` of the config, else send).

    Every stage replaces its week's results, so re-running a week never duplicates anything.
    ``resume`` skips the stages that already finished for this week (after a failed run);
    ``progress`` hears which stage runs and how many tickets are understood (the CLI draws it).
    ``take_lock=False``: the caller already holds the week's lock (the CLI takes it before starting
    Prefect, so a refused run is one line rather than a failed flow run with its traceback).
    """
    settings, cfg = run_settings()
    week_ = _week_of(week)
    out_dir = out_dir or settings.out_dir
    if sink_dir is None and cfg.alerts.sink_dir:
        sink_dir = Path(cfg.alerts.sink_dir)
    return _weekly(settings, cfg, week_, out_dir, sink_dir, ingest, alerts, resume, progress, take_lock)


def _weekly(
    settings: Settings,
    cfg: VocConfig,
    week: Week,
    out_dir: Path,
    sink_dir: Path | None,
    ingest: bool,
    alerts: bool,
    resume: bool,
    progress: StageProgress | None,
    take_lock: bool,
) -> WeeklyResult:
    res = WeeklyResult(week=str(week))
    engine = ready_engine(settings)
    with week_lock(engine, week.ordinal(), str(week)) if take_lock else nullcontext():
        done = stage_runs.done_stages(engine, week.ordinal()) if resume else set()
        if not resume:
            stage_runs.clear(engine, week.ordinal())
        skipped = {"ingest": not ingest, "alerts": not alerts}
        plan = [s for s in STAGES if not skipped.get(s, False) and s not in done]
        step = _stepper(plan, progress)
        for name, stage in PREPARE:
            if name in plan:
                step(name)
                lines = stage(settings, cfg, week, progress)
                if name == "ingest":  # a missing drop folder is a warning, not a line of the summary
                    lines, warned = split_warnings(lines)
                    res.warnings += warned
                res.lines += lines
                if name != "topics":  # topics_task marks itself
                    _mark(engine, week, name, "; ".join(lines))
        if "surges" in plan:
            step("surges")
            res.surges = surges_task(settings, cfg, week)
            res.lines.append(f"{res.surges} surge cells flagged in {week}")
        if "brief" in plan:
            step("brief")
            res.outputs = brief_task(settings, cfg, week, out_dir)
        if "alerts" in plan:
            step("alerts")
            # links go to the web workbench (web.base_url), never to a file on this server
            res.alerts = alerts_task(settings, cfg, week, sink_dir, None)
            res.lines.append(f"alerts: {res.alerts}")
        step("done")
        if done:
            res.lines.append(f"resumed: skipped {', '.join(sorted(done))}")
    for line in res.lines + res.warnings:
        print(line)
    _summary_artifact(res)
    return res


def _summary_artifact(res: WeeklyResult) -> None:
    """The run summary as a Prefect markdown artifact (visible in the Prefect UI)."""
    from prefect.artifacts import create_markdown_artifact

    body = "\n".join(
        [
            f"# VoC weekly run {res.week}",
            "",
            *[f"- {line}" for line in res.lines],
            "",
            *[f"- output: `{p}`" for p in res.outputs],
        ]
    )
    try:
        create_markdown_artifact(
            markdown=body, key=f"voc-weekly-{res.week.lower()}", description=f"VoC weekly run {res.week}"
        )
    except Exception as e:  # noqa: BLE001 - an artifact is a convenience; the run's own result stands
        print(f"(run summary artifact not stored: {e})")
