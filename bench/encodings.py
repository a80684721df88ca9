"""Which encoding the file reader decides for Chinese exports, on real text (issue #19).

Samples are made from the data sets in ../shared/data: reviews of zh_online_shopping_10_cats.csv as
ticket rows encoded in GBK, and converted to traditional characters (OpenCC s2tw / s2hk) and encoded in
Big5 (cp950) and Big5-HKSCS; lines of the JD export as it is (GB18030). For each kind and each sample
size (rows), ``--samples`` random samples are detected by ``sources.files.detect_encoding``, by the
rule before #19 (strict UTF-8, then strict GB18030) and by charset_normalizer alone; a detection is
right when the sample decodes with it to the text that was encoded. Prints the share right and the
mean milliseconds per detection.

    python bench/encodings.py [--samples 200] [--sizes 1,2,5,20,500]
"""

from __future__ import annotations

import argparse
import codecs
import csv
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
HEADER = b"ticket_id,closed_at,body\n"


def _before(sample: bytes) -> str:
    """The decision before #19 for these samples: strict UTF-8, else strict GB18030."""
    for enc in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(enc)().decode(sample, final=False)
            return enc
        except UnicodeDecodeError:
            continue
    return "?"


def _detector(sample: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    return best.encoding if best else "?"


def _lines(kind: str, n: int, rng: random.Random) -> list[tuple[bytes, str]]:
    """(encoded line, its text) for n lines of one kind of export."""
    if kind == "jd gb18030":
        raw = (DATA / "zh_jd_aircon_comments_ORIGINAL_gb18030.csv").read_bytes().splitlines(keepends=True)[1:]
        return [(b, b.decode("gb18030")) for b in rng.sample(raw, min(n, len(raw)))]
    with (DATA / "zh_online_shopping_10_cats.csv").open(encoding="utf-8-sig", newline="") as f:
        reviews = [r[2] for r in csv.reader(f) if len(r) == 3][1:]
    enc, conv = {
        "gbk": ("gbk", None),
        "big5 (tw)": ("cp950", "s2tw"),
        "big5-hkscs (hk)": ("big5hkscs", "s2hk"),
        "utf-8": ("utf-8", None),
    }[kind]
    convert: Callable[[str], str] = str
    if conv:
        import opencc

        convert = opencc.OpenCC(conv).convert
    out: list[tuple[bytes, str]] = []
    for i in rng.sample(range(len(reviews)), min(len(reviews), n * 3)):
        text = f"T{i},2026-11-16 10:00,{convert(reviews[i]).replace(',', '，').strip()}\n"
        try:
            out.append((text.encode(enc), text))
        except UnicodeEncodeError:
            continue  # a character the encoding lacks: such a row cannot be in a real export either
        if len(out) == n:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--sizes", default="1,2,5,20,500")
    args = ap.parse_args()
    from voc.sources.files import detect_encoding

    sizes = [int(x) for x in args.sizes.split(",")]
    rules: dict[str, Callable[[bytes], str]] = {
        "now": detect_encoding,
        "before": _before,
        "charset_normalizer": _detector,
    }
    print(f"load {os.getloadavg()[0]:.2f}; {args.samples} samples per cell; share decoded right (mean ms)")
    print(f"{'export':18s} {'rows':>5s}  " + "  ".join(f"{r:>24s}" for r in rules))
    for kind in ("big5 (tw)", "big5-hkscs (hk)", "gbk", "jd gb18030", "utf-8"):
        rng = random.Random(19)
        pool = _lines(kind, max(sizes) * 4 + args.samples * 2, rng)
        for size in sizes:
            right = dict.fromkeys(rules, 0)
            spent = dict.fromkeys(rules, 0.0)
            for _ in range(args.samples):
                chosen = rng.sample(pool, min(size, len(pool)))
                sample = (HEADER + b"".join(b for b, _ in chosen))[: 1 << 16]  # the reader's sample size
                want = HEADER.decode() + "".join(t for _, t in chosen)
                for name, rule in rules.items():
                    t0 = time.perf_counter()
                    enc = rule(sample)
                    spent[name] += time.perf_counter() - t0
                    try:
                        ok = (
                            codecs.getincrementaldecoder(enc)().decode(sample, final=False)
                            == want[: len(codecs.getincrementaldecoder(enc)().decode(sample, final=False))]
                        )
                    except (LookupError, UnicodeDecodeError):
                        ok = False
                    right[name] += ok
            print(
                f"{kind:18s} {size:5d}  "
                + "  ".join(
                    f"{right[r] / args.samples:16.1%} ({spent[r] / args.samples * 1000:4.1f})" for r in rules
                )
            )


if __name__ == "__main__":
    main()
