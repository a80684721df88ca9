"""Time each stage of the weekly pipeline on generated tickets; print tickets/s and peak memory.

    python bench/pipeline.py --n 10000 [--n 100000 ...] [--db sqlite|postgres] [--weeks 20]
                             [--increment 100000]

Each size runs in a fresh database: ingest (CSV) -> understand -> topics (first fit on history,
then the last week) -> counts -> surges -> brief (the backfill). With ``--increment N`` a fresh
process then runs the next week of ~N new tickets end to end on that database (ingest -> understand
-> topics -> counts -> surges -> brief -> alerts to a file sink), as the Monday run would, with its
own peak memory. Stages are called directly (no Prefect: ~1 s per flow on top), so the figures are
the pipeline's own cost.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchdb import fresh_store_url  # noqa: E402

from voc.config.settings import EXAMPLE_CONFIG, Mapping, load_config, settings_from_env  # noqa: E402
from voc.flows.alert_stage import ChannelSet, FileSink  # noqa: E402
from voc.flows.alert_stage import run as send_alerts  # noqa: E402
from voc.flows.brief_stage import write_brief  # noqa: E402
from voc.flows.surge_stage import detect_week  # noqa: E402
from voc.flows.topic_stage import update_topics  # noqa: E402
from voc.flows.understand import local_workers, understand_locally  # noqa: E402
from voc.sample import iter_weeks  # noqa: E402
from voc.sources.ingest import ingest_path  # noqa: E402
from voc.store import analysis  # noqa: E402
from voc.store.db import make_engine, migrate  # noqa: E402
from voc.ticket import CANONICAL_FIELDS  # noqa: E402
from voc.weeks import Week  # noqa: E402

_tree_peak_mb = 0.0


def watch_memory() -> None:
    """Sample the resident memory of this process and its children together every 0.25 s from now on
    (the understanding's pool workers are processes of their own; VmHWM sees only this one)."""

    def sample() -> None:
        global _tree_peak_mb
        me = psutil.Process()
        while True:
            try:
                rss = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
                _tree_peak_mb = max(_tree_peak_mb, rss / 2**20)
            except psutil.Error:  # a worker exited between the listing and the reading
                pass
            time.sleep(0.25)

    threading.Thread(target=sample, daemon=True).start()


def reset_peak() -> None:
    """Start a new peak: this process's VmHWM (Linux: clear_refs 5) and the sampled tree peak."""
    global _tree_peak_mb
    _tree_peak_mb = 0.0
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # not Linux, or not allowed: the peak stays the process's whole life
        pass


def peak_mb() -> float:
    """Peak resident memory of this process with its pool workers (:func:`watch_memory`'s samples),
    or this process's own peak if higher. VmHWM, not ru_maxrss: Linux carries ru_maxrss over
    fork + exec, so a child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return max(int(line.split()[1]) / 1024, _tree_peak_mb)
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, _tree_peak_mb)


Times = list[tuple[str, float]]


def _timer(times: Times):  # type: ignore[no-untyped-def]
    def timed(name: str, fn) -> None:  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        fn()
        times.append((name, time.perf_counter() - t))

    return timed


def run(n: int, db: str, weeks: int, end: Week, workdir: Path) -> tuple[Times, str]:
    reset_peak()  # this backfill's own peak, not an earlier one's or its increment's
    csv_path = workdir / f"tickets-{n}.csv"
    if not csv_path.exists():
        subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("generate.py")),
                "--n",
                str(n),
                "--out",
                str(csv_path),
                "--weeks",
                str(weeks),
                "--end-week",
                str(end),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    url = fresh_store_url(db, workdir, f"bench-{n}")
    engine = make_engine(url)
    migrate(engine)
    cfg = load_config(EXAMPLE_CONFIG)
    times: Times = []
    timed = _timer(times)

    timed("ingest", lambda: ingest_path(engine, csv_path, "bench", Mapping()))
    timed("understand", lambda: understand(engine, cfg))
    timed("topics (fit on history)", lambda: update_topics(engine, cfg, end.shift(-1)))
    timed("topics (assign last week)", lambda: update_topics(engine, cfg, end))

    timed("counts", lambda: rebuild_counts(engine, end))
    timed("surges", lambda: detect_week(engine, cfg, end))
    timed(
        "brief (zh+en, html+md)",
        lambda: write_brief(engine, cfg, end, workdir / "briefs", ["zh", "en"], ["html", "md"]),
    )
    return times, url


def understand(engine, cfg) -> None:  # type: ignore[no-untyped-def]
    """As the weekly flow runs it (VOC_TASK_RUNNER auto: a local process pool from 20,000 pending
    tickets; VOC_TASK_RUNNER=sequential for this process alone)."""
    settings = settings_from_env()
    understand_locally(engine, cfg, local_workers(settings.task_runner, settings.workers, engine))


def rebuild_counts(engine, week: Week) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        analysis.rebuild_counts(conn, week.ordinal())


def update_counts(engine, week: Week) -> None:  # type: ignore[no-untyped-def]
    """As the weekly run counts: the weeks marked stale and the week itself."""
    with engine.begin() as conn:
        analysis.update_counts(conn, week.ordinal())


def increment_csv(n: int, week: Week, workdir: Path) -> tuple[Path, int]:
    """``n`` new tickets created in ``week`` (ids INC-<week>-...): the generator's last of 3 weeks, cut to ``n``."""
    path = workdir / f"increment-{n}-{week}.csv"
    *_, rows = iter_weeks(week, 3, max(50, int(n / 0.9) + 1), seed=11)  # a week's volume varies by ±10%
    rows = rows[:n]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CANONICAL_FIELDS)
        w.writerows([(f"INC-{week}-" + r["ticket_id"], *(r[f] for f in CANONICAL_FIELDS[1:])) for r in rows])
    return path, len(rows)


