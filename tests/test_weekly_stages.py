"""The weekly stages on real stores: re-running a week replaces, never duplicates; runs never overlap."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from tests.conftest import understood_sample
from voc.flows.brief_stage import write_brief
from voc.flows.surge_stage import detect_week
from voc.flows.topic_stage import update_topics
from voc.flows.understand import understand_pending
from voc.store import analysis
from voc.store.models import Assignment, Surge, WeeklyCount
from voc.store.run_lock import RunInProgress, week_lock
from voc.weeks import Week

WEEK = Week.parse("2026-W47")


def _snapshot(engine) -> dict[str, list]:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return {
            "surges": sorted(
                tuple(r)
                for r in c.execute(
                    text(
                        "select week, level, cell, observed, cast(expected * 1000000 as integer), q < 0.05 from surges"
                    )
                )
            ),
            "counts": sorted(
                tuple(r)
                for r in c.execute(
                    text("select week, intent, topic_id, product, model, batch, n from weekly_counts")
                )
            ),
            "assignments": sorted(
                tuple(r) for r in c.execute(text("select ticket_id, topic_id from assignments"))
            ),
        }


def _analyse(engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    cfg = understood_sample(engine, tmp_path, str(WEEK))
    update_topics(engine, cfg, WEEK)
    with engine.begin() as conn:
        analysis.rebuild_counts(conn, WEEK.ordinal())
    detect_week(engine, cfg, WEEK)
    return cfg


@pytest.fixture
def analysed(engine, store_templates):  # type: ignore[no-untyped-def]
    """A fresh store per test: a copy of the module's analysed one (built once per backend)."""
    return engine, store_templates.copy(engine, _analyse)


@pytest.mark.slow
def test_rerunning_a_week_gives_identical_results(analysed, tmp_path: Path) -> None:
    engine, cfg = analysed
    before = _snapshot(engine)
    assert before["surges"] and before["counts"] and before["assignments"]
    first = [
        p.read_text(encoding="utf-8") for p in write_brief(engine, cfg, WEEK, tmp_path / "a", ["zh"], ["md"])
    ]
    # the whole analysis again, as a re-run of the same week would do it
    assert understand_pending(engine, cfg) == 0
    update_topics(engine, cfg, WEEK)
    with engine.begin() as conn:
        analysis.rebuild_counts(conn, WEEK.ordinal())
    detect_week(engine, cfg, WEEK)
    assert _snapshot(engine) == before
    second = [
        p.read_text(encoding="utf-8") for p in write_brief(engine, cfg, WEEK, tmp_path / "b", ["zh"], ["md"])
    ]
    assert first == second
    with engine.connect() as c:
        n_assign = c.execute(select(func.count()).select_from(Assignment)).scalar_one()
        n_tickets = c.execute(
            text(
                "select count(*) from tickets where intent in "
                "('complaint','question','suggestion') and week <= :w"
            ),
            {"w": WEEK.ordinal()},
        ).scalar_one()
        weeks = c.execute(select(func.count(func.distinct(Surge.week)))).scalar_one()
        dup = c.execute(
            text(
                "select count(*) from (select week, intent, topic_id, product, model, batch "
                "from weekly_counts group by 1,2,3,4,5,6 having count(*) > 1) d"
            )
        ).scalar_one()
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
        c.execute(
            text("insert into run_locks (week, holder, acquired_at) values (:w, 'dead:1', :t)"),
            {"w": WEEK.ordinal(), "t": "2020-01-01 00:00:00"},
        )
    with week_lock(engine, WEEK.ordinal(), str(WEEK)):
        pass


def _recent_lock(engine, holder: str) -> None:
    from datetime import datetime

    with engine.begin() as c:
        c.execute(
            text("insert into run_locks (week, holder, acquired_at) values (:w, :h, :t)"),
            {"w": WEEK.ordinal(), "h": holder, "t": datetime.now().replace(microsecond=0)},
        )


def test_lock_of_a_killed_process_on_this_host_is_taken_over_at_once(engine) -> None:
    import socket
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    ).stdout.strip()  # a pid that has exited
    _recent_lock(engine, f"{socket.gethostname()}:{gone}")
    with week_lock(engine, WEEK.ordinal(), str(WEEK)):
        pass


