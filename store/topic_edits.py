"""Human edits to the topic catalogue. They are stored on the topic rows and respected by refits.

Each edit is logged with who made it and the values before and after (``store.edit_log``), and can be
undone from there. ``who``: ``cli`` from the command line, the workbench's principal from the web.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from nlp.themes import LIVE
from store import edit_log
from store.models import Assignment, TicketRow, Topic, TopicLineage
from voc.errors import VocError
from voc.spreadsheet import write_csv
from voc.weeks import Week


def get(engine: Engine, topic_id: int) -> Topic:
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        t = s.get(Topic, topic_id)
        if t is None:
            raise VocError(f"no topic with id {topic_id} (see `voc topics`)")
        s.expunge(t)
        return t


def _row(conn: Connection, topic_id: int) -> Any:
    r = conn.execute(select(Topic.__table__).where(Topic.id == topic_id)).first()
    if r is None:
        raise VocError(f"no topic with id {topic_id} (see `voc topics`)")
    return r


def rename(engine: Engine, topic_id: int, label: str, *, who: str = "cli") -> int:
    """A human label (kept by refits). Returns the edit's id in the log."""
    label = label.strip()
    if not label:
        raise VocError("a topic label cannot be empty")
    with engine.begin() as conn:
        t = _row(conn, topic_id)
        conn.execute(update(Topic).where(Topic.id == topic_id).values(label=label, human_label=True))
        return edit_log.record(conn, who, "topic-rename", topic_id, None,
                               {"label": t.label, "human_label": bool(t.human_label)},
                               {"label": label, "human_label": True})


def ignore(engine: Engine, topic_id: int, *, who: str = "cli") -> int:
    """Hide a live topic from briefs and alerts (kept by refits)."""
    with engine.begin() as conn:
        t = _row(conn, topic_id)
        if t.status not in LIVE:
            raise VocError(f"topic {topic_id} is {t.status}: only an active or emerging topic can be ignored")
        conn.execute(update(Topic).where(Topic.id == topic_id).values(status="ignored"))
        return edit_log.record(conn, who, "topic-ignore", topic_id, None,
                               {"status": t.status, "theme": edit_log.placement(conn, topic_id)},
                               {"status": "ignored"})


def unignore(engine: Engine, topic_id: int, *, who: str = "cli") -> int:
    """Show an ignored topic again ('active'; the next run places it in a theme)."""
    with engine.begin() as conn:
        t = _row(conn, topic_id)
        if t.status != "ignored":
            raise VocError(f"topic {topic_id} is {t.status}, not ignored")
        conn.execute(update(Topic).where(Topic.id == topic_id).values(status="active"))
        return edit_log.record(conn, who, "topic-unignore", topic_id, None, {"status": "ignored"},
                               {"status": "active"})


def set_status(engine: Engine, topic_id: int, status: str, *, who: str = "cli") -> int:
    """'ignored' (:func:`ignore`) or, for an ignored topic, 'active' (:func:`unignore`)."""
    if status == "ignored":
        return ignore(engine, topic_id, who=who)
    if status == "active":
        return unignore(engine, topic_id, who=who)
    raise VocError(f"a topic can be set 'ignored' or (back) 'active' by hand, not {status!r}")


def merge(engine: Engine, source_id: int, target_id: int, *, who: str = "cli") -> int:
    """Topic A into topic B (A's tickets count as B's from the next counts on). Logged with what it
    re-pointed, A's tickets and A's theme, so :func:`store.edit_log.undo` can restore A."""
    if source_id == target_id:
        raise VocError("cannot merge a topic into itself")
    with engine.begin() as conn:
        src, dst = _row(conn, source_id), _row(conn, target_id)
        if src.intent != dst.intent:
            raise VocError(f"topic {source_id} is a {src.intent} topic and {target_id} a {dst.intent} topic")
        if src.status == "merged":
            raise VocError(f"topic {source_id} is already merged into {src.merged_into}")
        final = dst.merged_into or target_id
        if final == source_id:
            raise VocError(f"topic {target_id} is merged into {source_id}: merge the other way round")
        repointed = [int(x) for x in conn.execute(select(Topic.id).where(Topic.merged_into == source_id)).scalars()]
        tickets = [int(x) for x in conn.execute(select(Assignment.ticket_id).where(Assignment.topic_id == source_id)
                                                .order_by(Assignment.ticket_id)).scalars()]
        before = {"status": src.status, "merged_into": src.merged_into, "repointed": repointed,
                  "theme": edit_log.placement(conn, source_id), "tickets": tickets}
        conn.execute(update(Topic).where(Topic.id == source_id).values(status="merged", merged_into=final))
        conn.execute(update(Topic).where(Topic.merged_into == source_id).values(merged_into=final))
        conn.execute(insert(TopicLineage).values(old_id=source_id, new_id=final, kind="human-merge",
                                                 week=Week.of(datetime.now()).ordinal(), created_at=datetime.now()))
        return edit_log.record(conn, who, "topic-merge", source_id, target_id, before,
                               {"status": "merged", "merged_into": final})


def export_assignments(engine: Engine, out: Path, week: int | None) -> int:
    T, A = TicketRow.__table__, Assignment.__table__
    q = (select(T.c.source_id, Topic.id, Topic.merged_into, Topic.label, T.c.intent)
         .select_from(T.join(A, A.c.ticket_id == T.c.id).join(Topic.__table__, Topic.id == A.c.topic_id))
         .order_by(T.c.id))
    if week is not None:
        q = q.where(T.c.week == week)
    with engine.connect() as conn:
        labels = {t.id: t.label for t in conn.execute(select(Topic.id, Topic.label))}
        rows = list(conn.execute(q))
    return write_csv(out, ["ticket_id", "topic_id", "topic_label", "intent"],
                     ([sid, merged or tid, labels.get(merged or tid, label), intent]
                      for sid, tid, merged, label, intent in rows))
