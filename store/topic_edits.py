"""Human edits to the topic catalogue. They are stored on the topic rows and respected by refits.

Each edit is logged with who made it and the values before and after (``store.edit_log``), and can be
undone from there. ``who``: ``cli`` from the command line, the workbench's principal from the web.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, func, insert, select, update

from voc.errors import VocError
from voc.nlp.themes import LIVE
from voc.spreadsheet import write_csv
from voc.store import analysis, edit_log
from voc.store.analysis import TopicRecord
from voc.store.binds import chunks
from voc.store.models import Assignment, TicketRow, Topic, TopicLineage, TopicTheme
from voc.weeks import Week


def get(engine: Engine, topic_id: int) -> TopicRecord:
    """One topic (``store.analysis.get_topic``); a VocError when there is none."""
    with engine.connect() as conn:
        return analysis.get_topic(conn, topic_id)


def rename(engine: Engine, topic_id: int, label: str, *, who: str = "cli") -> int:
    """A human label (kept by refits). Returns the edit's id in the log."""
    label = label.strip()
    if not label:
        raise VocError("a topic label cannot be empty")
    with engine.begin() as conn:
        t = analysis.get_topic(conn, topic_id)
        conn.execute(update(Topic).where(Topic.id == topic_id).values(label=label, human_label=True))
        return edit_log.record(
            conn,
            who,
            "topic-rename",
            topic_id,
            None,
            {"label": t.label, "human_label": bool(t.human_label)},
            {"label": label, "human_label": True},
        )


def ignore(engine: Engine, topic_id: int, *, who: str = "cli") -> int:
    """Hide a live topic from briefs and alerts (kept by refits)."""
    with engine.begin() as conn:
        t = analysis.get_topic(conn, topic_id)
        if t.status not in LIVE:
            raise VocError(f"topic {topic_id} is {t.status}: only an active or emerging topic can be ignored")
        conn.execute(update(Topic).where(Topic.id == topic_id).values(status="ignored"))
        return edit_log.record(
            conn,
            who,
            "topic-ignore",
            topic_id,
            None,
            {"status": t.status, "theme": edit_log.placement(conn, topic_id)},
            {"status": "ignored"},
        )


def unignore(engine: Engine, topic_id: int, *, who: str = "cli") -> int:
    """Show an ignored topic again ('active'; the next run places it in a theme)."""
    with engine.begin() as conn:
        t = analysis.get_topic(conn, topic_id)
        if t.status != "ignored":
            raise VocError(f"topic {topic_id} is {t.status}, not ignored")
        conn.execute(update(Topic).where(Topic.id == topic_id).values(status="active"))
        return edit_log.record(
            conn, who, "topic-unignore", topic_id, None, {"status": "ignored"}, {"status": "active"}
        )


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
        src, dst = analysis.get_topic(conn, source_id), analysis.get_topic(conn, target_id)
        if src.intent != dst.intent:
            raise VocError(f"topic {source_id} is a {src.intent} topic and {target_id} a {dst.intent} topic")
        if src.status == "merged":
            raise VocError(f"topic {source_id} is already merged into {src.merged_into}")
        final = dst.merged_into or target_id
        if final == source_id:
            raise VocError(f"topic {target_id} is merged into {source_id}: merge the other way round")
        repointed = [
            int(x) for x in conn.execute(select(Topic.id).where(Topic.merged_into == source_id)).scalars()
        ]
        tickets = [
            int(x)
            for x in conn.execute(
                select(Assignment.ticket_id)
                .where(Assignment.topic_id == source_id)
                .order_by(Assignment.ticket_id)
            ).scalars()
        ]
        before = {
            "status": src.status,
            "merged_into": src.merged_into,
            "repointed": repointed,
            "theme": edit_log.placement(conn, source_id),
            "tickets": tickets,
        }
        conn.execute(update(Topic).where(Topic.id == source_id).values(status="merged", merged_into=final))
        conn.execute(update(Topic).where(Topic.merged_into == source_id).values(merged_into=final))
        conn.execute(
            insert(TopicLineage).values(
                old_id=source_id,
                new_id=final,
                kind="human-merge",
                week=Week.of(datetime.now()).ordinal(),
                created_at=datetime.now(),
            )
        )
        return edit_log.record(
            conn, who, "topic-merge", source_id, target_id, before, {"status": "merged", "merged_into": final}
        )


