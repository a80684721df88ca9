"""Chinese word segmentation: rjieba (jieba-rs) vs the Python cut vs jieba itself, words and speed.

    python bench/segment.py [--n 20000] [--real 0] [--no-understand]

On ``n`` generated tickets (bench/generate.py's mix) and the rows of the zh data sets in
``../shared/data`` (``--real``: how many of each, 0 = all), each text as the pipeline segments it
(normalised, redacted, placeholders dropped, model codes in catalogue spelling) and as it was written,
the project's segmenter (``nlp.tokens._JiebaSegmenter``, rjieba path and Python path) is compared
with ``jieba.Tokenizer.cut(HMM=False)`` over the same dictionary (jieba's plus the user words, the
parts and the example catalogue's names and models). Then ``understand()`` runs on the generated
tickets and on the real texts with rjieba and with the Python cut, and every stored column is
compared. Prints the texts that differ (none expected) and tickets/s per CPU-second of each cut.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def real_texts(limit: int) -> list[str]:
    import pandas as pd

    out: list[str] = []
    z = pd.read_csv(DATA / "zh_online_shopping_10_cats.csv").dropna(subset=["review"])
    out += [str(x) for x in z["review"]][: limit or None]
    j = pd.read_csv(DATA / "zh_jd_aircon_comments_ORIGINAL_gb18030.csv", encoding="gb18030")
    out += [str(x) for x in j["评论内容"].dropna()][: limit or None]
    return out


def cpu(fn):  # type: ignore[no-untyped-def]
    c = time.process_time()
    res = fn()
    return res, time.process_time() - c


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--real", type=int, default=0, help="rows of each zh data set (0 = all)")
    ap.add_argument("--no-understand", action="store_true", help="compare the words only")
    args = ap.parse_args(argv)

    from bench.nlp import generated_tickets
    from voc.nlp.normalize import normalize
    from voc.nlp.tokens import token_text
    from voc.nlp.understanding import TicketText, Understander

    tickets, products = generated_tickets(args.n)
    real = real_texts(args.real)
    u = Understander(products)
    seg = u.zh.tokenizer.jieba_seg
    if not seg._rs:
        print("rjieba is not installed: nothing to compare")
        return 1

    def prepared(text: str) -> str:
        return token_text(u.redactor.redact(normalize(text)[0])[0], u.index)

    gen = [x.body if not x.subject else f"{x.subject}。{x.body}" for x in tickets]
    sets = {
        "generated, as segmented": [prepared(t) for t in gen],
        "generated, raw": gen,
        "zh data sets, as segmented": [prepared(t) for t in real],
        "zh data sets, raw": real,
    }
    differ = 0
    print(
        f"{'texts':28} {'n':>7} {'jieba/CPU-s':>12} {'python/CPU-s':>13} {'rjieba/CPU-s':>13} {'differ':>7}"
    )
    for name, texts in sets.items():
        ref, t_ref = cpu(lambda texts=texts: [list(seg.tk.cut(t, HMM=False)) for t in texts])
        py, t_py = cpu(lambda texts=texts: [seg._cut_py(t) for t in texts])
        rs, t_rs = cpu(lambda texts=texts: [seg.cut(t) for t in texts])
        bad = [t for t, a, b, c in zip(texts, ref, py, rs, strict=True) if not a == b == c]
        differ += len(bad)
        n = len(texts)
        print(f"{name:28} {n:7,} {n / t_ref:12,.0f} {n / t_py:13,.0f} {n / t_rs:13,.0f} {len(bad):7,}")
        for t in bad[:5]:
            print("   differs:", t[:200])

    if not args.no_understand:
        items = tickets + [TicketText(body=t) for t in real]
        batches = [items[i : i + 2000] for i in range(0, len(items), 2000)]
        with_rs, t_rs = cpu(lambda: [x for b in batches for x in u.understand(b)])
        rs_obj, seg._rs = seg._rs, False  # the Python cut
        try:
            with_py, t_py = cpu(lambda: [x for b in batches for x in u.understand(b)])
        finally:
            seg._rs = rs_obj
        bad_u = [(a, b) for a, b in zip(with_rs, with_py, strict=True) if a != b]
        differ += len(bad_u)
        n = len(items)
        print(
            f"\nunderstand() on {n:,} tickets: rjieba {n / t_rs:,.0f}/CPU-s, Python cut {n / t_py:,.0f}/CPU-s "
            f"({t_py / t_rs:.2f}x); results differing: {len(bad_u)}"
        )
        for a, b in bad_u[:3]:
            print("   ", a, "\n   ", b)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
