"""A simulated 10M-ticket PostgreSQL store: the Monday run on ten years of history, timed.

    python bench/simulate.py [--n 1000000] [--copies 10] [--increment 100000]

Running the NLP over ten million tickets takes hours on two cores, so the store is grown instead:

1. a real backfill of ``--n`` generated tickets over 52 weeks (``bench/pipeline.py``'s, ingest -> brief),
   then one Monday run of ``--increment`` new tickets on it, timed (the figure for the store as built);
2. its 52 weeks of tickets with their embeddings and assignments copied ``copies - 1`` times into the
   52-week years before them (ids offset, weeks and dates shifted by 52 weeks per copy, source ids
   prefixed ``SIMc-``): ten years of the same brand at the same volume. The counts are rebuilt over all
   of it and the tables analysed, as a loaded store would be;
3. a first Monday run on the grown store (it reads the copied years once: the theme sums of weeks it
   has never seen), then the Monday run that is timed for the grown store.

Every Monday run here leaves out the monthly refit (the third one would be due for it): the refit
refits on all history and is a different job from the weekly increment. Each Monday run is its own process (``pipeline.increment``: cold start, own peak memory, pool workers
counted). The week numbers, the increments and the topic catalogue are those of a real run; only the
nine earlier years are copies, so what the figure measures is the weekly cost of history: reads that
grow with the store show up ten times larger.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pipeline
from pipeline import increment, increment_csv, run, show, watch_memory
from sqlalchemy import text

from voc.store import analysis
from voc.store.db import make_engine, refresh_statistics
from voc.store.models import Assignment, Embedding, TicketRow
from voc.weeks import Week

YEAR = 52  # weeks per copy: the bench store's history


def monday(url: str, n: int, week: Week, workdir: Path, title: str) -> None:
    path, m = increment_csv(n, week, workdir)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        times, peak = pool.submit(increment, url, path, week, workdir, False).result()
    show(title.format(m=m, week=week), m, times, peak)


def grow(url: str, copies: int, until_week: Week) -> tuple[int, float]:
    """Copy the store's weeks up to ``until_week`` (52 of them) ``copies - 1`` times into the years before.
    Returns the store's ticket count and the seconds it took (copy, counts, ANALYZE)."""
    engine = make_engine(url)
    if engine.dialect.name != "postgresql":
        raise SystemExit("simulate.py grows a PostgreSQL store (the 10M figure is PostgreSQL's)")
    t0 = time.perf_counter()
    last = until_week.ordinal()
    cols = [c.name for c in TicketRow.__table__.columns]
    shifted = {
        "id": "id + :off",
        "source_id": "'SIM' || :c || '-' || source_id",
        "week": "week - :weeks",
        "created_at": "created_at - make_interval(days => :days)",
        "closed_at": "closed_at - make_interval(days => :days)",
        "event_at": "event_at - make_interval(days => :days)",
        "ingested_at": "ingested_at - make_interval(days => :days)",
    }
    select_cols = ", ".join(shifted.get(c, c) for c in cols)
    with engine.begin() as conn:
        top = int(conn.exec_driver_sql("SELECT max(id) FROM tickets").scalar_one())
        first = int(conn.exec_driver_sql("SELECT min(week) FROM tickets").scalar_one())
        if last - first + 1 > YEAR:
            raise SystemExit(f"the store spans {last - first + 1} weeks up to {until_week}; expected {YEAR}")
    for c in range(1, copies):
        p = {"off": c * top, "c": c, "weeks": c * YEAR, "days": c * YEAR * 7, "last": last}
        with engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            conn.execute(
                text(
                    f"INSERT INTO tickets ({', '.join(cols)}) SELECT {select_cols} FROM tickets "
                    "WHERE id <= :top AND week <= :last ORDER BY id"
                ),
                {**p, "top": top},
            )
            conn.execute(
                text(
                    f"INSERT INTO {Embedding.__tablename__} (ticket_id, embedder_key, vector) "
                    "SELECT e.ticket_id + :off, e.embedder_key, e.vector FROM embeddings e "
                    "JOIN tickets t ON t.id = e.ticket_id WHERE t.id <= :top AND t.week <= :last"
                ),
                {**p, "top": top},
            )
            conn.execute(
                text(
                    f"INSERT INTO {Assignment.__tablename__} "
                    "(ticket_id, topic_id, similarity, assigned_week, week) "
                    "SELECT a.ticket_id + :off, a.topic_id, a.similarity, a.assigned_week - :weeks, "
                    "a.week - :weeks FROM assignments a JOIN tickets t ON t.id = a.ticket_id "
                    "WHERE t.id <= :top AND t.week <= :last"
                ),
                {**p, "top": top},
            )
        print(f"copy {c}: weeks {first - c * YEAR}..{last - c * YEAR}  ({time.perf_counter() - t0:.0f} s)")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))"
        )
        analysis.rebuild_counts(conn, until_week.shift(1).ordinal())
    refresh_statistics(engine)
    with make_engine(url).connect() as conn:
        n = int(conn.exec_driver_sql("SELECT count(*) FROM tickets").scalar_one())
    return n, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="tickets of the real backfill")
    ap.add_argument("--copies", type=int, default=10, help="years of history in the grown store")
    ap.add_argument("--increment", type=int, default=100_000)
    ap.add_argument("--end-week", default="2026-W47")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "voc-bench")
    ap.add_argument(
        "--url", help="a store bench/pipeline.py backfilled up to --end-week (skips step 1's backfill)"
    )
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    end = Week.parse(args.end_week)
    watch_memory()
    url = args.url
    if url is None:
        times, url = run(args.n, "postgres", YEAR, end, args.workdir)
        show(f"backfill: {args.n:,} tickets on postgres ({YEAR} weeks)", args.n, times, pipeline.peak_mb())
        print(f"store: {url}")
    title = "weekly increment: {m:,} new tickets in {week} on a store of "
    monday(url, args.increment, end.shift(1), args.workdir, title + f"{args.n:,} (as built)")
    n, secs = grow(url, args.copies, end)
    print(f"\ngrown to {n:,} tickets over {args.copies} years in {secs:.0f} s (copies, counts, ANALYZE)")
    monday(url, args.increment, end.shift(2), args.workdir, title + f"{n:,} (first run after growing)")
    monday(url, args.increment, end.shift(3), args.workdir, title + f"{n:,}+ (timed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