def split(engine: Engine, topic_id: int, ticket_ids: Sequence[int], label: str, *, who: str = "cli") -> int:
    """Move chosen tickets of a live topic into a new topic (human label, same theme, pinned there).

    Its centroid is the mean of the chosen tickets' cached embeddings (else the source's), so later
    weeks and refits assign similar tickets to it; the weekly split leaves human-labelled topics'
    tickets where they are. Returns the edit's id; the new topic is the edit's ``target_id``."""
    label = label.strip()
    if not label:
        raise VocError("a topic label cannot be empty")
    ids = sorted({int(x) for x in ticket_ids})
    if not ids:
        raise VocError("choose the tickets to split off")
    with engine.begin() as conn:
        src = analysis.get_topic(conn, topic_id)
        if src.status not in LIVE:
            raise VocError(
                f"topic {topic_id} is {t_status(src)}: only an active or emerging topic can be split"
            )
        on_src: set[int] = set()
        for part in chunks(ids):
            on_src.update(
                int(x)
                for x in conn.execute(
                    select(Assignment.ticket_id).where(
                        Assignment.topic_id == topic_id, Assignment.ticket_id.in_(list(part))
                    )
                ).scalars()
            )
        if len(on_src) < len(ids):
            raise VocError(f"{len(ids) - len(on_src)} of the chosen tickets are not in topic {topic_id}")
        total = conn.execute(select(func.count()).where(Assignment.topic_id == topic_id)).scalar_one()
        if len(ids) >= int(total):
            raise VocError("a split must leave tickets in the topic (rename it instead)")
        centroid = None if src.centroid is None else src.centroid.tobytes()
        blob = analysis.get_artifact(conn, f"embedder:{src.intent}")
        if blob is not None:
            vecs = analysis.cached_embeddings(conn, analysis.embedder_key(src.intent, blob), ids)
            if vecs:
                mean = np.mean(np.vstack(list(vecs.values())), axis=0)
                norm = float(np.linalg.norm(mean))
                centroid = (mean / norm if norm else mean).astype(np.float32).tobytes()
        new_id = analysis.next_topic_id(conn)
        week = Week.of(datetime.now()).ordinal()
        conn.execute(
            insert(Topic).values(
                id=new_id,
                intent=src.intent,
                label=label,
                human_label=True,
                keywords="",
                status="active",
                merged_into=None,
                centroid=centroid,
                created_week=week,
                updated_at=datetime.now(),
            )
        )
        for part in chunks(ids):
            conn.execute(
                update(Assignment).where(Assignment.ticket_id.in_(list(part))).values(topic_id=new_id)
            )
        theme = edit_log.placement(conn, topic_id)
        if theme is not None:
            conn.execute(
                insert(TopicTheme).values(topic_id=new_id, theme_id=theme[0], pinned=True, assigned_week=week)
            )
        conn.execute(
            insert(TopicLineage).values(
                old_id=topic_id, new_id=new_id, kind="human-split", week=week, created_at=datetime.now()
            )
        )
        return edit_log.record(
            conn, who, "topic-split", topic_id, new_id, {"tickets": ids}, {"topic": new_id, "label": label}
        )


def t_status(row: TopicRecord) -> str:
    return str(row.status) + (f" into {row.merged_into}" if row.merged_into else "")


def export_assignments(engine: Engine, out: Path, week: int | None) -> int:
    T, A = TicketRow.__table__, Assignment.__table__
    q = (
        select(T.c.source_id, Topic.id, Topic.merged_into, Topic.label, T.c.intent)
        .select_from(T.join(A, A.c.ticket_id == T.c.id).join(Topic.__table__, Topic.id == A.c.topic_id))
        .order_by(T.c.id)
    )
    if week is not None:
        q = q.where(T.c.week == week)
    with engine.connect() as conn:
        labels = {t.id: t.label for t in conn.execute(select(Topic.id, Topic.label))}
        rows = list(conn.execute(q))
    return write_csv(
        out,
        ["ticket_id", "topic_id", "topic_label", "intent"],
        (
            [sid, merged or tid, labels.get(merged or tid, label), intent]
            for sid, tid, merged, label, intent in rows
        ),
    )