@pytest.mark.parametrize("where", ["live process here", "other host"])
def test_recent_lock_of_a_live_or_remote_holder_blocks(engine, where: str) -> None:
    import os
    import socket

    holder = f"{socket.gethostname()}:{os.getppid()}" if where == "live process here" else "elsewhere:1"
    _recent_lock(engine, holder)
    with pytest.raises(RunInProgress, match="already in progress"):
        with week_lock(engine, WEEK.ordinal(), str(WEEK)):
            pass


def test_unreachable_prefect_api_says_what_to_do(sqlite_url: str) -> None:
    # a separate process: Prefect reads PREFECT_API_URL once per process, so setting it here would
    # leak into (or be masked by) every other test that runs a flow
    import os
    import subprocess
    import sys

    env = {**os.environ, "VOC_DATABASE_URL": sqlite_url, "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    cmd = [sys.executable, "-m", "voc.app.cli"]
    assert subprocess.run([*cmd, "init"], env=env, capture_output=True, timeout=120).returncode == 0
    res = subprocess.run(
        [*cmd, "run-weekly", "--week", str(WEEK)], env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2
    assert "Prefect API at http://127.0.0.1:9/api does not answer" in res.stderr
    assert "prefect server start" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


_UNDERSTOOD = (
    "nlp_version, lang, text_clean, resolution_clean, tokens, intent, severity, product_n, model_n, "
    "batch_n, entity_sources, flags"
)


def test_understanding_killed_mid_run_then_rerun_equals_one_clean_run(engine, tmp_path: Path) -> None:
    from voc import sample
    from voc.config.settings import EXAMPLE_CONFIG, Mapping, load_config
    from voc.flows import understand
    from voc.sources.ingest import ingest_path

    rows, _ = sample.generate(WEEK, weeks=3, per_week=60, seed=4)
    sample.write_csv(tmp_path / "t.csv", rows)
    cfg = load_config(EXAMPLE_CONFIG)
    ingest_path(engine, tmp_path / "t.csv", "demo", Mapping())

    def stored() -> list[tuple]:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(text(f"select id, {_UNDERSTOOD} from tickets order by id"))]

    calls = 0

    def dies_in_second_batch(spec, chunks):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt("killed mid-run")
        return understand.run_in_process(spec, chunks)

    with pytest.raises(KeyboardInterrupt):
        understand.understand_pending(engine, cfg, batch_size=50, run_chunks=dies_in_second_batch)
    partial = stored()
    assert sum(r[1] is not None for r in partial) == 50, "the first batch is stored, nothing of the second"
    assert understand.understand_pending(engine, cfg, batch_size=50) == len(partial) - 50
    killed_then_rerun = stored()
    with engine.begin() as c:
        c.execute(text("update tickets set nlp_version = null"))
    assert understand.understand_pending(engine, cfg) == len(partial)  # one clean run over everything
    assert stored() == killed_then_rerun


def test_understanding_pages_on_id_and_still_takes_a_ticket_reset_behind_it(engine, tmp_path: Path) -> None:
    """Batches start where the last one ended (id paging), in the same batches as before; a ticket made
    pending again behind the last batch while the stage runs (a re-ingested version) is still
    understood before it returns, as when every batch started from the first pending id."""
    from voc import sample
    from voc.config.settings import EXAMPLE_CONFIG, Mapping, load_config
    from voc.flows import understand
    from voc.sources.ingest import ingest_path

    rows, _ = sample.generate(WEEK, weeks=3, per_week=60, seed=4)
    sample.write_csv(tmp_path / "t.csv", rows)
    cfg = load_config(EXAMPLE_CONFIG)
    ingest_path(engine, tmp_path / "t.csv", "demo", Mapping())
    with engine.connect() as c:
        ids = [r[0] for r in c.execute(text("select id from tickets order by id"))]
    batches: list[list[int]] = []

    def resets_the_first_ticket(spec, chunks):  # type: ignore[no-untyped-def]
        batches.append([r[0] for ch in chunks for r in ch])
        if len(batches) == 2:  # the first batch is stored: make its first ticket pending again
            with engine.begin() as c:
                c.execute(text("update tickets set nlp_version = null where id = :i"), {"i": ids[0]})
        return understand.run_in_process(spec, chunks)

    n = understand.understand_pending(engine, cfg, batch_size=50, run_chunks=resets_the_first_ticket)
    assert n == len(ids) + 1
    assert batches[:-1] == [ids[i : i + 50] for i in range(0, len(ids), 50)]
    assert batches[-1] == [ids[0]]
    assert understand.pending_count(engine) == 0


@pytest.mark.slow
def test_weekly_run_killed_mid_stage_then_resumed_gives_identical_outputs(
    analysed, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Surges die after writing half their work: the run fails, holds no lock, and --resume finishes it
    (skipping understand/topics) with the same surges, counts, assignments and brief as a clean run."""
    from voc.config.settings import Settings
    from voc.flows import weekly
    from voc.store.models import StageRun

    engine, cfg = analysed
    settings = Settings(database_url=db_url)
    with weekly.given(settings, cfg):
        clean = weekly.weekly_flow(str(WEEK), tmp_path / "clean", ingest=False, alerts=False)
    before = _snapshot(engine)
    real = weekly.detect_week

    def dies_after_writing(*a, **k):  # type: ignore[no-untyped-def]
        real(*a, **k)  # the week's surges are written ...
        raise RuntimeError("killed mid-stage")  # ... but the stage never finishes

    monkeypatch.setattr(weekly, "detect_week", dies_after_writing)
    with pytest.raises(RuntimeError, match="killed mid-stage"), weekly.given(settings, cfg):
        weekly.weekly_flow(str(WEEK), tmp_path / "killed", ingest=False, alerts=False)
    with engine.connect() as c:
        done = set(c.execute(select(StageRun.stage).where(StageRun.week == WEEK.ordinal())).scalars())
        locks = c.execute(text("select count(*) from run_locks")).scalar_one()
    assert done == {"understand", "topics"} and locks == 0
    monkeypatch.setattr(weekly, "detect_week", real)
    with weekly.given(settings, cfg):
        resumed = weekly.weekly_flow(str(WEEK), tmp_path / "resumed", ingest=False, alerts=False, resume=True)
    assert "resumed: skipped topics, understand" in resumed.lines
    assert _snapshot(engine) == before
    assert [Path(p).read_text(encoding="utf-8") for p in resumed.outputs] == [
        Path(p).read_text(encoding="utf-8") for p in clean.outputs
    ]


def test_saved_understanding_is_what_one_update_per_ticket_stores(engine, tmp_path: Path) -> None:
    """save_understanding (one UPDATE from column arrays on PostgreSQL, raw executemany on SQLite) stores
    exactly what one SQLAlchemy UPDATE per ticket stores: the stage's own results, and values that test array quoting (NULL, empty,
    quotes, backslashes, braces, commas, the word NULL, non-BMP characters, long text)."""
    from voc import sample
    from voc.config.settings import EXAMPLE_CONFIG, Mapping, load_config
    from voc.flows import understand
    from voc.sources.ingest import ingest_path

    rows, _ = sample.generate(WEEK, weeks=3, per_week=50, seed=5)
    sample.write_csv(tmp_path / "t.csv", rows)
    cfg = load_config(EXAMPLE_CONFIG)
    ingest_path(engine, tmp_path / "t.csv", "demo", Mapping())
    with engine.connect() as c:
        pending = [tuple(r) for r in analysis.pending_understanding(c, understand.NLP_VERSION, 10**6)]
    out = understand.understand_chunk(understand.nlp_spec(cfg), pending)
    odd = [
        "",
        None,
        "NULL",
        'a "quoted", {braced} \\ back\\slash',
        "{}",
        "{NULL}",
        "逗号，\t tab\nline",
        "😀 𠀀",
        "x" * 5000,
        " lead/trail ",
        "'single'",
    ]
    for i, r in enumerate(out[:40]):
        for k, col in enumerate(
            ("text_clean", "resolution_clean", "tokens", "flags", "product_n", "entity_sources")
        ):
            v = odd[(i + k) % len(odd)]
            r[col] = v[:100] if v and col in ("flags", "product_n", "entity_sources") else v  # their lengths

    def stored() -> list[tuple]:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(text(f"select id, {_UNDERSTOOD} from tickets order by id"))]

    with engine.begin() as c:
        analysis.save_understanding(c, out)
    fast = stored()
    with engine.begin() as c:
        c.execute(
            text("update tickets set " + ", ".join(f"{x.strip()} = null" for x in _UNDERSTOOD.split(",")))
        )
    with engine.begin() as c:
        analysis.save_understanding_each(c, out)
    assert stored() == fast
    assert sum(r[1] is not None for r in fast) == len(out)
