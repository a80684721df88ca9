"""The Monday run alone, timed per stage on a copy of a kept store, optionally under cProfile.

    python bench/weekly.py --build 100000 [--weeks 52]      # backfill a store once, keep it
    python bench/weekly.py --store FILE [--increment 100000] [--profile]

``--build`` runs bench/pipeline.py's backfill (ingest -> brief, SQLite) and keeps the file as
``base-N.sqlite3`` in the work folder. ``--store`` copies that file and runs the next week's increment
(bench/pipeline.py's ``increment``: ingest -> alerts) on the copy, so before/after figures of a change
run on the very same store; ``--profile`` adds cProfile's top functions per stage (cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pipeline  # noqa: E402

from voc.weeks import Week  # noqa: E402


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", type=int, default=0, help="backfill a store of N tickets and keep it")
    ap.add_argument("--store", type=Path, help="a kept store (SQLite file) to run the increment on a copy of")
    ap.add_argument("--weeks", type=int, default=52)
    ap.add_argument("--end-week", default="2026-W47")
    ap.add_argument("--increment", type=int, default=100_000)
    ap.add_argument(
        "--profile",
        default="",
        help="comma-separated stage name prefixes to run under cProfile "
        "(e.g. topics,counts), printing their top functions; 'all' for every stage",
    )
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "voc-bench")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    end = Week.parse(args.end_week)
    if args.build:
        pipeline.watch_memory()
        print(load())
        times, url = pipeline.run(args.build, "sqlite", args.weeks, end, args.workdir)
        pipeline.show(
            f"backfill: {args.build:,} tickets ({args.weeks} weeks)", args.build, times, pipeline.peak_mb()
        )
        keep, src = args.workdir / f"base-{args.build}.sqlite3", url.removeprefix("sqlite:///")
        with sqlite3.connect(src) as c:  # the WAL's pages into the file before copying it
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copyfile(src, keep)
        print(f"kept {keep}; {load()}")
    if args.store:
        copy = args.workdir / f"run-{args.store.stem}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(str(copy) + suffix).unlink(missing_ok=True)
        shutil.copyfile(args.store, copy)
        week = end.shift(1)
        path, m = pipeline.increment_csv(args.increment, week, args.workdir)
        profiles: list[tuple[str, cProfile.Profile]] = []
        if args.profile:
            orig = pipeline._timer

            def profiled_timer(times):  # type: ignore[no-untyped-def]
                def timed(name, fn):  # type: ignore[no-untyped-def]
                    if args.profile != "all" and not any(name.startswith(x) for x in args.profile.split(",")):
                        t = time.perf_counter()
                        fn()
                        times.append((name, time.perf_counter() - t))
                        return
                    prof = cProfile.Profile()
                    t = time.perf_counter()
                    prof.runcall(fn)
                    times.append((name, time.perf_counter() - t))
                    profiles.append((name, prof))

                return timed

            pipeline._timer = profiled_timer
        print(f"before: {load()}")
        times, peak = pipeline.increment(f"sqlite:///{copy}", path, week, args.workdir)
        print(f"after: {load()}")
        pipeline.show(
            f"weekly increment: {m:,} new tickets in {week} on {args.store.name}"
            + (f" (cProfile: {args.profile})" if args.profile else ""),
            m,
            times,
            peak,
        )
        for name, prof in profiles:
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(args.top)
            print(f"\n=== profile: {name}\n" + out.getvalue().split("\n\n", 1)[-1])
        if args.profile:
            pipeline._timer = orig
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
