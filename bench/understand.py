"""The understanding stage as the pipeline runs it vs ``understand()`` alone, on the same tickets.

    python bench/understand.py --n 20000 [--db sqlite|postgres] [--profile stage|nlp] [--top 40]

Generates ``n`` tickets (bench/generate.py's mix, 52 weeks; the CSV is kept in ``--workdir``),
ingests them into a fresh database, then in this one process:

1. reads the pending rows as the stage does and times ``understand_chunk`` on them alone (the NLP:
   ``Understander.understand`` plus building the stored columns; no database), in the stage's
   batches of 2,000;
2. runs the stage itself (``flows.understand.understand_pending``: reads, NLP, writes) and times it.

The Understander is built (and its severity classifier trained, on 200 of the rows) before either
is timed. Prints seconds, tickets/s wall and per CPU-second
of this process (the machine is shared: CPU-seconds are the steadier figure), the stage's share of
``understand()``'s throughput, the peak RSS, and the load average. ``--profile stage`` runs the
stage under cProfile (``nlp``: the NLP alone) and prints the top functions by own and cumulative
time (profiling slows Python code about 1.5-2x; use the unprofiled figures for throughput).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchdb import fresh_store_url  # noqa: E402

from voc.config.settings import EXAMPLE_CONFIG, Mapping, load_config  # noqa: E402
from voc.flows.understand import NLP_VERSION, nlp_spec, understand_chunk, understand_pending, understander_for  # noqa: E402
from voc.sources.ingest import ingest_path  # noqa: E402
from voc.store import analysis  # noqa: E402
from voc.store.db import make_engine, migrate  # noqa: E402


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(fn):  # type: ignore[no-untyped-def]
    t, c = time.perf_counter(), time.process_time()
    res = fn()
    return res, time.perf_counter() - t, time.process_time() - c


def print_profile(prof: cProfile.Profile, top: int) -> None:
    for key in ("tottime", "cumulative"):
        s = io.StringIO()
        pstats.Stats(prof, stream=s).strip_dirs().sort_stats(key).print_stats(top)
        lines = s.getvalue().splitlines()
        start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
        print(f"\n--- top {top} by {key} ---")
        print("\n".join(lines[start - 1 :]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--batch", type=int, default=2000, help="the stage's batch size (its default)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", choices=["stage", "nlp"], default=None)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "voc-bench")
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)

    csv_path = args.workdir / f"understand-{args.n}-s{args.seed}.csv"
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
                "--seed",
                str(args.seed),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    url = fresh_store_url(args.db, args.workdir, "understand")
    engine = make_engine(url)
    migrate(engine)
    cfg = load_config(EXAMPLE_CONFIG)
    ingest_path(engine, csv_path, "bench", Mapping())
    print(f"{args.n:,} generated tickets on {args.db}; load average before: {load()}")

    spec = nlp_spec(cfg)
    # 1. understand() alone on the rows the stage reads (read all pending rows once, outside the timing)
    with engine.connect() as conn:
        rows = [tuple(r) for r in analysis.pending_understanding(conn, NLP_VERSION, 10**9)]
    # warm-up, not counted: the spaCy/jieba build and the severity classifier's one-off training
    _, dt, _ = timed(lambda: (understander_for(cfg), understand_chunk(spec, rows[:200])))
    print(f"Understander build + warm-up {dt:.2f} s (not counted below)")
    n = len(rows)
    batches = [rows[i : i + args.batch] for i in range(0, n, args.batch)]
    prof = cProfile.Profile() if args.profile == "nlp" else None
    if prof:
        prof.enable()
    _, nlp_wall, nlp_cpu = timed(lambda: [understand_chunk(spec, b) for b in batches])
    if prof:
        prof.disable()

    # 2. the stage: reads, NLP, writes
    prof2 = cProfile.Profile() if args.profile == "stage" else None
    if prof2:
        prof2.enable()
    done, st_wall, st_cpu = timed(lambda: understand_pending(engine, cfg, args.batch))
    if prof2:
        prof2.disable()
    assert done == n, (done, n)

    print(f"{'':28} {'seconds':>8} {'CPU s':>8} {'tickets/s':>10} {'per CPU-s':>10}")
    print(
        f"{'understand() alone':28} {nlp_wall:8.2f} {nlp_cpu:8.2f} {n / nlp_wall:10,.0f} {n / nlp_cpu:10,.0f}"
    )
    print(
        f"{'stage (read+NLP+write)':28} {st_wall:8.2f} {st_cpu:8.2f} {n / st_wall:10,.0f} {n / st_cpu:10,.0f}"
    )
    print(
        f"stage / understand(): {nlp_wall / st_wall:.0%} wall, {nlp_cpu / st_cpu:.0%} CPU; "
        f"peak RSS {peak_mb():,.0f} MB; load average after: {load()}"
    )
    if prof or prof2:
        print_profile(prof or prof2, args.top)  # type: ignore[arg-type]
    if args.db == "sqlite":
        engine.dispose()
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
