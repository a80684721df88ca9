"""Traditional -> simplified speed and output of the installed `opencc` module (issue #19).

Two distributions install the module `opencc`: `opencc-python-reimplemented` (pure Python, the
earlier dependency) and `opencc` (the maintained C++ OpenCC, the dependency now). Only one can be installed in an environment,
so run this once in each, on the same traditional text, and compare the saved outputs:

    python bench/t2s.py --trad /tmp/trad.json --out /tmp/t2s-reimpl.json        # the project's venv
    /tmp/native/bin/python bench/t2s.py --trad /tmp/trad.json --against /tmp/t2s-reimpl.json
                                                              # a venv with `pip install opencc`

The text: the reviews of ../shared/data/zh_online_shopping_10_cats.csv, converted to traditional
(OpenCC s2tw for even rows, s2hk for odd ones) by the installed module and saved to --trad (read
from there when the file exists, so both runs convert the same text), then converted back with t2s
(best of --repeat). Prints chars/s, how many texts came back equal to the original, and with
--against how many outputs differ from the other run's and where.

Measured 2026-12-05, 62,774 reviews (3,666,878 chars), same traditional text, load average 5.8-7.6
on 2 shared cores (benchmarks running), three runs each:
  opencc-python-reimplemented 0.1.7   9.3-16.5 s  (0.22-0.39M chars/s)  59,319 texts equal to the original
  opencc 1.4.2 (C++ wheel)            0.47-0.71 s (5.2-7.8M chars/s)    59,319 texts equal to the original
  20-24x faster; 3 outputs differ: 幷->并 and 乾红->干红 (the C++ one right), 宁戚->甯戚 (a name's
  old form; the C++ one wrong).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="first N reviews only (0 = all)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--trad", type=Path, help="the traditional text (JSON list): read if it exists, else written"
    )
    ap.add_argument("--out", type=Path, help="save the simplified outputs (JSON list)")
    ap.add_argument("--against", type=Path, help="compare with outputs saved by another run")
    args = ap.parse_args()

    import opencc

    with (DATA / "zh_online_shopping_10_cats.csv").open(encoding="utf-8-sig", newline="") as f:
        orig = [r[2] for r in csv.reader(f) if len(r) == 3][1:]
    if args.limit:
        orig = orig[: args.limit]
    if args.trad and args.trad.exists():
        trad = json.loads(args.trad.read_text(encoding="utf-8"))
        if len(trad) != len(orig):
            sys.exit(f"--trad has {len(trad)} texts, --limit gives {len(orig)}")
    else:
        s2tw, s2hk = opencc.OpenCC("s2tw"), opencc.OpenCC("s2hk")
        trad = [(s2tw if i % 2 == 0 else s2hk).convert(t) for i, t in enumerate(orig)]
        if args.trad:
            args.trad.write_text(json.dumps(trad, ensure_ascii=False), encoding="utf-8")
    cc = opencc.OpenCC("t2s")
    chars = sum(map(len, trad))
    best, out = float("inf"), []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        out = [cc.convert(t) for t in trad]
        best = min(best, time.perf_counter() - t0)
    same = sum(o == s for o, s in zip(out, orig, strict=True))
    print(
        f"{opencc.__file__}: {len(trad):,} texts, {chars:,} chars, t2s best of {args.repeat}: {best:.2f} s "
        f"({chars / best / 1e6:.2f}M chars/s); equal to the original: {same:,}"
    )
    if args.out:
        args.out.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    if args.against:
        other = json.loads(args.against.read_text(encoding="utf-8"))
        if len(other) != len(out):
            sys.exit(f"--against has {len(other)} outputs, this run {len(out)} (same --limit?)")
        diff = [(a, b) for a, b in zip(other, out, strict=True) if a != b]
        print(f"outputs differing from {args.against}: {len(diff)}")
        for a, b in diff[:20]:
            at = next(i for i in range(min(len(a), len(b))) if a[i] != b[i])
            print(f"  ...{a[max(0, at - 4) : at + 4]}...  vs  ...{b[max(0, at - 4) : at + 4]}...")


if __name__ == "__main__":
    main()
