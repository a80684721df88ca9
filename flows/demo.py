"""``voc demo``: bundled sample tickets -> the real weekly flow -> briefs, alerts and a review.

Runs on a fresh SQLite file with Prefect's ephemeral local API: no server, no network.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from voc import sample
from voc.config.settings import Settings, Source, load_config
from voc.flows.pdf import pdf_available
from voc.flows.review_stage import write_review
from voc.flows.weekly import given, weekly_flow
from voc.store import action_items, analysis
from voc.store.db import make_engine, migrate
from voc.weeks import Quarter, Week

DEMO_WEEKS = 20


def _assignments(engine) -> dict[int, int]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return analysis.assignment_map(conn)


def _record_action(engine, planted: sample.Planted, week: Week) -> tuple[int, int, date]:  # type: ignore[no-untyped-def]
    """The sample's action item (``Planted.action_*``): on the topic most of its theme's tickets are
    in, done, fixed on the Wednesday ``action_weeks_back`` weeks before ``week``. Returns (id, topic, fix)."""
    ids = [k for k, lab in planted.labels.items() if lab.theme == planted.action_theme]
    with engine.connect() as conn:
        counts = Counter(analysis.current_topics(conn, "demo", ids))
    topic_id = counts.most_common(1)[0][0]
    owner = next(p["owner"] for p in sample.PRODUCTS if p["id"] == planted.action_product)
    fix = week.shift(-planted.action_weeks_back).start + timedelta(days=2)
    aid = action_items.add(
        engine, topic_id, planted.action_product, None, str(owner), fix, planted.action_note
    )
    action_items.update_action(engine, aid, "done", fix, None)
    return aid, topic_id, fix


def run_demo(out: Path, week: Week, alerts_to: Path | None = None) -> Iterator[str]:
    """Yield progress lines; leaves demo.sqlite3, data/, briefs and outbox/ under ``out``."""
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    db = out / "demo.sqlite3"
    p: Path | str
    for p in out.glob("demo.sqlite3*"):
        p.unlink()
    outbox = alerts_to or out / "outbox"
    shutil.rmtree(outbox, ignore_errors=True)
    data = out / "data"
    data.mkdir(exist_ok=True)
    rows, planted = sample.generate(week, weeks=DEMO_WEEKS)
    sample.write_csv(data / "tickets.csv", rows)
    yield f"generated {len(rows)} sample tickets over {DEMO_WEEKS} weeks ending {week} -> {data / 'tickets.csv'}"

    settings = Settings(database_url=f"sqlite:///{db}", out_dir=out)
    cfg = load_config(settings.config)
    cfg = cfg.model_copy(update={"sources": [Source(name="demo", kind="file", path=str(data))]})
    if pdf_available():
        cfg.report.formats = [*cfg.report.formats, "pdf"]
    else:
        yield "(no Chromium found: PDF briefs skipped; HTML and Markdown are written)"
    engine = make_engine(settings.database_url)
    migrate(engine)

    previous = week.shift(-1)
    with given(settings, cfg):
        first = weekly_flow(str(previous), out, outbox, ingest=True, alerts=False)
    before = _assignments(engine)
    yield f"week {previous}: " + "; ".join(first.lines)
    with given(settings, cfg):
        res = weekly_flow(str(week), out, outbox, ingest=True, alerts=True)
    after = _assignments(engine)
    yield f"week {week}: " + "; ".join(res.lines)
    kept = sum(1 for k, v in before.items() if after.get(k) == v)
    yield (
        f"topic ids stable across the two weekly runs: {kept} of {len(before)} tickets "
        f"({100 * kept / max(len(before), 1):.1f}%) kept their topic id; the other {len(before) - kept} "
        f"moved into topics split off in {week} (recorded in the lineage)"
    )
    aid, topic_id, fix = _record_action(engine, planted, week)
    yield (
        f"action item #{aid} recorded: {planted.action_note} on topic {topic_id}, fixed {fix} "
        f"({planted.action_weeks_back} weeks back): the quarterly review measures its effect"
    )
    review = write_review(
        engine, cfg, Quarter.of(week.start), out, list(cfg.report.languages), list(cfg.report.formats)
    )
    yield f"planted: surge {planted.surge_model} batch {planted.surge_batch}; global spike {planted.global_spike_week}"
    yield "briefs:"
    for p in [*res.outputs, *map(str, review)]:
        yield f"  {p}"
    yield f"alerts written to {outbox}/ ({res.alerts.get('sent', 0)} sent, {res.alerts.get('failed', 0)} failed)"
    yield f"done in {time.perf_counter() - t0:.0f} s"
    yield (
        f"browse it: VOC_DATABASE_URL=sqlite:///{db.resolve()} voc web   "
        "(then open http://127.0.0.1:8800/weeks)"
    )
