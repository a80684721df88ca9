"""The weekly stages on real stores: re-running a week replaces, never duplicates; runs never overlap."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from flows.brief_stage import write_brief
from flows.surge_stage import detect_week
from flows.topic_stage import update_topics
from flows.understand import understand_pending
from store import analysis
from store.models import Assignment, Surge, WeeklyCount
from store.run_lock import RunInProgress, week_lock
from tests.conftest import understood_sample
from voc.weeks import Week

WEEK = Week.parse("2026-W47")


def _snapshot(engine) -> dict[str, list]:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return {
            "surges": sorted(tuple(r) for r in c.execute(text(
                "select week, level, cell, observed, cast(expected * 1000000 as integer), q < 0.05 from surges"))),
            "counts": sorted(tuple(r) for r in c.execute(text(
                "select week, intent, topic_id, product, model, batch, n from weekly_counts"))),
            "assignments": sorted(tuple(r) for r in c.execute(text("select ticket_id, topic_id from assignments"))),
        }


@pytest.fixture
def analysed(engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    cfg = understood_sample(engine, tmp_path, str(WEEK))
    update_topics(engine, cfg, WEEK)
    with engine.begin() as conn:
        analysis.rebuild_counts(conn, WEEK.ordinal())
    detect_week(engine, cfg, WEEK)
    return engine, cfg


@pytest.mark.slow
def test_rerunning_a_week_gives_identical_results(analysed, tmp_path: Path) -> None:
    engine, cfg = analysed
    before = _snapshot(engine)
    assert before["surges"] and before["counts"] and before["assignments"]
    first = [p.read_text(encoding="utf-8") for p in write_brief(engine, cfg, WEEK, tmp_path / "a", ["zh"], ["md"])]
    # the whole analysis again, as a re-run of the same week would do it
    assert understand_pending(engine, cfg) == 0
    update_topics(engine, cfg, WEEK)
    with engine.begin() as conn:
        analysis.rebuild_counts(conn, WEEK.ordinal())
    detect_week(engine, cfg, WEEK)
    assert _snapshot(engine) == before
    second = [p.read_text(encoding="utf-8") for p in write_brief(engine, cfg, WEEK, tmp_path / "b", ["zh"], ["md"])]
    assert first == second
    with engine.connect() as c:
        n_assign = c.execute(select(func.count()).select_from(Assignment)).scalar_one()
        n_tickets = c.execute(text("select count(*) from tickets where intent in "
                                   "('complaint','question','suggestion') and week <= :w"),
                              {"w": WEEK.ordinal()}).scalar_one()
        weeks = c.execute(select(func.count(func.distinct(Surge.week)))).scalar_one()
        dup = c.execute(text("select count(*) from (select week, intent, topic_id, product, model, batch "
                             "from weekly_counts group by 1,2,3,4,5,6 having count(*) > 1) d")).scalar_one()
    assert n_assign == n_tickets, "every complaint/question/suggestion has exactly one topic"
    assert weeks == 1 and dup == 0
    assert WeeklyCount.__tablename__ == "weekly_counts"


def test_two_runs_for_one_week_never_overlap(engine) -> None:
    with week_lock(engine, WEEK.ordinal(), str(WEEK)):
        with pytest.raises(RunInProgress, match="already in progress"):
            with week_lock(engine, WEEK.ordinal(), str(WEEK)):
                pass
        with week_lock(engine, WEEK.shift(1).ordinal(), "next week"):  # other weeks are free
            pass
    with week_lock(engine, WEEK.ordinal(), str(WEEK)):  # released after the block
        pass


def test_crashed_runs_lock_is_taken_over_when_stale(engine) -> None:
    with engine.begin() as c:
        c.execute(text("insert into run_locks (week, holder, acquired_at) values (:w, 'dead:1', :t)"),
                  {"w": WEEK.ordinal(), "t": "2020-01-01 00:00:00"})
    with week_lock(engine, WEEK.ordinal(), str(WEEK)):
        pass


def test_unreachable_prefect_api_says_what_to_do(sqlite_url: str) -> None:
    # a separate process: Prefect reads PREFECT_API_URL once per process, so setting it here would
    # leak into (or be masked by) every other test that runs a flow
    import os
    import subprocess
    import sys

    env = {**os.environ, "VOC_DATABASE_URL": sqlite_url, "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    cmd = [sys.executable, "-m", "voc.cli"]
    assert subprocess.run([*cmd, "init"], env=env, capture_output=True, timeout=120).returncode == 0
    res = subprocess.run([*cmd, "run-weekly", "--week", str(WEEK)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2
    assert "Prefect API at http://127.0.0.1:9/api does not answer" in res.stderr
    assert "prefect server start" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