def increment(url: str, csv_path: Path, week: Week, workdir: Path, refit: bool = True) -> tuple[Times, float]:
    """One Monday run over an existing store, in its own process (own start-up, own peak memory);
    ``refit=False``: without the monthly refit even in a week it is due (timed on its own)."""
    watch_memory()
    engine = make_engine(url)
    cfg = load_config(EXAMPLE_CONFIG)
    if not refit:
        th = cfg.thresholds.model_copy(update={"refit_every_weeks": 0})
        cfg = cfg.model_copy(update={"thresholds": th})
    times: Times = []
    timed = _timer(times)
    timed("ingest", lambda: ingest_path(engine, csv_path, "bench", Mapping()))
    timed("understand", lambda: understand(engine, cfg))
    timed("topics (assign the week)", lambda: update_topics(engine, cfg, week))

    timed("counts", lambda: update_counts(engine, week))
    timed("surges", lambda: detect_week(engine, cfg, week))
    out = workdir / "briefs-increment"
    timed("brief (zh+en, html+md)", lambda: write_brief(engine, cfg, week, out, ["zh", "en"], ["html", "md"]))
    timed(
        "alerts (file sink)",
        lambda: send_alerts(engine, cfg, week, ChannelSet(sink=FileSink(out / "alerts"))),
    )
    return times, peak_mb()


def show(title: str, n: int, times: Times, peak: float) -> None:
    total = sum(t for _, t in times)
    print(f"\n{title}")
    print(f"{'stage':28} {'seconds':>9} {'tickets/s':>11}")
    for name, t in times:
        print(f"{name:28} {t:9.2f} {n / t if t else float('inf'):11,.0f}")
    print(f"{'total':28} {total:9.2f} {n / total:11,.0f}   ({1e3 * total / n:.2f} ms per ticket)")
    print(f"peak memory: {peak:,.0f} MB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, action="append", help="ticket counts (repeatable)")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--weeks", type=int, default=20)
    ap.add_argument("--end-week", default="2026-W47")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "voc-bench")
    ap.add_argument("--increment", type=int, default=0, help="then one more week of ~N tickets end to end")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    end = Week.parse(args.end_week)
    watch_memory()
    for n in args.n or [10_000]:
        times, url = run(n, args.db, args.weeks, end, args.workdir)
        show(
            f"backfill: {n:,} tickets on {args.db} ({args.weeks} weeks, ingest -> brief for {end})",
            n,
            times,
            peak_mb(),
        )
        if args.increment:
            path, m = increment_csv(args.increment, end.shift(1), args.workdir)
            # a fresh process: the Monday run starts cold and its peak memory is its own
            # (concurrent.futures: its worker may start the understanding's own process pool, which a
            # multiprocessing.Pool worker, a daemon, may not)
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                inc_times, inc_peak = pool.submit(increment, url, path, end.shift(1), args.workdir).result()
            show(
                f"weekly increment: {m:,} new tickets in {end.shift(1)} on a store of {n:,}",
                m,
                inc_times,
                inc_peak,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
