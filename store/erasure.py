"""Erasing tickets their source deleted (a customer's erasure request, spam clean-up).

A helpdesk that deletes or scrubs a ticket (Zendesk ``status: "deleted"``, Freshdesk's trash and spam)
means it must be gone here too: :func:`erase_tickets` deletes the stored row with everything derived
from it (topic assignment, embedding, the kept theme sums of earlier weeks), the raw rows of it that sit
in quarantine, and recounts the weeks it was counted in, so no figure computed afterwards includes it.
What is kept is one ``erasures`` row per ticket: the source, the ticket id, why, and when; never a word
of the ticket.

A rendered brief may quote a ticket (its redacted text, the first 280 characters): a weekly brief of the
ticket's week or a quarterly review of its quarter whose HTML or Markdown file holds the quote is
deleted with its record, and so is the PDF printed from that HTML; ``voc brief`` renders it again from
what is left. Not touched: surge rows already stored for past weeks (counts and statistical sentences,
no ticket text; the next surge run over those weeks recomputes them) and alerts already sent.

It runs inside the caller's transaction (the ingest writes a batch's tickets, its erasures and the
source's watermark together), and erasing a ticket that is not stored is a no-op.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, delete, insert, select

from voc.store.analysis import recount_weeks
from voc.store.binds import chunks
from voc.store.models import (
    Artifact,
    Assignment,
    BriefRendered,
    Embedding,
    Erasure,
    QuarantinedRow,
    TicketRow,
    TopicQueue,
)
from voc.store.themes import THEME_HISTORY
from voc.weeks import Quarter, Week

log = logging.getLogger(__name__)

REASONS = ("deleted", "spam")
QUOTE_CHARS = 280  # store.report_queries.quotes: a brief quotes the first 280 characters of text_clean
_WORDS = re.compile(r"\w{4,}")  # runs of letters/digits/CJK that no renderer escapes


@dataclass(frozen=True)
class Deletion:
    """A ticket the source reports deleted. ``location`` is where its raw rows are quarantined when
    they fail validation (e.g. ``zendesk:ticket/42``): those copies hold its text too."""

    ticket_id: str
    reason: str = "deleted"
    location: str | None = None


def erase_tickets(conn: Connection, source: str, deletions: Sequence[Deletion]) -> list[str]:
    """Erase the stored tickets (and quarantined raw rows) of ``source`` named by ``deletions``;
    returns the ids of the tickets something was erased of, each logged in ``erasures``."""
    if not deletions:
        return []
    for d in deletions:
        if d.reason not in REASONS:
            raise ValueError(f"erasure reason {d.reason!r} is not one of {REASONS}")
    by_id = {d.ticket_id: d for d in deletions}
    ids = sorted(by_id)
    T = TicketRow.__table__
    found: dict[str, tuple[int, int]] = {}
    for id_chunk in chunks(ids):
        q = select(T.c.source_id, T.c.id, T.c.week).where(T.c.source == source, T.c.source_id.in_(id_chunk))
        found.update({sid: (pk, week) for sid, pk, week in conn.execute(q)})
    pks = [pk for pk, _ in found.values()]
    quoted: dict[int, list[str]] = {}
    for pk_chunk in chunks(pks):
        for week, text in conn.execute(
            select(T.c.week, T.c.text_clean).where(T.c.id.in_(pk_chunk), T.c.text_clean.is_not(None))
        ):
            quoted.setdefault(week, []).append(text)
    for pk_chunk in chunks(pks):
        conn.execute(delete(Assignment).where(Assignment.ticket_id.in_(pk_chunk)))
        conn.execute(delete(Embedding).where(Embedding.ticket_id.in_(pk_chunk)))
        conn.execute(delete(TopicQueue).where(TopicQueue.ticket_id.in_(pk_chunk)))
        conn.execute(delete(TicketRow).where(TicketRow.id.in_(pk_chunk)))
    quarantined: set[str] = set()
    locations = {d.location: d.ticket_id for d in deletions if d.location}
    loc_list = sorted(locations)
    for loc_chunk in chunks(loc_list):
        gone = (
            delete(QuarantinedRow)
            .where(QuarantinedRow.source == source, QuarantinedRow.location.in_(loc_chunk))
            .returning(QuarantinedRow.location)
        )
        for (loc,) in conn.execute(gone):
            quarantined.add(locations[loc])
    if quoted:
        _drop_briefs_quoting(conn, quoted)
    if found:
        recount_weeks(conn, {week for _, week in found.values()})
        # the theme profile sums of earlier weeks add up these tickets' words: the next run recomputes them
        conn.execute(delete(Artifact).where(Artifact.key == THEME_HISTORY))
    erased = sorted(set(found) | quarantined)
    if erased:
        now = datetime.now().replace(microsecond=0)
        conn.execute(
            insert(Erasure),
            [dict(source=source, source_id=sid, reason=by_id[sid].reason, erased_at=now) for sid in erased],
        )
        # ids and counts only: the erased text never reaches a log
        log.info(
            "%s: erased %d ticket(s) deleted at the source (ids %s)",
            source,
            len(erased),
            ", ".join(erased[:50]) + (" ..." if len(erased) > 50 else ""),
        )
    return erased


def erasures(conn: Connection, source: str | None = None) -> list[tuple[str, str, str, datetime]]:
    """(source, ticket id, reason, erased at) of every erasure, oldest first."""
    q = select(Erasure.source, Erasure.source_id, Erasure.reason, Erasure.erased_at).order_by(Erasure.id)
    if source is not None:
        q = q.where(Erasure.source == source)
    return [(a, b, c, d) for a, b, c, d in conn.execute(q)]


def _needles(text: str) -> list[str]:
    """What a rendered quote of ``text`` must contain: its word runs of 4+ characters (punctuation is
    escaped differently by the HTML and Markdown renderers), or the whole quote when it has none."""
    quote = " ".join(text[:QUOTE_CHARS].split())
    return _WORDS.findall(quote) or [quote]


def _drop_briefs_quoting(conn: Connection, quoted: dict[int, list[str]]) -> None:
    """Delete the rendered briefs (files and records) that quote one of these texts, by week."""
    periods: dict[str, list[list[str]]] = {}
    for week, texts in quoted.items():
        w = Week.from_ordinal(week)
        needles = [n for n in (_needles(t) for t in texts if len(t.strip()) >= 6) if n]
        for period in (str(w), str(Quarter.of(w.start + timedelta(days=3)))):
            periods.setdefault(period, []).extend(needles)
    if not any(periods.values()):
        return
    B = BriefRendered
    rows = conn.execute(select(B.id, B.period, B.fmt, B.path).where(B.period.in_(sorted(periods)))).all()
    hit_stems: set[str] = set()
    unread = 0
    for _, period, fmt, path in rows:
        if fmt not in ("html", "md"):
            continue
        try:
            content = html.unescape(" ".join(Path(path).read_text(encoding="utf-8").split()))
        except (OSError, UnicodeDecodeError):
            unread += 1  # moved, or a relative path recorded by an older version from another directory
            continue
        content = content.replace("\\", "")  # Markdown backslash escapes
        if any(all(n in content for n in needles) for needles in periods[period]):
            hit_stems.add(path.rsplit(".", 1)[0])
    gone = [(bid, path) for bid, _, _, path in rows if path.rsplit(".", 1)[0] in hit_stems]
    for _, path in gone:
        Path(path).unlink(missing_ok=True)
    for id_chunk in chunks([bid for bid, _ in gone]):
        conn.execute(delete(B).where(B.id.in_(id_chunk)))
    if gone:
        log.info(
            "erasure: %d rendered brief file(s) quoted an erased ticket and were deleted; render them "
            "again with `voc brief`",
            len(gone),
        )
    if unread:
        log.warning(
            "erasure: %d rendered brief file(s) of the erased tickets' weeks could not be read to check "
            "for quotes (moved, or recorded with a relative path); check them by hand",
            unread,
        )
