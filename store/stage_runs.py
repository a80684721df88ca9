"""The weekly run's stage bookkeeping (``stage_runs``): which stages finished for a week, so
``voc run --resume`` skips them and the workbench knows which weeks were judged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, exists, insert, select

from voc.store.models import StageRun


def mark_done(engine: Engine, week: int, stage: str, summary: str) -> None:
    """Stage ``stage`` finished for week ``week`` (an ordinal), with its summary (cut to 2,000 chars)."""
    with engine.begin() as conn:
        conn.execute(delete(StageRun).where(StageRun.week == week, StageRun.stage == stage))
        conn.execute(
            insert(StageRun).values(
                week=week,
                stage=stage,
                status="ok",
                summary=summary[:2000],
                finished_at=datetime.now().replace(microsecond=0),
            )
        )


def done_stages(engine: Engine, week: int) -> set[str]:
    """The stages that finished for week ``week``."""
    with engine.connect() as conn:
        return set(
            conn.execute(
                select(StageRun.stage).where(StageRun.week == week, StageRun.status == "ok")
            ).scalars()
        )


def clear(engine: Engine, week: int) -> None:
    """Forget the week's stages (a run that is not resuming starts over)."""
    with engine.begin() as conn:
        conn.execute(delete(StageRun).where(StageRun.week == week))


def ran(engine: Engine, week: int, stage: str) -> bool:
    """Did stage ``stage`` run for week ``week`` (whatever its status)?"""
    with engine.connect() as conn:
        return bool(
            conn.execute(select(exists().where(StageRun.week == week, StageRun.stage == stage))).scalar()
        )
