"""Ingest a generated canonical CSV into SQLite and/or PostgreSQL; print tickets/s and peak memory.

    python bench/ingest.py --n 1000000 [--db sqlite --db postgres]

Three runs per store: the first ingest, a forced no-change re-read (every row parsed and compared,
nothing written) and a plain re-run (the file's hash is known: skipped). Each run prints wall and CPU
seconds (user+sys, this process and its children) and the 1-minute load: on a shared machine the wall
figure is inflated by other work, the CPU figure is not.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchdb import fresh_store_url  # noqa: E402

from voc.config.settings import Mapping  # noqa: E402
from voc.sources.ingest import ingest_path  # noqa: E402
from voc.sources.worker import worth_it  # noqa: E402
from voc.store.db import make_engine, migrate  # noqa: E402


def peak_mb() -> float:
    """Peak RSS of this process or any worker it started."""
    return (
        max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        / 1024
    )


def cpu_seconds() -> float:
    """User + system time of this process and its (finished) children."""
    return sum(
        u.ru_utime + u.ru_stime
        for u in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    ap.add_argument(
        "--worker",
        choices=["auto", "on", "off"],
        default="auto",
        help="parse in a worker process: auto (big file and a free core), on, off",
    )
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "voc-bench")
    args = ap.parse_args()
    worker = {"auto": None, "on": True, "off": False}[args.worker]
    args.workdir.mkdir(parents=True, exist_ok=True)
    csv_path = args.workdir / f"tickets-{args.n}.csv"
    if not csv_path.exists():
        subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("generate.py")),
                "--n",
                str(args.n),
                "--out",
                str(csv_path),
                "--weeks",
                "52",
                "--end-week",
                "2026-W47",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    print(
        f"{args.n:,} rows, {csv_path.stat().st_size / 1e6:,.0f} MB CSV, worker {args.worker}"
        f" (auto now: {'on' if worth_it(csv_path) else 'off'})"
    )
    print(f"{'store':10} {'run':26} {'seconds':>8} {'tickets/s':>10} {'cpu s':>7} {'load':>5}")
    for db in args.db or ["sqlite"]:
        engine = make_engine(fresh_store_url(db, args.workdir, "ingest"))
        migrate(engine)
        for label, force in (
            ("first ingest", False),
            ("no-change re-read (forced)", True),
            ("re-run (file known)", False),
        ):
            t, cpu = time.perf_counter(), cpu_seconds()
            s = ingest_path(engine, csv_path, "bench", Mapping(), force=force, worker=worker)
            dt, dcpu = time.perf_counter() - t, cpu_seconds() - cpu
            print(
                f"{db:10} {label:26} {dt:8.1f} {args.n / dt:10,.0f} {dcpu:7.1f} {os.getloadavg()[0]:5.2f}"
                f"   ({s.line()})"
            )
        print(f"peak memory so far: {peak_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
