"""Stream a large synthetic ticket CSV for load tests.

    python bench/generate.py --n 1000000 --out /tmp/t1m.csv [--weeks 52] [--seed 1] [--end-week 2026-W47]

Uses the same templates as ``voc.sample`` one ISO week at a time, so memory stays at one week of
rows. Ground truth is not recorded (use ``voc.sample.generate`` for that).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voc.sample import iter_weeks  # noqa: E402
from voc.ticket import CANONICAL_FIELDS  # noqa: E402
from voc.weeks import Week  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="number of rows (exact)")
    ap.add_argument("--out", type=Path, required=True, help="output CSV path")
    ap.add_argument("--weeks", type=int, default=52)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--end-week", default=None, help="last ISO week, e.g. 2026-W47 (default: last complete)")
    args = ap.parse_args(argv)
    end = Week.parse(args.end_week) if args.end_week else Week.latest_complete()
    per_week = max(50, args.n // args.weeks)

    t0 = time.perf_counter()
    written = 0
    fields = CANONICAL_FIELDS
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(fields)
        for rows in iter_weeks(end, args.weeks, per_week, args.seed, total=args.n):
            w.writerows([r[f] for f in fields] for r in rows)
            written += len(rows)
    dt = time.perf_counter() - t0
    size = args.out.stat().st_size
    print(f"{written:,} rows, {args.weeks} weeks ending {end}, seed {args.seed} -> {args.out}")
    print(
        f"{dt:.1f} s, {written / dt:,.0f} rows/s, {size / 1e6:,.1f} MB ({size / max(1, written):.0f} bytes/row)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
