"""Time every workbench page (`voc web`) on an analysed store: median and p95 ms per page (issue #17).

    python bench/web.py [--n 100000] [--db sqlite|postgres] [--weeks 20] [--store URL] [--repeat 20]

Builds the store with bench/pipeline.py's own backfill (ingest -> understand -> topics -> counts ->
surges -> brief for the end week), or reuses an analysed one with ``--store URL``. Then requests, in
process through Starlette's TestClient: /weeks, /weeks/{latest}, the surge page of the latest week's
first surge item (the link on the week page), its CSV export, /topics, /topics/{the first topic
listed}, /actions, /operations -- each once to warm up, then ``--repeat`` times. "Server time" is the
request's wall time in process (app + database + rendering, no network, no HTTP server): the TestClient's
own overhead is included, so the figures are a little above what uvicorn would spend. Target (#17):
every page <= 300 ms on 1M tickets. Prints the store size, `uptime` load at start and end, peak MB.
"""

from __future__ import annotations

import argparse
import gc
import html
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import sqlalchemy as sa  # noqa: E402
from pipeline import peak_mb, run, show  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from voc.config.settings import EXAMPLE_CONFIG, load_config  # noqa: E402
from voc.store.db import make_engine  # noqa: E402
from voc.web.app import create_app  # noqa: E402
from voc.weeks import Week  # noqa: E402

_WEEK = re.compile(r'href="/weeks/(\d{4}-W\d{2})[?"]')
_SURGE = re.compile(r'href="(/weeks/\d{4}-W\d{2}/surge\?[^"]*)"')
_TOPIC = re.compile(r'href="(/topics/\d+)[?"]')


def load() -> str:
    """The 1, 5 and 15 min load averages, as `uptime` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def store_size(url: str) -> str:
    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM tickets")).scalar_one()
    size = f"{n:,} tickets"
    if url.startswith("sqlite:///"):
        size += f", {Path(url.removeprefix('sqlite:///').split('?')[0]).stat().st_size / 1e6:,.0f} MB file"
    return size


def first(pattern: re.Pattern[str], page: str, what: str) -> str:
    m = pattern.search(page)
    if m is None:
        raise SystemExit(f"no {what} link found")
    return html.unescape(m.group(1))


def time_pages(client: TestClient, repeat: int) -> list[tuple[str, str, list[float]]]:
    """(label, path, ms per request) for every page, the paths found by following the pages' links."""

    def get(path: str) -> str:
        r = client.get(path)
        if r.status_code != 200:
            raise SystemExit(f"{path}: HTTP {r.status_code}")
        return r.text

    weeks_page = get("/weeks?lang=en")
    latest = max(_WEEK.findall(weeks_page), default=None)
    if latest is None:
        raise SystemExit("no analysed week in the store")
    week_page = get(f"/weeks/{latest}?lang=en")
    surge = first(_SURGE, week_page, "surge")
    topic = first(_TOPIC, get("/topics?lang=en"), "topic")
    pages = [
        ("/weeks", "/weeks?lang=en"),
        ("/weeks/{latest}", f"/weeks/{latest}?lang=en"),
        ("surge page", surge),
        ("surge CSV", surge.replace("/surge?", "/surge.csv?", 1)),
        ("/topics", "/topics?lang=en"),
        ("/topics/{id}", f"{topic}?lang=en"),
        ("/actions", "/actions?lang=en"),
        ("/operations", "/operations?lang=en"),
    ]
    out = []
    for label, path in pages:
        get(path)  # warm-up
        ms = []
        for _ in range(repeat):
            t = time.perf_counter()
            get(path)
            ms.append(1e3 * (time.perf_counter() - t))
        out.append((label, path, ms))
    return out


def p95(ms: list[float]) -> float:
    return statistics.quantiles(ms, n=20, method="inclusive")[-1] if len(ms) > 1 else ms[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="tickets in the generated store")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--weeks", type=int, default=20)
    ap.add_argument("--end-week", default="2026-W47")
    ap.add_argument("--store", help="reuse this analysed store (database URL) instead of building one")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "voc-bench")
    args = ap.parse_args()
    start_load = load()
    print(f"load at start: {start_load}")
    url = args.store
    if url is None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        end = Week.parse(args.end_week)
        times, url = run(args.n, args.db, args.weeks, end, args.workdir)
        show(
            f"store built: {args.n:,} tickets on {args.db} ({args.weeks} weeks, ingest -> brief for {end})",
            args.n,
            times,
            peak_mb(),
        )
        print(f"store: {url}  (reuse with --store)")
    size = store_size(url)
    db = "sqlite" if url.startswith("sqlite") else "postgres"
    client = TestClient(create_app(make_engine(url), load_config(EXAMPLE_CONFIG)))
    gc.freeze()  # as `voc web` does once its app is built
    results = time_pages(client, args.repeat)
    print(
        f"\npages on {size} ({db}), {args.repeat} requests each after one warm-up; server time = wall time "
        "of the request in process (Starlette TestClient)"
    )
    print(f"{'page':18} {'median ms':>10} {'p95 ms':>8}  path")
    for label, path, ms in results:
        flag = "  > 300 ms" if statistics.median(ms) > 300 or p95(ms) > 300 else ""
        print(f"{label:18} {statistics.median(ms):10.1f} {p95(ms):8.1f}  {path}{flag}")
    print(f"load: {start_load} at start, {load()} at end; peak memory: {peak_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
