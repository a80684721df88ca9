"""The ``voc`` command line. Each command builds Settings once and passes values down.

Errors the pipeline raises on purpose (``VocError``) become one line on stderr and exit code 2.
"""

from __future__ import annotations

import dataclasses
import errno
import gc
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from voc.errors import VocError
from voc.weeks import Quarter, Week

# Offline and quiet by default; users can still override any of these.
for _k, _v in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    # Prefect's run logs (the UI) get INFO, the terminal only warnings and errors: each
    # command prints its own summary (flows/logs.py puts the project's loggers in the run logs)
    "PREFECT_LOGGING_LEVEL": "INFO",
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
}.items():
    os.environ.setdefault(_k, _v)

# an OSError with one of these is the machine's state (disk, permissions), not a bug: said in one line
_EXPECTED_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENOENT,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EEXIST,
    errno.EMFILE,
    errno.ENAMETOOLONG,
}


def log_file() -> Path:
    """Where unexpected errors are logged with their traceback: ``VOC_LOG_FILE``, else
    ``$XDG_STATE_HOME/voc/voc-errors.log`` (``~/.local/state/voc/voc-errors.log``)."""
    if os.environ.get("VOC_LOG_FILE"):
        return Path(os.environ["VOC_LOG_FILE"]).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "voc" / "voc-errors.log"


def _log_unexpected(e: BaseException) -> Path:
    import tempfile
    import traceback
    from datetime import datetime

    text = f"--- {datetime.now():%Y-%m-%d %H:%M:%S} voc {' '.join(sys.argv[1:])}\n" + "".join(
        traceback.format_exception(e)
    )
    for path in (log_file(), Path(tempfile.gettempdir()) / "voc-errors.log"):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(text)
            return path
        except OSError:
            continue
    return Path("(nowhere: no writable log file)")


def _expected(e: Exception) -> list[str] | None:
    """The line(s) for a failure that is the environment's state rather than a bug, else None."""
    if isinstance(e, VocError):
        return e.lines()
    if type(e).__module__.startswith("sqlalchemy"):
        from sqlalchemy.exc import DBAPIError, OperationalError

        from voc.store.db import describe_error

        if isinstance(e, (OperationalError, DBAPIError)):
            return [describe_error(e)]
    if isinstance(e, OSError) and e.errno in _EXPECTED_ERRNOS:
        where = f": {e.filename}" if e.filename else ""
        return [f"{e.strerror or e}{where}"]
    return None


class _QuietExpectedRuns(logging.Filter):
    """Put on Prefect's console handler by the CLI: a task or flow run that failed on an expected error
    (:func:`_expected`: any VocError, a database refusing, ...) prints neither its traceback nor its
    "Finished in state Failed" line, because the CLI says the same in one ``error:`` line.

    Only the console is quieted: the API handler (the Prefect UI) still gets every record with its
    traceback, and the run's state is Failed as before. Other records pass untouched.
    """

    def __init__(self) -> None:
        super().__init__()
        self.failed_runs: set[str] = set()  # runs that failed on an expected error

    def filter(self, record: logging.LogRecord) -> bool:
        run = getattr(record, "task_run_id", None) or getattr(record, "flow_run_id", None)
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, Exception) and _expected(exc) is not None:
            if run is not None:
                self.failed_runs.add(str(run))
            return False
        # the run's closing line repeats the exception (as text, without exc_info)
        return not (
            run is not None
            and str(run) in self.failed_runs
            and str(record.msg).startswith("Finished in state")
        )


def _quiet_prefect_console() -> None:
    """Install :class:`_QuietExpectedRuns` on every Prefect console handler (once). Prefect configures
    its logging when it is imported, so this runs after that, before a flow starts. Not for `voc serve`:
    there no CLI line follows a scheduled run, so Prefect's own lines are the only report."""
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [
        logging.getLogger(),
        *(x for x in logging.root.manager.loggerDict.values() if isinstance(x, logging.Logger)),
    ]
    for lg in loggers:
        for h in lg.handlers:
            if isinstance(h, PrefectConsoleHandler) and not any(
                isinstance(f, _QuietExpectedRuns) for f in h.filters
            ):
                h.addFilter(_QuietExpectedRuns())


