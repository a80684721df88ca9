"""The log of human edits to the topic catalogue, and their undo.

Every edit of a topic or theme (``store.topic_edits``: rename, ignore, un-ignore, merge, split;
``store.themes``: rename, merge, move a topic) records one row in ``catalogue_edits`` in the same
transaction as the edit: who (``local``, ``cli``, ``editor:alice``...), when, what, and the values
before and after (JSON). The CLI and the web workbench call the same functions, so both are logged.

:func:`undo` reverts one edit when the catalogue still holds what the edit wrote (else a VocError
names what changed since: undo that first). Undoing a merge restores the source topic, points the
topics it re-pointed back at it, puts back its tickets that a refit since moved onto the target, and
its theme placement; a rename restores the old label and ``human_label`` flag; a move restores the
old theme (or none); a split's tickets go back to the source and the new topic is left merged
into it. Counts and surges follow at the next counts stage, as after any CLI edit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from voc.errors import VocError
from voc.nlp.themes import LIVE, MERGED
from voc.store.analysis import get_topic
from voc.store.binds import chunks
from voc.store.models import Assignment, CatalogueEdit, Theme, TopicLineage, TopicTheme
from voc.store.models import Topic as TopicRow
from voc.weeks import Week

KINDS = (
    "topic-rename",
    "topic-ignore",
    "topic-unignore",
    "topic-merge",
    "topic-move",
    "topic-split",
    "theme-rename",
    "theme-merge",
)
THEME_KINDS = frozenset({"theme-rename", "theme-merge"})  # subject_id is a theme (else a topic)


@dataclass(frozen=True)
class EditRecord:
    """One logged edit. ``before`` / ``after``: the values the edit replaced and wrote."""

    id: int
    at: datetime
    who: str
    kind: str
    subject_id: int
    target_id: int | None
    before: dict[str, Any]
    after: dict[str, Any]
    undone_at: datetime | None
    undone_by: str | None

    @property
    def on_theme(self) -> bool:
        return self.kind in THEME_KINDS


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def record(
    conn: Connection,
    who: str,
    kind: str,
    subject_id: int,
    target_id: int | None,
    before: dict[str, Any],
    after: dict[str, Any],
) -> int:
    """Log one edit (call inside the edit's transaction); returns its id."""
    if kind not in KINDS:
        raise ValueError(f"unknown edit kind {kind!r}")
    res = conn.execute(
        insert(CatalogueEdit).values(
            at=_now(),
            who=(who or "unknown")[:100],
            kind=kind,
            subject_id=subject_id,
            target_id=target_id,
            before_json=json.dumps(before, ensure_ascii=False, sort_keys=True),
            after_json=json.dumps(after, ensure_ascii=False, sort_keys=True),
        )
    )
    pk = res.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def _record(r: Any) -> EditRecord:
    return EditRecord(
        int(r.id),
        r.at,
        r.who,
        r.kind,
        int(r.subject_id),
        r.target_id,
        json.loads(r.before_json),
        json.loads(r.after_json),
        r.undone_at,
        r.undone_by,
    )


_LIGHT = (
    CatalogueEdit.id,
    CatalogueEdit.at,
    CatalogueEdit.who,
    CatalogueEdit.kind,
    CatalogueEdit.subject_id,
    CatalogueEdit.target_id,
    CatalogueEdit.before_json,
    CatalogueEdit.after_json,
    CatalogueEdit.undone_at,
    CatalogueEdit.undone_by,
)


def get(conn: Connection, edit_id: int) -> EditRecord:
    r = conn.execute(select(*_LIGHT).where(CatalogueEdit.id == edit_id)).first()
    if r is None:
        raise VocError(f"no catalogue edit with id {edit_id} (see `voc topics history`)")
    return _record(r)


def history(
    conn: Connection, limit: int = 100, topic_id: int | None = None, theme_id: int | None = None
) -> list[EditRecord]:
    """The latest edits first; only those of one topic (as subject, merge target or split-off topic) or one theme
    (as subject, merge target or move destination) when given."""
    q = select(*_LIGHT).order_by(CatalogueEdit.id.desc()).limit(limit)
    c = CatalogueEdit
    if topic_id is not None:
        q = q.where(
            ((c.subject_id == topic_id) & c.kind.like("topic-%"))
            | ((c.target_id == topic_id) & c.kind.in_(["topic-merge", "topic-split"]))
        )
    if theme_id is not None:
        q = q.where(
            ((c.subject_id == theme_id) & c.kind.like("theme-%"))
            | ((c.target_id == theme_id) & c.kind.in_(["theme-merge", "topic-move"]))
        )
    return [_record(r) for r in conn.execute(q)]


# --- helpers the edit functions share (store.topic_edits, store.themes) ---------------------------


def placement(conn: Connection, topic_id: int) -> list[Any] | None:
    """A topic's theme row as [theme_id, pinned, assigned_week], None when it has none."""
    r = conn.execute(
        select(TopicTheme.theme_id, TopicTheme.pinned, TopicTheme.assigned_week).where(
            TopicTheme.topic_id == topic_id
        )
    ).first()
    return [int(r.theme_id), bool(r.pinned), int(r.assigned_week)] if r else None


def _place(conn: Connection, topic_id: int, row: list[Any] | None) -> None:
    conn.execute(delete(TopicTheme).where(TopicTheme.topic_id == topic_id))
    if row is not None:
        conn.execute(
            insert(TopicTheme).values(
                topic_id=topic_id, theme_id=row[0], pinned=bool(row[1]), assigned_week=row[2]
            )
        )


def _restore_placement(conn: Connection, topic_id: int, row: list[Any] | None) -> None:
    """Put a topic back in the theme it had, when it has none now and that theme is still live."""
    if row is None or placement(conn, topic_id) is not None:
        return
    status = conn.execute(select(Theme.status).where(Theme.id == row[0])).scalar()
    if status in LIVE:
        _place(conn, topic_id, row)


# --- undo ---------------------------------------------------------------------------------------------


def _changed(what: str) -> VocError:
    return VocError(f"cannot undo: {what} changed since (undo the later edit first, see the edit history)")


def undo(engine: Engine, edit_id: int, who: str) -> EditRecord:
    """Revert one edit and mark it undone (by ``who``). Refused when it was undone already, or when
    the catalogue no longer holds what the edit wrote."""
    with engine.begin() as conn:
        e = get(conn, edit_id)
        if e.undone_at is not None:
            raise VocError(
                f"edit {edit_id} was already undone ({e.undone_at:%Y-%m-%d %H:%M} by {e.undone_by})"
            )
        _UNDO[e.kind](conn, e)
        conn.execute(
            update(CatalogueEdit)
            .where(CatalogueEdit.id == edit_id)
            .values(undone_at=_now(), undone_by=(who or "unknown")[:100])
        )
        return get(conn, edit_id)


def _theme(conn: Connection, theme_id: int) -> Any:
    r = conn.execute(select(Theme.__table__).where(Theme.id == theme_id)).first()
    if r is None:
        raise VocError(f"theme {theme_id} no longer exists")
    return r


def _undo_topic_rename(conn: Connection, e: EditRecord) -> None:
    t = get_topic(conn, e.subject_id)
    if t.label != e.after["label"]:
        raise _changed(f"the label of topic {t.id}")
    conn.execute(
        update(TopicRow)
        .where(TopicRow.id == t.id)
        .values(label=e.before["label"], human_label=bool(e.before["human_label"]), updated_at=_now())
    )


def _undo_status(conn: Connection, e: EditRecord) -> None:
    t = get_topic(conn, e.subject_id)
    now_ok = t.status == "ignored" if e.kind == "topic-ignore" else t.status in LIVE
    if not now_ok:
        raise _changed(f"the status of topic {t.id} (now {t.status})")
    conn.execute(
        update(TopicRow).where(TopicRow.id == t.id).values(status=e.before["status"], updated_at=_now())
    )
    if e.kind == "topic-ignore":
        _restore_placement(conn, t.id, e.before.get("theme"))


def _undo_topic_merge(conn: Connection, e: EditRecord) -> None:
    src = get_topic(conn, e.subject_id)
    final = e.after["merged_into"]
    if src.status != "merged" or src.merged_into != final:
        raise _changed(
            f"topic {src.id} (now {src.status}" + (f" into {src.merged_into})" if src.merged_into else ")")
        )
    conn.execute(
        update(TopicRow)
        .where(TopicRow.id == src.id)
        .values(status=e.before["status"], merged_into=e.before["merged_into"], updated_at=_now())
    )
    repointed = [int(x) for x in e.before.get("repointed", [])]
    for part in chunks(repointed):
        conn.execute(
            update(TopicRow)
            .where(TopicRow.id.in_(list(part)), TopicRow.merged_into == final)
            .values(merged_into=src.id)
        )
    # tickets that sat on the source at the merge and that a refit since moved onto the target
    for part in chunks([int(x) for x in e.before.get("tickets", [])]):
        conn.execute(
            update(Assignment)
            .where(Assignment.ticket_id.in_(list(part)), Assignment.topic_id == final)
            .values(topic_id=src.id)
        )
    _restore_placement(conn, src.id, e.before.get("theme"))
    conn.execute(
        insert(TopicLineage).values(
            old_id=final,
            new_id=src.id,
            kind="human-unmerge",
            week=Week.of(datetime.now()).ordinal(),
            created_at=_now(),
        )
    )


def _undo_topic_split(conn: Connection, e: EditRecord) -> None:
    """Every ticket of the new topic (the chosen ones and any a later run added) goes back to the
    source; the new topic is left merged into the source."""
    src, new = get_topic(conn, e.subject_id), get_topic(conn, int(e.after["topic"]))
    if new.status not in LIVE:
        raise _changed(f"topic {new.id} (now {new.status})")
    if src.status not in LIVE:
        raise _changed(f"topic {src.id} (now {src.status})")
    conn.execute(update(Assignment).where(Assignment.topic_id == new.id).values(topic_id=src.id))
    conn.execute(update(TopicRow).where(TopicRow.merged_into == new.id).values(merged_into=src.id))
    conn.execute(
        update(TopicRow)
        .where(TopicRow.id == new.id)
        .values(status="merged", merged_into=src.id, updated_at=_now())
    )
    conn.execute(delete(TopicTheme).where(TopicTheme.topic_id == new.id))
    conn.execute(
        insert(TopicLineage).values(
            old_id=new.id,
            new_id=src.id,
            kind="human-unsplit",
            week=Week.of(datetime.now()).ordinal(),
            created_at=_now(),
        )
    )


def _undo_topic_move(conn: Connection, e: EditRecord) -> None:
    now = placement(conn, e.subject_id)
    if now is None or now[0] != e.after["theme"][0]:
        raise _changed(f"the theme of topic {e.subject_id}")
    before = e.before.get("theme")
    if (
        before is not None
        and conn.execute(select(Theme.status).where(Theme.id == before[0])).scalar() not in LIVE
    ):
        raise VocError(f"cannot undo: theme {before[0]} is no longer live (move the topic by hand)")
    _place(conn, e.subject_id, before)


def _undo_theme_rename(conn: Connection, e: EditRecord) -> None:
    th = _theme(conn, e.subject_id)
    if th.label != e.after["label"] or (
        e.after.get("label_en") is not None and th.label_en != e.after["label_en"]
    ):
        raise _changed(f"the label of theme {th.id}")
    conn.execute(
        update(Theme)
        .where(Theme.id == th.id)
        .values(
            label=e.before["label"],
            label_en=e.before["label_en"],
            human_label=bool(e.before["human_label"]),
            updated_at=_now(),
        )
    )


def _undo_theme_merge(conn: Connection, e: EditRecord) -> None:
    src = _theme(conn, e.subject_id)
    target = e.after["merged_into"]
    if src.status != MERGED or src.merged_into != target:
        raise _changed(f"theme {src.id} (now {src.status})")
    if _theme(conn, target).status not in LIVE:
        raise _changed(f"theme {target}")
    conn.execute(
        update(Theme)
        .where(Theme.id == src.id)
        .values(status=e.before["status"], merged_into=e.before["merged_into"], updated_at=_now())
    )
    for topic_id, pinned, week in e.before.get("members", []):
        now = placement(conn, int(topic_id))
        if now is not None and now[0] == target:
            _place(conn, int(topic_id), [src.id, pinned, week])
    for part in chunks([int(x) for x in e.before.get("repointed", [])]):
        conn.execute(
            update(Theme)
            .where(Theme.id.in_(list(part)), Theme.merged_into == target)
            .values(merged_into=src.id)
        )


_UNDO = {
    "topic-rename": _undo_topic_rename,
    "topic-ignore": _undo_status,
    "topic-unignore": _undo_status,
    "topic-merge": _undo_topic_merge,
    "topic-move": _undo_topic_move,
    "topic-split": _undo_topic_split,
    "theme-rename": _undo_theme_rename,
    "theme-merge": _undo_theme_merge,
}
