"""Time each stage of the weekly pipeline on generated tickets; print tickets/s and peak memory.

    python bench/pipeline.py --n 10000 [--n 100000 ...] [--db sqlite|postgres] [--weeks 20]

Each size runs in a fresh database: ingest (CSV) -> understand -> topics (first fit on history,
then the last week) -> counts -> surges -> brief. Stages are called directly (no Prefect), so the
figures are the pipeline's own cost.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from config.settings import EXAMPLE_CONFIG, Mapping, load_config  # noqa: E402
from flows.brief_stage import write_brief  # noqa: E402
from flows.surge_stage import detect_week  # noqa: E402
from flows.topic_stage import update_topics  # noqa: E402
from flows.understand import understand_pending  # noqa: E402
from sources.ingest import ingest_path  # noqa: E402
from store import analysis  # noqa: E402
from store.db import make_engine, migrate  # noqa: E402
from voc.weeks import Week  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(n: int, db: str, weeks: int, end: Week, workdir: Path) -> list[tuple[str, float]]:
    csv_path = workdir / f"tickets-{n}.csv"
    if not csv_path.exists():
        subprocess.run([sys.executable, str(Path(__file__).with_name("generate.py")), "--n", str(n), "--out",
                        str(csv_path), "--weeks", str(weeks), "--end-week", str(end)], check=True,
                       stdout=subprocess.DEVNULL)
    if db == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{n}-{uuid.uuid4().hex[:6]}.sqlite3'}"
    else:
        import sqlalchemy as sa

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with sa.create_engine(PG).begin() as c:
            c.execute(sa.text(f"CREATE SCHEMA {schema}"))
        url = f"{PG}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    migrate(engine)
    cfg = load_config(EXAMPLE_CONFIG)
    times: list[tuple[str, float]] = []

    def timed(name: str, fn) -> None:  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        fn()
        times.append((name, time.perf_counter() - t))

    timed("ingest", lambda: ingest_path(engine, csv_path, "bench", Mapping()))
    timed("understand", lambda: understand_pending(engine, cfg))
    timed("topics (fit on history)", lambda: update_topics(engine, cfg, end.shift(-1)))
    timed("topics (assign last week)", lambda: update_topics(engine, cfg, end))

    def counts() -> None:
        with engine.begin() as conn:
            analysis.rebuild_counts(conn, end.ordinal())

    timed("counts", counts)
    timed("surges", lambda: detect_week(engine, cfg, end))
    timed("brief (zh+en, html+md)", lambda: write_brief(engine, cfg, end, workdir / "briefs", ["zh", "en"],
                                                         ["html", "md"]))
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, action="append", help="ticket counts (repeatable)")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--weeks", type=int, default=20)
    ap.add_argument("--end-week", default="2026-W47")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "voc-bench")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    for n in args.n or [10_000]:
        times = run(n, args.db, args.weeks, Week.parse(args.end_week), args.workdir)
        total = sum(t for _, t in times)
        print(f"\n{n:,} tickets on {args.db} ({args.weeks} weeks)")
        print(f"{'stage':28} {'seconds':>9} {'tickets/s':>11}")
        for name, t in times:
            print(f"{name:28} {t:9.2f} {n / t if t else float('inf'):11,.0f}")
        print(f"{'total':28} {total:9.2f} {n / total:11,.0f}")
        print(f"peak memory: {peak_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
