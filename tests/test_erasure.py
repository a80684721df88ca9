"""store.erasure and the recounts it shares with the counts stage, on real SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select

from voc.store import analysis
from voc.store.db import make_engine, migrate
from voc.store.erasure import Deletion, erase_tickets, erasures
from voc.store.models import Assignment, TicketRow, Topic, WeeklyCount, WeeklyVolume
from voc.store.themes import THEME_HISTORY

WEEK_AT = datetime(2026, 1, 7, 12, 0)
WEEK = (WEEK_AT.toordinal() - WEEK_AT.weekday()) // 7


def seed(engine: Engine, n: int = 6) -> None:
    with engine.begin() as c:
        c.execute(
            insert(Topic).values(
                id=1,
                intent="complaint",
                label="t",
                keywords="",
                status="active",
                created_week=0,
                updated_at=WEEK_AT,
            )
        )
        c.execute(
            insert(TicketRow),
            [
                dict(
                    source="zd",
                    source_id=str(i),
                    event_at=WEEK_AT,
                    closed_at=WEEK_AT,
                    week=WEEK,
                    body=f"body {i}",
                    content_hash=f"h{i}",
                    intent="complaint",
                    severity="safety" if i == 1 else "defect",
                    product_n="kx-30a",
                    batch_n="B2409" if i % 2 else None,
                    nlp_version="t",
                )
                for i in range(1, n + 1)
            ],
        )
        pks = c.execute(select(TicketRow.id)).scalars().all()
        c.execute(
            insert(Assignment),
            [dict(ticket_id=pk, topic_id=1, similarity=0.9, assigned_week=WEEK, week=WEEK) for pk in pks],
        )
        analysis.rebuild_counts(c, WEEK)


def weekly(engine: Engine) -> tuple[list[tuple], list[tuple]]:
    with engine.connect() as c:
        counts = c.execute(
            select(
                WeeklyCount.week, WeeklyCount.batch, WeeklyCount.n, WeeklyCount.sev_max, WeeklyCount.n_safety
            ).order_by(WeeklyCount.batch)
        ).all()
        vols = c.execute(
            select(WeeklyVolume.week, WeeklyVolume.product, WeeklyVolume.batch, WeeklyVolume.n).order_by(
                WeeklyVolume.product, WeeklyVolume.batch
            )
        ).all()
    return [tuple(r) for r in counts], [tuple(r) for r in vols]


def test_erasing_the_only_safety_ticket_lowers_the_cell_and_logs_ids(engine: Engine) -> None:
    seed(engine)
    with engine.begin() as c:
        analysis.put_artifact(c, THEME_HISTORY, b"{}")
        done = erase_tickets(c, "zd", [Deletion("1"), Deletion("404", "spam")])  # 404 was never stored
    assert done == ["1"]
    with engine.connect() as c:  # the kept theme sums of earlier weeks counted its words: gone too
        assert analysis.get_artifact(c, THEME_HISTORY) is None
    counts, vols = weekly(engine)
    # ticket 1 was the cell's only safety ticket (batch B2409): its severity and counts go with it
    assert counts == [(WEEK, "", 3, 2, 0), (WEEK, "B2409", 2, 2, 0)]
    assert vols == [(WEEK, "", "", 5), (WEEK, "kx-30a", "", 5), (WEEK, "kx-30a", "B2409", 2)]
    with engine.connect() as c:
        assert [x[1:3] for x in erasures(c)] == [("1", "deleted")]
        assert c.execute(select(func.count()).select_from(Assignment)).scalar_one() == 5
    with engine.begin() as c:  # again: nothing left to erase, nothing logged
        assert erase_tickets(c, "zd", [Deletion("1")]) == []
    with pytest.raises(ValueError, match="reason"):
        with engine.begin() as c:
            erase_tickets(c, "zd", [Deletion("2", "because")])


def test_a_week_never_counted_stays_uncounted(engine: Engine) -> None:
    seed(engine)
    with engine.begin() as c:
        c.execute(WeeklyCount.__table__.delete())
        c.execute(WeeklyVolume.__table__.delete())
        erase_tickets(c, "zd", [Deletion("2")])
    assert weekly(engine) == ([], [])


@pytest.mark.postgres
def test_recounts_take_turns_on_postgresql(pg_url: str) -> None:
    """The counts stage and an ingest's erasure recounting one week at once: the second waits for the
    first to commit and then replaces its rows (without the lock: duplicate counts, or a unique
    violation on weekly_volume)."""
    eng = make_engine(pg_url)
    try:
        migrate(eng)
        seed(eng)
        before = weekly(eng)
        c1 = eng.connect()
        tx = c1.begin()
        analysis.rebuild_counts(c1, WEEK)  # the weekly run's counts, not committed yet
        errors: list[BaseException] = []

        def erase() -> None:
            try:
                with eng.begin() as c2:
                    erase_tickets(c2, "zd", [Deletion("6")])
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        th = threading.Thread(target=erase)
        th.start()
        time.sleep(0.5)
        assert th.is_alive()  # waiting for the lock
        tx.commit()
        c1.close()
        th.join(10)
        assert not th.is_alive() and errors == []
        counts, vols = weekly(eng)
        assert sum(r[2] for r in counts) == sum(r[2] for r in before[0]) - 1  # no row twice
        assert vols[0] == (WEEK, "", "", 5)
    finally:
        eng.dispose()


def test_a_stage_writing_for_a_ticket_erased_since_it_read_skips_it(engine: Engine) -> None:
    """The topic stage read tickets, an ingest erased one, the stage writes its assignments and
    embeddings: the erased ticket gets none and the stage does not fail on the foreign key."""
    seed(engine, 3)
    with engine.connect() as c:
        pks = sorted(c.execute(select(TicketRow.id)).scalars())
    with engine.begin() as c:
        erase_tickets(c, "zd", [Deletion("2")])
    import numpy as np

    with engine.begin() as c:
        analysis.save_assignments(c, pks, [(1, 0.5)] * 3, WEEK)
        analysis.store_embeddings(c, "e", pks, np.zeros((3, 4), np.float32))
    with engine.connect() as c:
        alive = set(c.execute(select(TicketRow.id)).scalars())
        assert set(c.execute(select(Assignment.ticket_id)).scalars()) == alive
        assert len(alive) == 2 and pks[1] not in alive


def test_erasing_a_quoted_ticket_deletes_the_rendered_briefs_that_quote_it(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Briefs written the way the renderers write quotes (HTML autoescape, Markdown md_escape): the
    week's zh brief quotes ticket 1 (HTML, Markdown and the PDF printed from the HTML: all three go),
    so does the quarter's en review in Markdown;
    its en brief quotes ticket 2, the quarter's review quotes neither, another week's brief holds the
    same words but is not of ticket 1's week or quarter: those stay."""
    from markupsafe import escape

    from voc.reports.render import md_escape
    from voc.store.models import BriefRendered
    from voc.weeks import Quarter, Week

    out = tmp_path / "briefs"
    out.mkdir()
    seed(engine, n=2)
    one = "门铰链<松>了*两次* | 烤箱门关不紧，请联系 [PHONE] 处理_谢谢"
    two = "The fryer basket handle cracked after two weeks"
    with engine.begin() as c:
        c.execute(TicketRow.__table__.update().where(TicketRow.source_id == "1").values(text_clean=one))
        c.execute(TicketRow.__table__.update().where(TicketRow.source_id == "2").values(text_clean=two))
    week = Week.from_ordinal(WEEK)
    later = week.shift(20)
    quarter = str(Quarter.of(week.start))
    files = {  # (kind, period, lang, fmt) -> content
        ("weekly", str(week), "zh", "html"): f"<blockquote>“{escape(one)}”</blockquote>",
        ("weekly", str(week), "zh", "md"): f"> “{md_escape(one)}”",
        ("weekly", str(week), "zh", "pdf"): "%PDF-1.7 (printed from the html)",
        ("weekly", str(week), "en", "html"): f"<blockquote>“{escape(two)}”</blockquote>",
        ("review", quarter, "zh", "html"): "<p>no quotes</p>",
        ("review", quarter, "en", "md"): f"| “{md_escape(one)}” |",  # Markdown alone: matched all the same
        ("weekly", str(later), "zh", "html"): f"<blockquote>“{escape(one)}”</blockquote>",
    }
    with engine.begin() as c:
        for (kind, period, lang, fmt), content in files.items():
            path = out / f"{kind}-{period}.{lang}.{fmt}"
            path.write_text(content, encoding="utf-8")
            c.execute(
                insert(BriefRendered).values(
                    kind=kind,
                    period=period,
                    lang=lang,
                    fmt=fmt,
                    path=str(path),
                    sha256="0" * 64,
                    created_at=WEEK_AT,
                )
            )
    with engine.begin() as c:
        assert erase_tickets(c, "zd", [Deletion("1")]) == ["1"]
    kept = {f"weekly-{week}.en.html", f"review-{quarter}.zh.html", f"weekly-{later}.zh.html"}
    assert {p.name for p in out.iterdir()} == kept
    with engine.connect() as c:
        assert {p.rsplit("/", 1)[-1] for p in c.execute(select(BriefRendered.path)).scalars()} == kept
    with engine.begin() as c:  # a record whose file cannot be read (an older relative path): said, kept
        c.execute(
            insert(BriefRendered).values(
                kind="weekly",
                period=str(week),
                lang="zh",
                fmt="md",
                path="out/brief-moved.zh.md",
                sha256="0" * 64,
                created_at=WEEK_AT,
            )
        )
    with caplog.at_level(logging.WARNING, logger="voc.store.erasure"), engine.begin() as c:
        erase_tickets(c, "zd", [Deletion("2")])  # ticket 2 is quoted by the en brief: it goes with it
    assert {p.name for p in out.iterdir()} == kept - {f"weekly-{week}.en.html"}
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "1 rendered brief file(s)" in warning and "could not be read" in warning and two not in warning
