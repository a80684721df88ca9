"""Human edits to the topic catalogue. They are stored on the topic rows and respected by refits."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, insert, select, update

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


def rename(engine: Engine, topic_id: int, label: str) -> None:
    get(engine, topic_id)
    if not label.strip():
        raise VocError("a topic label cannot be empty")
    with engine.begin() as conn:
        conn.execute(update(Topic).where(Topic.id == topic_id).values(label=label.strip(), human_label=True))


def set_status(engine: Engine, topic_id: int, status: str) -> None:
    get(engine, topic_id)
    with engine.begin() as conn:
        conn.execute(update(Topic).where(Topic.id == topic_id).values(status=status))


def merge(engine: Engine, source_id: int, target_id: int) -> None:
    if source_id == target_id:
        raise VocError("cannot merge a topic into itself")
    src, dst = get(engine, source_id), get(engine, target_id)
    if src.intent != dst.intent:
        raise VocError(f"topic {source_id} is a {src.intent} topic and {target_id} a {dst.intent} topic")
    final = dst.merged_into or target_id
    with engine.begin() as conn:
        conn.execute(update(Topic).where(Topic.id == source_id).values(status="merged", merged_into=final))
        conn.execute(update(Topic).where(Topic.merged_into == source_id).values(merged_into=final))
        conn.execute(insert(TopicLineage).values(old_id=source_id, new_id=final, kind="human-merge",
                                                 week=Week.of(datetime.now()).ordinal(), created_at=datetime.now()))


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