class _VocGroup(TyperGroup):
    """Every failure of a command ends as clear lines on stderr, never a traceback.

    Expected ones (any VocError, a database refusing, a full disk or a read-only file) print one
    ``error: ...`` line (a config file with several wrong fields: one line per field) and exit 2.
    Anything else is a bug: its traceback goes to :func:`log_file`, and one line says where (exit 1).
    """

    def invoke(self, ctx: typer._click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer._click.exceptions.ClickException):
            raise  # --help, usage errors and explicit exits keep their own output and codes
        except Exception as e:  # noqa: BLE001 - this is the one place every error is turned into lines
            said = _expected(e)
            if said is not None:
                for line in said:
                    typer.echo("error: " + " ".join(line.split()), err=True)
                raise SystemExit(2) from None
            log = _log_unexpected(e)
            first = " ".join(str(e).split())[:200]
            typer.echo(
                f"error: unexpected {type(e).__name__}{': ' + first if first else ''} "
                f"(a bug; the traceback is in {log})",
                err=True,
            )
            raise SystemExit(1) from None


app = typer.Typer(
    cls=_VocGroup,
    add_completion=False,
    no_args_is_help=True,
    help="Voice-of-customer pipeline: closed tickets -> weekly 'complaints into opportunities' briefs.",
)
topics_app = typer.Typer(
    help="The topic catalogue: list (by theme), show, rename, merge, ignore, move, export.",
    invoke_without_command=True,
)
actions_app = typer.Typer(help="Action items: the closed loop from a surge to a fix.", no_args_is_help=True)
quarantine_app = typer.Typer(
    help="Rows that could not be ingested, with the reason.", invoke_without_command=True
)
themes_app = typer.Typer(
    help="Themes over the topics (`voc topics` lists them): rename, merge.", no_args_is_help=True
)
app.add_typer(topics_app, name="topics")
app.add_typer(themes_app, name="themes")
app.add_typer(actions_app, name="actions")
app.add_typer(quarantine_app, name="quarantine")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        def v(dist: str) -> str:
            try:
                return version(dist)
            except PackageNotFoundError:
                return "not installed"

        typer.echo(
            f"voc {v('voc-pipeline')} (Prefect {v('prefect')}, SQLAlchemy {v('sqlalchemy')}, "
            f"Python {sys.version.split()[0]})"
        )
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit")
    ] = False,
) -> None:
    """Voice-of-customer pipeline: closed tickets -> weekly 'complaints into opportunities' briefs."""


WeekOpt = Annotated[
    str | None, typer.Option("--week", help="ISO week, e.g. 2026-W47 (default: latest complete week)")
]


def _ctx(ready: bool = True) -> tuple[Any, Any, Any]:
    """Settings, config and engine, built once at the entry point; ``ready`` checks the schema exists."""
    from voc.config.settings import settings_from_env
    from voc.store.db import check_ready, make_engine

    settings = settings_from_env()
    cfg = settings.load_config()
    engine = make_engine(settings.database_url)
    if ready:
        check_ready(engine)
    return settings, cfg, engine


def _prefect_ready() -> None:
    """With a configured Prefect server, make sure it answers before starting flows."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        return  # Prefect starts its local ephemeral API itself
    import httpx

    try:
        httpx.get(url.rstrip("/") + "/health", timeout=5).raise_for_status()
    except httpx.HTTPError as e:
        raise VocError(
            f"the Prefect API at {url} does not answer ({type(e).__name__}): start it with "
            "`prefect server start`, or unset PREFECT_API_URL to run on the local ephemeral API"
        ) from None


@contextmanager
def _progress(what: str | None = None) -> Iterator[Callable[[str, int, int], None] | None]:
    """Progress bars on stderr for long work, drawn only when stderr is a terminal (logs, pipes and
    tests get nothing). Yields ``update(label, done, total)``; ``what`` alone draws a spinner."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bars: dict[str, Any] = {}
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as p:
        if what:
            p.add_task(what, total=None)

        def update(label: str, done: int, total: int) -> None:
            key = label.split(":")[0]  # "stage: topics" and "stage: brief" share one bar
            if key not in bars:
                bars[key] = p.add_task(label, total=total)
            p.update(bars[key], description=label, completed=done, total=total)

        yield update


