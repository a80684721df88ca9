"""``voc serve``: the schedules, as Prefect deployments served from this process.

Prefect only schedules runs against a real server (`prefect server start` and PREFECT_API_URL);
on the ephemeral API we stop with an explanation instead of silently running nothing.
"""

from __future__ import annotations

from prefect import flow, serve
from prefect.schedules import Cron

from voc.config.settings import Settings, VocConfig, settings_from_env
from voc.errors import ConfigError
from voc.flows.review_stage import write_review
from voc.flows.safety import safety_flow
from voc.flows.weekly import ingest_flow, weekly_flow
from voc.store.db import make_engine
from voc.weeks import Quarter, Week


@flow(name="voc-scheduled-weekly", log_prints=True)
def scheduled_weekly(week: str | None = None) -> None:
    """``week``: an ISO week to (re-)run; default the latest complete week. Settings and config come from
    this process's environment (never flow parameters: Prefect stores those in plain text)."""
    weekly_flow(week)


@flow(name="voc-scheduled-ingest", log_prints=True)
def scheduled_ingest() -> None:
    ingest_flow()


@flow(name="voc-safety-check", log_prints=True)
def safety_check() -> None:
    """Daily (schedules.safety_cron): the safety run (flows/safety.py): ingest, understand, topics and
    counts, the safety cells over the last 7 days, alerts to the owners and the safety list at once."""
    print(safety_flow().line())


@flow(name="voc-quarterly-review", log_prints=True)
def scheduled_review() -> None:
    settings = settings_from_env()
    cfg = settings.load_config()
    last_quarter_day = Quarter.of(Week.latest_complete().start)
    write_review(
        make_engine(settings.database_url),
        cfg,
        last_quarter_day,
        settings.out_dir,
        list(cfg.report.languages),
        list(cfg.report.formats),
    )


def serve_all(settings: Settings, cfg: VocConfig) -> None:
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():  # the environment or the active Prefect profile (`prefect config set`)
        raise ConfigError(
            "schedules need a Prefect server: run `prefect server start` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (see README 'Scheduling')"
        )
    s = cfg.schedules
    # in a sync context to_deployment returns the RunnerDeployment; prefect types it as maybe-a-coroutine
    serve(
        scheduled_ingest.to_deployment(name="ingest", schedule=Cron(s.ingest_cron, timezone=s.timezone)),  # type: ignore[arg-type]
        scheduled_weekly.to_deployment(name="weekly", schedule=Cron(s.weekly_cron, timezone=s.timezone)),  # type: ignore[arg-type]
        safety_check.to_deployment(name="safety", schedule=Cron(s.safety_cron, timezone=s.timezone)),  # type: ignore[arg-type]
        scheduled_review.to_deployment(
            name="quarterly", schedule=Cron(s.quarterly_cron, timezone=s.timezone)
        ),  # type: ignore[arg-type]
    )
