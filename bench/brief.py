"""Time building and rendering the weekly brief for a week of ~100k tickets.

    voc demo --out /tmp/demo --week 2026-W47      # once: a real analysed store
    python bench/brief.py --db /tmp/demo/demo.sqlite3 --week 2026-W47 [--tickets 100000]

The demo store is copied and the week's tickets (with their topic assignments) are replicated up to
``--tickets``, counts and surges are recomputed, then the brief is built from queries and rendered.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voc.config.settings import EXAMPLE_CONFIG, load_config  # noqa: E402
from voc.flows.brief_stage import build_brief  # noqa: E402
from voc.flows.surge_stage import detect_week  # noqa: E402
from voc.reports.render import render_brief  # noqa: E402
from voc.store import analysis  # noqa: E402
from voc.store.db import make_engine  # noqa: E402
from voc.weeks import Week  # noqa: E402


def inflate(db: Path, week: int, target: int) -> int:
    con = sqlite3.connect(db)
    cols = [r[1] for r in con.execute("pragma table_info(tickets)") if r[1] != "id"]
    n0 = con.execute("select count(*) from tickets where week=?", (week,)).fetchone()[0]
    for k in range(1, max(1, target // max(n0, 1))):
        sel = ", ".join(f"source_id || '-r{k}'" if c == "source_id" else c for c in cols)
        con.execute(
            f"insert into tickets ({', '.join(cols)}) select {sel} from tickets "
            "where week=? and source_id not like '%-r%'",
            (week,),
        )
    con.execute(
        """insert into assignments (ticket_id, topic_id, similarity, assigned_week, week)
      select t2.id, a.topic_id, a.similarity, a.assigned_week, t2.week from tickets t2
      join tickets t1 on t1.source = t2.source and t2.source_id like t1.source_id || '-r%' and t1.week = t2.week
      join assignments a on a.ticket_id = t1.id where t2.week = ?""",
        (week,),
    )
    con.commit()
    n = con.execute("select count(*) from tickets where week=?", (week,)).fetchone()[0]
    con.close()
    return int(n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--week", default="2026-W47")
    ap.add_argument("--tickets", type=int, default=100_000)
    args = ap.parse_args()
    week = Week.parse(args.week)
    work = Path(tempfile.mkdtemp(prefix="voc-brief-bench-")) / "big.sqlite3"
    shutil.copy(args.db, work)
    n = inflate(work, week.ordinal(), args.tickets)
    engine = make_engine(f"sqlite:///{work}")
    cfg = load_config(EXAMPLE_CONFIG)
    with engine.begin() as conn:
        analysis.rebuild_counts(conn, week.ordinal())
    detect_week(engine, cfg, week)
    print(f"{n:,} tickets in {week}")
    for lang in ("zh", "en"):
        t = time.perf_counter()
        brief = build_brief(engine, cfg, week, lang)
        built = time.perf_counter() - t
        t = time.perf_counter()
        render_brief(brief, lang, "html")
        render_brief(brief, lang, "md")
        print(f"{lang}: build {built:.2f} s (queries), render html+md {time.perf_counter() - t:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