def _week(text: str | None) -> Week:
    return Week.parse(text) if text else Week.latest_complete()


def _split(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


@app.command()
def init() -> None:
    """Create or upgrade the database schema (safe to run again)."""
    from voc.store.db import migrate

    settings, _, engine = _ctx(ready=False)
    migrate(engine)
    typer.echo(f"database ready: {engine.url.render_as_string(hide_password=True)}")


@app.command()
def ingest(
    source: Annotated[str | None, typer.Option(help="Only this source from the config")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Per-source counts as JSON")] = False,
) -> None:
    """Pull new closed tickets from the configured sources (a Prefect flow); one summary line per source."""
    from voc.flows.weekly import given, ingest_flow

    settings, cfg, engine = _ctx()
    _prefect_ready()
    _quiet_prefect_console()
    with given(settings, cfg):
        summaries = ingest_flow(source)
    if as_json:
        typer.echo(json.dumps(summaries, ensure_ascii=False, indent=2))
    else:
        for s in summaries:
            typer.echo(s["line"])
    for s in summaries:  # a source left out (no drop folder yet) does not fail the command
        for warning in s["warnings"]:
            typer.echo(warning, err=True)


@app.command("ingest-file")
def ingest_file(
    path: Path,
    mapping: Annotated[str | None, typer.Option(help="Named field mapping from the config")] = None,
    source: Annotated[
        str | None, typer.Option(help="Source name (default: the mapping name, or 'files')")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="Override encoding detection, e.g. gb18030")] = None,
    force: Annotated[bool, typer.Option(help="Re-read even if this exact file was ingested before")] = False,
) -> None:
    """Ingest one export file or a folder of them; bad rows are quarantined with a reason."""
    from voc.sources.ingest import ingest_path

    settings, cfg, engine = _ctx()
    with _progress(f"ingesting {path}"):
        summary = ingest_path(
            engine,
            path,
            source or mapping or "files",
            cfg.mapping(mapping),
            encoding=encoding,
            max_body_chars=cfg.max_body_chars,
            force=force,
        )
    line = summary.line()
    if summary.reasons:
        line += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(summary.reasons.items())) + ")"
    typer.echo(line)
    for warning in summary.warnings():  # a file left out does not fail the command; it is said on stderr
        typer.echo(warning, err=True)


