"""Scale-out of the understanding stage: chunks on a thread/process pool or a Dask cluster store exactly
what the sequential run stores (every understanding column), on SQLite and PostgreSQL."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from sqlalchemy import text, update

from voc import sample
from voc.config.settings import EXAMPLE_CONFIG, Mapping, Settings, load_config
from voc.flows import understand
from voc.sources.ingest import ingest_path
from voc.store.models import TicketRow
from voc.weeks import Week

COLUMNS = [
    "nlp_version",
    "lang",
    "text_clean",
    "resolution_clean",
    "tokens",
    "intent",
    "severity",
    "product_n",
    "model_n",
    "batch_n",
    "entity_sources",
    "flags",
]
CHUNK = 50  # tickets per task: 300 generated tickets -> 6 chunks over 2 workers


def _ingested(engine, tmp_path: Path, weeks: int = 3, per_week: int = 100):  # type: ignore[no-untyped-def]
    rows, _ = sample.generate(Week.parse("2026-W47"), weeks=weeks, per_week=per_week, seed=5)
    sample.write_csv(tmp_path / "t.csv", rows)
    ingest_path(engine, tmp_path / "t.csv", "demo", Mapping())
    return load_config(EXAMPLE_CONFIG)


def _stored(engine) -> list[tuple]:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return [
            tuple(r) for r in c.execute(text(f"select id, {', '.join(COLUMNS)} from tickets order by id"))
        ]


def _forget(engine) -> None:  # type: ignore[no-untyped-def]
    """Back to 'never understood': every derived column NULL, so nothing stale can pass for a result."""
    with engine.begin() as c:
        c.execute(update(TicketRow).values({col: None for col in COLUMNS}))
    assert all(v is None for row in _stored(engine) for v in row[1:])


def _sequential(engine, cfg) -> list[tuple]:  # type: ignore[no-untyped-def]
    assert understand.understand_pending(engine, cfg) > 0
    before = _stored(engine)
    assert all(r[1] == understand.NLP_VERSION and r[3] for r in before)
    _forget(engine)
    return before


def test_chunked_run_with_pickled_values_equals_one_batch(engine, tmp_path: Path) -> None:
    cfg = _ingested(engine, tmp_path, per_week=70)
    before = _sequential(engine, cfg)
    seen: list[int] = []

    def via_pickle(spec, chunks):  # type: ignore[no-untyped-def]
        # what a process or Dask worker gets: pickled values in, pickled values out, chunks in any order
        seen.append(len(chunks))
        spec, chunks = pickle.loads(pickle.dumps((spec, chunks)))
        done = {i: understand.understand_chunk(spec, c) for i, c in reversed(list(enumerate(chunks)))}
        return pickle.loads(pickle.dumps([done[i] for i in range(len(chunks))]))

    progress: list[tuple[int, int]] = []
    n = understand.understand_pending(
        engine,
        cfg,
        batch_size=90,
        chunk_size=40,
        run_chunks=via_pickle,
        progress=lambda d, t: progress.append((d, t)),
    )
    assert n == len(before) and seen[0] == 3
    assert _stored(engine) == before
    assert progress[-1] == (len(before), len(before)) and len(progress) == -(-len(before) // 90)


def test_results_out_of_order_are_refused(engine, tmp_path: Path) -> None:
    cfg = _ingested(engine, tmp_path, per_week=50)

    def shuffled(spec, chunks):  # type: ignore[no-untyped-def]
        return [understand.understand_chunk(spec, c) for c in reversed(chunks)]

    with pytest.raises(RuntimeError, match="out of order"):
        understand.understand_pending(engine, cfg, chunk_size=10, run_chunks=shuffled)
    assert all(r[1] is None for r in _stored(engine)), "nothing written from a bad batch"


def _settings(db_url: str, **kw) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(database_url=db_url, chunk_size=CHUNK, workers=2, **kw)


@pytest.mark.slow
def test_dask_cluster_with_two_workers_gives_identical_results(
    engine, db_url: str, tmp_path: Path, dask_cluster
) -> None:  # type: ignore[no-untyped-def]
    import distributed

    from voc.flows.weekly import understand_stage

    address, client = dask_cluster
    cfg = _ingested(engine, tmp_path)
    before = _sequential(engine, cfg)
    with distributed.get_task_stream(client) as stream:
        line = understand_stage(_settings(db_url, task_runner="dask", dask_address=address), cfg)
    assert line == f"understood {len(before)} tickets"
    assert _stored(engine) == before
    ran = [t["worker"] for t in stream.data if "understand" in str(t.get("key", ""))]
    assert len(ran) >= len(before) // CHUNK and len(set(ran)) == 2, f"chunks ran on both workers: {ran}"


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["dask", "processes", "threads", "auto"])
def test_task_runners_give_identical_results(
    runner: str, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VOC_TASK_RUNNER=dask with no address starts its own 2-worker LocalCluster; processes/threads pools;
    auto (the default) a local process pool once enough tickets are pending (here: from 1)."""
    from voc.flows.weekly import understand_stage
    from voc.store.db import make_engine, migrate

    engine = make_engine(sqlite_url)
    migrate(engine)
    cfg = _ingested(engine, tmp_path)
    before = _sequential(engine, cfg)
    monkeypatch.setattr(understand, "POOL_MIN_TICKETS", 1)
    monkeypatch.setattr(understand, "POOL_CHUNK", CHUNK)
    if runner != "threads":  # the NLP must happen in other processes: building an Understander here fails

        def not_here(*_a, **_k):  # type: ignore[no-untyped-def]
            raise AssertionError("NLP ran in the flow process")

        understand._local.__dict__.pop("cache", None)
        monkeypatch.setattr(understand, "Understander", not_here)
    line = understand_stage(_settings(sqlite_url, task_runner=runner), cfg)
    assert line == f"understood {len(before)} tickets"
    assert _stored(engine) == before


def test_auto_runner_pools_only_from_enough_tickets_and_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(understand.os, "cpu_count", lambda: 2)
    assert understand.pool_workers(2, understand.POOL_MIN_TICKETS) == 2
    assert understand.pool_workers(2, understand.POOL_MIN_TICKETS - 1) == 0
    assert understand.pool_workers(8, 10**6) == 2  # capped at the cores
    assert understand.pool_workers(1, 10**6) == 0
    monkeypatch.setattr(understand.os, "cpu_count", lambda: 1)
    assert understand.pool_workers(2, 10**6) == 0
