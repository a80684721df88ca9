"""Understanding stage: every ticket not yet understood gets language, clean redacted text,
tokens, product/model/batch, intent and severity (``nlp.understanding`` does the work).

The NLP work on a chunk is a pure function of the chunk's values (``understand_chunk``), so chunks
can run anywhere — in this process, a thread or process pool, or a Dask cluster — while the database
reads and writes stay here and results are written in ticket-id order, identical to a sequential run.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from prefect import task, unmapped
from prefect.cache_policies import NONE
from sqlalchemy import Engine

from voc.config.settings import VocConfig
from voc.nlp.understanding import CatalogueEntry, TicketText, Understander
from voc.store import analysis
from voc.ticket import TOPIC_INTENTS

NLP_VERSION = (
    "3"  # 3: safety language of food/electrics/injuries/children, question-complaints, product = model code
)

# (id, subject, body, product, model, batch, language, intent_hint, resolution): plain values, picklable
ChunkRow = tuple[Any, ...]
Progress = Callable[[int, int], None]  # (tickets done, tickets pending at the start)


@dataclass(frozen=True)
class NlpSpec:
    """Everything an Understander is built from; small and picklable, so a worker can build its own."""

    products: tuple[CatalogueEntry, ...]
    order_patterns: tuple[str, ...]


def nlp_spec(cfg: VocConfig) -> NlpSpec:
    return NlpSpec(
        tuple(
            CatalogueEntry(
                id=p.id,
                name_zh=p.name_zh,
                name_en=p.name_en,
                aliases=tuple(p.aliases),
                models=tuple(p.models),
            )
            for p in cfg.products
        ),
        tuple(cfg.order_patterns),
    )


_local = threading.local()


def _understander(spec: NlpSpec) -> Understander:
    """One Understander per catalogue *and thread*: spaCy/jieba objects are not promised thread-safe,
    so every worker thread (thread pool, multi-threaded Dask worker) builds its own once."""
    cache: dict[NlpSpec, Understander] = _local.__dict__.setdefault("cache", {})
    if spec not in cache:
        if len(cache) >= 4:
            cache.pop(next(iter(cache)))
        cache[spec] = Understander(products=spec.products, order_patterns=spec.order_patterns)
    return cache[spec]


def understander_for(cfg: VocConfig) -> Understander:
    """One Understander (spaCy pipelines built once) per catalogue and thread, reused across calls."""
    return _understander(nlp_spec(cfg))


def understand_chunk(spec: NlpSpec, rows: Sequence[ChunkRow]) -> list[dict[str, Any]]:
    """The stored understanding columns for each row, in row order. No database, no shared state:
    safe to run on any worker that has the package installed."""
    und = _understander(spec)
    items = [
        TicketText(
            body=r[2], subject=r[1], product=r[3], model=r[4], batch=r[5], language=r[6], intent_hint=r[7]
        )
        for r in rows
    ]
    out = []
    for r, u in zip(rows, und.understand(items), strict=True):
        sources = ",".join(
            f"{k}={v}"
            for k, v in (("product", u.product_source), ("model", u.model_source), ("batch", u.batch_source))
            if v
        )
        out.append(
            {
                "_id": r[0],
                "nlp_version": NLP_VERSION,
                "lang": u.language,
                "text_clean": u.text,
                "resolution_clean": und.redact(r[8]) if r[8] else None,
                "tokens": " ".join(t.replace(" ", "_") for t in u.tokens),
                "intent": u.intent,
                "severity": u.severity,
                "product_n": u.product,
                "model_n": u.model,
                "batch_n": u.batch,
                "entity_sources": sources or None,
                "flags": ",".join(u.flags) or None,
            }
        )
    return out


# Runs every chunk and returns the results in the order given: the plain default, or Prefect tasks.
ChunkRunner = Callable[[NlpSpec, list[list[ChunkRow]]], list[list[dict[str, Any]]]]


def run_in_process(spec: NlpSpec, chunks: list[list[ChunkRow]]) -> list[list[dict[str, Any]]]:
    return [understand_chunk(spec, c) for c in chunks]


# A local process pool pays from this many pending tickets: its spawned workers each import the
# package and build an Understander (~5 s, in parallel). Measured 2026-12-06 (2 cores, load ~1, 100k
# tickets of the generated mix on a 1M SQLite store): sequential 28.8 s, a pool of 2 (chunks of 1,000)
# 23.0 s; Prefect's ProcessPoolTaskRunner (one task run per chunk) 43.1 s (chunks of 2,000) and 58.6 s
# (500): its per-task bookkeeping cost more than the second core gave, so the pool is a plain
# concurrent.futures one.
POOL_MIN_TICKETS = 20_000
POOL_CHUNK = 1000


def pool_workers(requested: int, pending: int) -> int:
    """How many pool workers to use for ``pending`` tickets (``VOC_TASK_RUNNER=auto``): none below
    :data:`POOL_MIN_TICKETS` or with one core, else ``requested`` capped at the cores."""
    workers = min(requested, os.cpu_count() or 1)
    return workers if workers >= 2 and pending >= POOL_MIN_TICKETS else 0


def local_workers(kind: str, requested: int, engine: Engine) -> int:
    """The pool size for ``VOC_TASK_RUNNER`` ``auto``, ``sequential`` or ``processes`` (0: this process)."""
    if kind == "sequential":
        return 0
    if kind == "processes":
        return requested
    return pool_workers(requested, pending_count(engine))


@contextmanager
def process_pool(workers: int) -> Iterator[ChunkRunner]:
    """A chunk runner on a local pool of ``workers`` spawned processes (each builds its own
    Understander once, :func:`_understander`); results in the order given."""
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:

        def run(spec: NlpSpec, chunks: list[list[ChunkRow]]) -> list[list[dict[str, Any]]]:
            return list(pool.map(understand_chunk, repeat(spec), chunks))

        yield run


def understand_locally(engine: Engine, cfg: VocConfig, workers: int, progress: Progress | None = None) -> int:
    """Understand all pending tickets in this process, or on a local process pool of ``workers``
    (0: none)."""
    if workers < 2:
        return understand_pending(engine, cfg, progress=progress)
    with process_pool(workers) as run:
        return understand_pending(
            engine,
            cfg,
            batch_size=POOL_CHUNK * workers * 2,
            chunk_size=POOL_CHUNK,
            run_chunks=run,
            progress=progress,
        )


def pending_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return analysis.pending_count(conn, NLP_VERSION)


def understand_pending(
    engine: Engine,
    cfg: VocConfig,
    batch_size: int = 2000,
    *,
    chunk_size: int | None = None,
    run_chunks: ChunkRunner = run_in_process,
    progress: Progress | None = None,
) -> int:
    """Understand all pending tickets; returns how many were processed.

    Reads ``batch_size`` pending tickets at a time, hands them to ``run_chunks`` in chunks of
    ``chunk_size`` (default: one chunk per batch) and writes each batch's results in one transaction,
    so a kill mid-run loses at most the batch in flight and a re-run finishes the rest.
    """
    spec = nlp_spec(cfg)
    size = chunk_size or batch_size
    total = pending_count(engine) if progress else 0
    done = 0
    after: int | None = None  # batches page on the id (see pending_understanding)
    while True:
        with engine.connect() as conn:
            rows = [
                (
                    r.id,
                    r.subject,
                    r.body,
                    r.product,
                    r.model,
                    r.batch,
                    r.language,
                    r.intent_hint,
                    r.resolution,
                )
                for r in analysis.pending_understanding(conn, NLP_VERSION, batch_size, after)
            ]
        if not rows:
            if after is None:
                return done
            after = None  # one more pass from the start: a ticket re-ingested behind us while this ran
            continue
        after = rows[-1][0]
        results = run_chunks(spec, [rows[i : i + size] for i in range(0, len(rows), size)])
        out = [u for chunk in results for u in chunk]
        if [u["_id"] for u in out] != [r[0] for r in rows]:
            raise RuntimeError("understanding results came back out of order or incomplete")
        with engine.begin() as conn:
            analysis.save_understanding(conn, out)
            analysis.queue_for_topics(
                conn,
                [u["_id"] for u in out if u["intent"] in TOPIC_INTENTS],
                [u["_id"] for u in out if u["intent"] not in TOPIC_INTENTS],
            )
        done += len(out)
        if progress:
            progress(done, max(total, done))


# --- orchestration: the same chunks as Prefect tasks on the flow's task runner ----------------------


@task(retries=1, cache_policy=NONE)
def understand_chunk_task(spec: NlpSpec, rows: list[ChunkRow]) -> list[dict[str, Any]]:
    """One chunk on a task-runner worker (thread, process or Dask worker); retried once if a worker dies."""
    return understand_chunk(spec, rows)


def run_as_tasks(spec: NlpSpec, chunks: list[list[ChunkRow]]) -> list[list[dict[str, Any]]]:
    """Submit every chunk to the current flow's task runner; results come back in submission order."""
    return understand_chunk_task.map(unmapped(spec), chunks).result()