@quarantine_app.callback()
def quarantine(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List quarantined rows (not yet replayed)."""
    if ctx.invoked_subcommand:
        return
    from voc.store.ingest_log import list_quarantine

    _, _, engine = _ctx()
    with engine.connect() as conn:
        rows = list_quarantine(conn, source)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "source": r.source,
                        "location": r.location,
                        "reason": r.reason,
                        "raw": json.loads(r.raw),
                    }
                    for r in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for r in rows:
        typer.echo(f"{r.id}\t{r.source}\t{r.location}\t{r.reason}")
    typer.echo(f"{len(rows)} quarantined row(s)")


@quarantine_app.command("replay")
def quarantine_replay(source: Annotated[str | None, typer.Option(help="Only this source")] = None) -> None:
    """Re-validate quarantined rows with the current config; rows that now pass are stored."""
    from voc.sources.ingest import replay_quarantine

    _, cfg, engine = _ctx()
    fixed, still = replay_quarantine(engine, source, cfg.source_mappings(), cfg.max_body_chars)
    typer.echo(f"replayed: {fixed} stored, {still} still quarantined")


@app.command()
def analyze(
    week: WeekOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Each stage's summary as JSON")] = False,
) -> None:
    """Understand new tickets, update topics and counts, detect surges for a week (a Prefect flow)."""
    from voc.flows.weekly import analyze_flow, given

    settings, cfg, engine = _ctx()
    w = _week(week)
    _prefect_ready()
    _quiet_prefect_console()
    with _progress() as progress:
        with given(settings, cfg):
            lines = analyze_flow(str(w), progress)
    stages = dict(zip(("understand", "topics", "surges"), lines, strict=True))
    if as_json:
        typer.echo(json.dumps({"week": str(w), **stages}, ensure_ascii=False, indent=2))
        return
    typer.echo(f"analyzed {w}:")
    for stage, line in stages.items():
        typer.echo(f"  {stage}: {line}")


@app.command()
def brief(
    week: WeekOpt = None,
    lang: Annotated[str, typer.Option(help="zh, en or zh,en")] = "zh,en",
    format: Annotated[
        str, typer.Option("--format", help="html, md, pdf (needs Chromium), comma-separated")
    ] = "html,md",
    out: Annotated[Path | None, typer.Option(help="Output folder (default VOC_OUT_DIR)")] = None,
) -> None:
    """Render the weekly meeting brief from the analysed week."""
    from voc.flows.brief_stage import write_brief

    settings, cfg, engine = _ctx()
    for p in write_brief(engine, cfg, _week(week), out or settings.out_dir, _split(lang), _split(format)):
        typer.echo(str(p))


@app.command()
def alerts(
    week: WeekOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be sent; send nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    to: Annotated[
        Path | None, typer.Option("--to", help="Write alerts as files here instead of e-mail")
    ] = None,
) -> None:
    """Send surge alerts to product owners (once per surge; again only when it escalates)."""
    from voc.flows import alert_stage

    settings, cfg, engine = _ctx()
    w = _week(week)
    sink = to or (Path(cfg.alerts.sink_dir) if cfg.alerts.sink_dir else None)
    if dry_run:
        planned = alert_stage.plan(engine, cfg, w, "file" if sink else "email")
        rows = [
            {
                "owner": p.alert.owner,
                "recipient": p.message.recipient,
                "channel": p.alert.channel,
                "language": p.alert.language,
                "kind": p.alert.kind,
                "deferred": p.deferred,
                "subject": p.message.subject,
                "text": p.message.text,
            }
            for p in planned
        ]
        if as_json:
            typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        for r in rows:
            note = ", deferred: quiet hours" if r["deferred"] else ""
            typer.echo(
                f"--- to {r['recipient']} ({r['owner']}, {r['channel']}, {r['language']}, {r['kind']}{note})\n"
                f"Subject: {r['subject']}\n{r['text']}"
            )
        typer.echo(f"{len(rows)} alert(s) would be sent")
        return
    stats = alert_stage.run(engine, cfg, w, alert_stage.channel_from(settings, sink))
    typer.echo(f"alerts {w}: " + ", ".join(f"{v} {k}" for k, v in stats.items()))


@app.command()
def review(
    quarter: Annotated[str | None, typer.Option(help="e.g. 2026-Q4 (default: the current quarter)")] = None,
    lang: Annotated[str, typer.Option(help="zh, en or zh,en")] = "zh,en",
    format: Annotated[
        str, typer.Option("--format", help="html, md, pdf (needs Chromium), comma-separated")
    ] = "html,md",
    out: Annotated[Path | None, typer.Option(help="Output folder")] = None,
) -> None:
    """Quarterly improvement review: did last quarter's fixes reduce complaints?"""
    from voc.flows.review_stage import write_review

    settings, cfg, engine = _ctx()
    q = Quarter.parse(quarter) if quarter else Quarter.of(date.today())
    for p in write_review(engine, cfg, q, out or settings.out_dir, _split(lang), _split(format)):
        typer.echo(str(p))


@app.command()
def surges(
    week: WeekOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    counts: Annotated[
        Path | None, typer.Option(help="Backtest any count table (CSV) instead of the store")
    ] = None,
    period_col: Annotated[str, typer.Option(help="Period column of --counts")] = "period",
    cell_cols: Annotated[str, typer.Option(help="Comma-separated cell columns of --counts")] = "cell",
    count_col: Annotated[str, typer.Option(help="Count column of --counts")] = "n",
    exposure_col: Annotated[str | None, typer.Option(help="Exposure column (default: period total)")] = None,
    freq: Annotated[str, typer.Option(help="W (weeks) or M (months)")] = "W",
) -> None:
    """List surges: for a week in the store, or a backtest over an external count table."""
    if counts is not None:
        import pandas as pd

        from voc.surges import SurgeParams, backtest

        df = pd.read_csv(counts)
        res = backtest(df, period_col, _split(cell_cols), count_col, exposure_col, freq, SurgeParams())
        if as_json:
            typer.echo(res.to_json(orient="records", force_ascii=False, indent=2, default_handler=str))
            return
        cols = [
            c
            for c in (
                "period_label",
                "cell",
                "observed",
                "expected",
                "ratio",
                "q",
                "methods",
                "new_cell",
                "first_label",
            )
            if c in res.columns
        ]
        with pd.option_context("display.width", 200, "display.max_colwidth", 60, "display.max_rows", None):
            typer.echo(
                res[cols].round({"expected": 1, "ratio": 2, "q": 4}).to_string(index=False)
                if len(res)
                else "no surges flagged"
            )
        missing = res.attrs.get("missing_periods") or []
        typer.echo(
            f"{len(res)} flagged cell-periods; missing-data periods (not tested): "
            f"{', '.join(missing) if missing else 'none'}"
        )
        return
    from voc.store.analysis import load_surges

    _, _, engine = _ctx()
    w = _week(week)
    with engine.connect() as conn:
        rows = [dataclasses.asdict(r) for r in load_surges(conn, w.ordinal())]
    for r in rows:
        r["week"] = str(w)
        r["first_week"] = str(Week.from_ordinal(r["first_week"]))
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    for r in rows:
        typer.echo(f"{r['level']}\t{r['cell']}\t{r['explanation_en']}")
    typer.echo(f"{len(rows)} surge row(s) in {w}")


@topics_app.callback()
def topics(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the themes with their topics (stable ids); topics without a theme last."""
    if ctx.invoked_subcommand:
        return
    from voc.store.analysis import load_topics
    from voc.store.themes import load_themes, topic_theme_map

    _, _, engine = _ctx()
    with engine.connect() as conn:
        ts, themes, theme_of = load_topics(conn), load_themes(conn), topic_theme_map(conn)
    rows = [
        {
            "id": t.id,
            "intent": t.intent,
            "label": t.label,
            "status": t.status,
            "merged_into": t.merged_into,
            "keywords": [k for k in t.keywords.split(" / ") if k],
            "human_label": t.human_label,
            "theme_id": theme_of.get(t.id),
        }
        for t in ts
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    by_id = {r["id"]: r for r in rows}
    for th in themes:
        if not th.topic_ids:
            continue
        en = f" | {th.label_en}" if th.label_en and th.label_en != th.label else ""
        typer.echo(f"theme {th.id}\t{th.status}\t{th.label}{en}")
        for tid in th.topic_ids:
            r = by_id[tid]
            typer.echo(f"  {r['id']}\t{r['intent']}\t{r['status']}\t{r['label']}")
    rest = [r for r in rows if r["theme_id"] is None]
    if rest and len(rest) < len(rows):
        typer.echo("no theme:")
    for r in rest:
        typer.echo(
            f"  {r['id']}\t{r['intent']}\t{r['status']}\t{r['label']}"
            + (f" -> {r['merged_into']}" if r["merged_into"] else "")
        )


@topics_app.command("rename")
def topics_rename(topic_id: int, label: str) -> None:
    """Give a topic a human label; it survives every refit."""
    from voc.store import topic_edits

    _, _, engine = _ctx()
    topic_edits.rename(engine, topic_id, label)
    typer.echo(f"topic {topic_id} renamed to {label!r}")


@topics_app.command("merge")
def topics_merge(source_id: int, target_id: int) -> None:
    """Merge topic A into topic B (A's tickets count as B's from now on; recorded in lineage)."""
    from voc.store import topic_edits

    _, _, engine = _ctx()
    topic_edits.merge(engine, source_id, target_id)
    typer.echo(f"topic {source_id} merged into {target_id}")


@topics_app.command("move")
def topics_move(topic_id: int, theme_id: int) -> None:
    """Put a topic in another theme; later runs and refits keep it there."""
    from voc.store import themes

    _, _, engine = _ctx()
    themes.move(engine, topic_id, theme_id)
    typer.echo(f"topic {topic_id} moved to theme {theme_id}")


@themes_app.command("rename")
def themes_rename(
    theme_id: int,
    label: str,
    en: Annotated[str | None, typer.Option("--en", help="English label too")] = None,
) -> None:
    """Give a theme a human label; it survives every refit."""
    from voc.store import themes

    _, _, engine = _ctx()
    themes.rename(engine, theme_id, label, en)
    typer.echo(f"theme {theme_id} renamed to {label!r}")


@themes_app.command("merge")
def themes_merge(source_id: int, target_id: int) -> None:
    """Merge theme A into theme B (A's topics stay in B through refits; recorded in lineage)."""
    from voc.store import themes

    _, _, engine = _ctx()
    themes.merge(engine, source_id, target_id)
    typer.echo(f"theme {source_id} merged into {target_id}")


@topics_app.command("ignore")
def topics_ignore(topic_id: int) -> None:
    """Hide a topic from briefs and alerts (e.g. spam); survives refits."""
    from voc.store import topic_edits

    _, _, engine = _ctx()
    topic_edits.ignore(engine, topic_id)
    typer.echo(f"topic {topic_id} ignored")


@topics_app.command("unignore")
def topics_unignore(topic_id: int) -> None:
    """Show an ignored topic again."""
    from voc.store import topic_edits

    _, _, engine = _ctx()
    topic_edits.unignore(engine, topic_id)
    typer.echo(f"topic {topic_id} no longer ignored")


@topics_app.command("split")
def topics_split(
    topic_id: int,
    label: Annotated[str, typer.Option(help="Label of the new topic")],
    tickets: Annotated[
        str, typer.Option(help="Ticket ids as the workbench shows them (the store's ids), comma-separated")
    ],
) -> None:
    """Move chosen tickets of a topic into a new topic (same theme, a human label); undoable."""
    from voc.store import edit_log, topic_edits

    ids = [int(x) for x in tickets.replace(" ", "").split(",") if x.isdigit()]
    _, _, engine = _ctx()
    edit = topic_edits.split(engine, topic_id, ids, label)
    with engine.connect() as conn:
        new = edit_log.get(conn, edit).target_id
    typer.echo(f"{len(ids)} ticket(s) of topic {topic_id} split off into topic {new}")


@topics_app.command("history")
def topics_history(limit: int = 30, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The latest edits of topics and themes (CLI and web): who, when, before and after."""
    from voc.store import edit_log

    _, _, engine = _ctx()
    with engine.connect() as conn:
        edits = edit_log.history(conn, limit)
    if as_json:
        typer.echo(
            json.dumps([dataclasses.asdict(e) for e in edits], ensure_ascii=False, indent=2, default=str)
        )
        return
    for e in edits:
        undone = f"\tundone {e.undone_at:%Y-%m-%d %H:%M} by {e.undone_by}" if e.undone_at else ""
        target = f" -> {e.target_id}" if e.target_id is not None else ""
        after = {k: v for k, v in e.after.items() if k != "human_label"}
        typer.echo(
            f"{e.id}\t{e.at:%Y-%m-%d %H:%M}\t{e.who}\t{e.kind} {e.subject_id}{target}\t"
            f"{json.dumps(after, ensure_ascii=False)}{undone}"
        )
    if not edits:
        typer.echo("no edits yet")


@topics_app.command("undo")
def topics_undo(edit_id: int) -> None:
    """Undo one edit of `voc topics history` (refused when a later edit changed the same thing)."""
    from voc.store import edit_log

    _, _, engine = _ctx()
    e = edit_log.undo(engine, edit_id, "cli")
    typer.echo(f"edit {e.id} ({e.kind} {e.subject_id}) undone")


@topics_app.command("refit")
def topics_refit(
    intent: Annotated[
        str | None, typer.Option(help="complaint, question or suggestion (default: all)")
    ] = None,
    week: WeekOpt = None,
) -> None:
    """Refit the catalogue on all history up to a week; ids, human labels, ignores and merges are kept."""
    from voc.flows.topic_stage import INTENTS, refit_topics

    if intent is not None and intent not in INTENTS:
        raise VocError(f"unknown intent {intent!r}: use one of {', '.join(INTENTS)}")
    _, cfg, engine = _ctx()
    w = _week(week)
    summary = refit_topics(engine, cfg, w, intent)
    typer.echo(f"topic refit up to {w}:")
    for line in summary.lines():
        typer.echo("  " + line)


@topics_app.command("show")
def topics_show(topic_id: int, weeks: int = 8) -> None:
    """Keywords, weekly size and three representative (redacted) quotes of a topic."""
    from voc.store import report_queries, topic_edits

    _, _, engine = _ctx()
    t = topic_edits.get(engine, topic_id)
    w = Week.latest_complete().ordinal()
    with engine.connect() as conn:
        hist = report_queries.cell_history(conn, t.intent, topic_id, None, None, None, w - weeks * 10, w)
        last = max(hist) if hist else w
        qs = report_queries.quotes(conn, topic_id, last - weeks + 1, last)
    typer.echo(f"topic {t.id} [{t.intent}, {t.status}] {t.label}")
    typer.echo(f"keywords: {t.keywords}")
    typer.echo(
        "weekly size: "
        + ", ".join(f"{Week.from_ordinal(x)}: {hist.get(x, 0)}" for x in range(last - weeks + 1, last + 1))
    )
    for text, _ in qs:
        typer.echo(f"  “{text}”")


@topics_app.command("assignments")
def topics_assignments(
    out: Annotated[Path, typer.Option(help="CSV file to write")],
    week: Annotated[str | None, typer.Option(help="Only tickets of this ISO week")] = None,
) -> None:
    """Export ticket_id, topic_id, topic_label, intent as CSV."""
    from voc.store import topic_edits

    _, _, engine = _ctx()
    n = topic_edits.export_assignments(engine, out, Week.parse(week).ordinal() if week else None)
    typer.echo(f"wrote {n} rows to {out}")


@actions_app.command("add")
def actions_add(
    topic: Annotated[int | None, typer.Option(help="Topic id")] = None,
    product: Annotated[str | None, typer.Option()] = None,
    batch: Annotated[str | None, typer.Option()] = None,
    owner: Annotated[str, typer.Option()] = "",
    due: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    note: Annotated[str, typer.Option()] = "",
) -> None:
    """Record an action item against a topic (and product/batch)."""
    from voc.store import action_items

    _, _, engine = _ctx()
    aid = action_items.add(engine, topic, product, batch, owner, _date(due), note)
    typer.echo(f"action {aid} added")


@actions_app.command("list")
def actions_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List action items."""
    from voc.store import report_queries

    _, _, engine = _ctx()
    with engine.connect() as conn:
        rows = report_queries.actions(conn)
    data = [
        {
            "id": a.id,
            "topic_id": a.topic_id,
            "product": a.product,
            "batch": a.batch,
            "owner": a.owner,
            "status": a.status,
            "due": a.due,
            "fix_date": a.fix_date,
            "note": a.note,
        }
        for a in rows
    ]
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    for d in data:
        typer.echo(
            "\t".join(
                str(d[k] if d[k] is not None else "")
                for k in ("id", "status", "owner", "topic_id", "product", "batch", "due", "fix_date", "note")
            )
        )


@actions_app.command("update")
def actions_update(
    action_id: int,
    status: Annotated[str | None, typer.Option(help="open | doing | done")] = None,
    fix_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD the fix shipped")] = None,
    note: Annotated[str | None, typer.Option()] = None,
    owner: Annotated[str | None, typer.Option(help="Reassign it")] = None,
    due: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
) -> None:
    """Change an action item's status, fix date, note, owner or due date."""
    from voc.store import action_items

    _, _, engine = _ctx()
    action_items.update_action(engine, action_id, status, _date(fix_date), note, owner=owner, due=_date(due))
    typer.echo(f"action {action_id} updated")


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise VocError(f"not a date (YYYY-MM-DD): {text!r}") from None


@app.command("run-weekly")
def run_weekly(
    week: WeekOpt = None,
    out: Annotated[Path | None, typer.Option(help="Output folder for briefs")] = None,
    alerts_to: Annotated[Path | None, typer.Option(help="Write alerts as files here")] = None,
    resume: Annotated[bool, typer.Option(help="Skip stages that already finished for this week")] = False,
) -> None:
    """The whole weekly flow: ingest, understand, topics, surges, brief, alerts."""
    from voc.flows.weekly import given, weekly_flow
    from voc.store.run_lock import week_lock

    settings, cfg, engine = _ctx()
    sink = alerts_to or (Path(cfg.alerts.sink_dir) if cfg.alerts.sink_dir else None)
    w = _week(week)
    # the week's lock is taken here, before Prefect starts: a refused run is one line, not a flow failure
    with week_lock(engine, w.ordinal(), str(w)):
        _prefect_ready()
        _quiet_prefect_console()
        with _progress() as progress:
            with given(settings, cfg):
                res = weekly_flow(
                    str(w), out or settings.out_dir, sink, resume=resume, progress=progress, take_lock=False
                )
    for p in res.outputs:
        typer.echo(p)
    for warning in res.warnings:  # e.g. a drop folder nobody created yet: the run went on without it
        typer.echo(warning, err=True)


@app.command("check-safety")
def check_safety(
    now: Annotated[
        str | None,
        typer.Option(
            help="The clock, e.g. 2026-11-27T18:00 (schedules.timezone unless it has an offset; default: now)"
        ),
    ] = None,
    alerts_to: Annotated[
        Path | None, typer.Option(help="Write alerts as files here instead of sending them")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The daily safety check by hand: ingest, understand, topics and counts, then safety surges over the
    last 7 days; owners and the safety list are alerted at once (once per surge, again if it escalates)."""
    from voc.flows.safety import parse_now, safety_flow, safety_locks, utc_naive
    from voc.flows.weekly import given

    settings, cfg, engine = _ctx()
    sink = alerts_to or (Path(cfg.alerts.sink_dir) if cfg.alerts.sink_dir else None)
    at = utc_naive(parse_now(now, cfg))
    with safety_locks(engine, at):  # before Prefect starts: a refused run is one line, as for run-weekly
        _prefect_ready()
        _quiet_prefect_console()
        with _progress() as progress:
            with given(settings, cfg):
                res = safety_flow(at, sink, progress, take_lock=False)
    typer.echo(json.dumps(res.as_dict(), ensure_ascii=False) if as_json else res.line())


@app.command()
def serve() -> None:
    """Run the schedules (ingest, weekly, daily safety check, quarterly review). Needs a Prefect server."""
    from voc.flows.serve import serve_all

    settings, cfg, engine = _ctx()
    _prefect_ready()
    serve_all(settings, cfg)


@app.command()
def web(
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on; anything but localhost needs VOC_WEB_TOKEN or VOC_WEB_EDITOR_TOKEN"
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")] = 8800,
) -> None:
    """The web workbench: every analysed week, its brief built live, each surge down to its redacted
    tickets; the topic catalogue, edited in place. Localhost only unless VOC_WEB_TOKEN (viewer) or
    VOC_WEB_EDITOR_TOKEN (editor) is set (then every request needs one); without a token the local
    user is an editor."""
    from voc.config.settings import settings_from_env
    from voc.web import check_bind, create_app
    from voc.web.security import is_loopback

    settings = settings_from_env()
    secret, editor = (
        s.get_secret_value() if s is not None else None
        for s in (settings.web_token, settings.web_editor_token)
    )
    check_bind(host, secret, editor)  # before anything else: a refused bind is one line and exit 2
    import uvicorn

    _, cfg, engine = _ctx()
    app_ = create_app(engine, cfg, token=secret, editor_token=editor, loopback_only=is_loopback(host))
    # what the process holds once the app is built (~135k objects: libraries, templates, settings)
    # lives as long as the server: the cyclic garbage collector stops walking it. Its full
    # collections added 70-100 ms to one request in five (bench/web.py, the catalogue page on 1M
    # tickets on PostgreSQL: p95 353 -> 221 ms, median 203 -> 196)
    gc.freeze()
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"voc web: http://{shown}:{port}/weeks (Ctrl-C to stop)")
    uvicorn.run(app_, host=host, port=port, log_level="info")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo database, data, briefs and alerts")] = Path(
        "voc-demo"
    ),
    week: WeekOpt = None,
    alerts_to: Annotated[Path | None, typer.Option(help="Alert sink folder (default OUT/outbox)")] = None,
) -> None:
    """Generate bundled sample tickets and run the weekly flow on them; writes briefs and alerts."""
    from voc.flows.demo import run_demo

    _quiet_prefect_console()
    for line in run_demo(out, _week(week), alerts_to):
        typer.echo(line)


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    # SIGTERM/SIGHUP end the run as an exit (not the default instant death), so atexit handlers run:
    # Prefect stops the ephemeral API server it started (a killed run used to leave it behind).
    # SIGKILL cannot be handled; that server then lingers until it is stopped by hand.
    import signal

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, _exit_on_signal)
    app()


if __name__ == "__main__":
    main()
