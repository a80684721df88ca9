"""Action items: who fixes what, by when, and when the fix shipped (for the quarterly review).

Written by ``voc actions`` and the web workbench's action items page (``voc/web/actions.py``); read
as ``report_queries.ActionRecord`` (:func:`get`, ``report_queries.actions``).
"""

from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import Connection, Engine, insert, select, update

from voc.errors import VocError
from voc.store.models import ActionItemRow, Topic
from voc.store.report_queries import ActionRecord

STATUSES = ("open", "doing", "done")
OWNER_MAX = int(ActionItemRow.__table__.c.owner.type.length)  # type: ignore[attr-defined]
CODE_MAX = {
    "product": int(ActionItemRow.__table__.c.product.type.length),  # type: ignore[attr-defined]
    "batch": int(ActionItemRow.__table__.c.batch.type.length),  # type: ignore[attr-defined]
}
NOTE_MAX = 4000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(value: str, what: str, limit: int, *, multiline: bool = False) -> str:
    """``value`` stripped, checked: at most ``limit`` characters, no NUL or other control characters
    (line breaks only where ``multiline``)."""
    v = value.strip()
    if len(v) > limit:
        raise VocError(f"the {what} is too long: at most {limit} characters")
    if _CONTROL.search(v) or (not multiline and ("\n" in v or "\r" in v)):
        raise VocError(f"the {what} contains control characters")
    return v


def add(
    engine: Engine,
    topic_id: int | None,
    product: str | None,
    batch: str | None,
    owner: str,
    due: date | None,
    note: str,
) -> int:
    owner = _text(owner, "owner", OWNER_MAX)
    if not owner:
        raise VocError("an action item needs an --owner")
    product = _text(product, "product", CODE_MAX["product"]) or None if product else None
    batch = _text(batch, "batch", CODE_MAX["batch"]) or None if batch else None
    if topic_id is None and not product:
        raise VocError("an action item needs a --topic or a --product to target")
    note = _text(note, "note", NOTE_MAX, multiline=True)
    now = datetime.now().replace(microsecond=0)
    with engine.begin() as conn:
        res = conn.execute(
            insert(ActionItemRow).values(
                topic_id=topic_id,
                product=product,
                batch=batch,
                owner=owner,
                status="open",
                due=due,
                note=note,
                created_at=now,
                updated_at=now,
            )
        )
        assert res.inserted_primary_key is not None  # always set for a single-row insert
        return int(res.inserted_primary_key[0])


def update_action(
    engine: Engine,
    action_id: int,
    status: str | None,
    fix_date: date | None,
    note: str | None,
    *,
    owner: str | None = None,
    due: date | None = None,
) -> None:
    """Change what is given (None: unchanged)."""
    if status is not None and status not in STATUSES:
        raise VocError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    values: dict[str, object] = {"updated_at": datetime.now().replace(microsecond=0)}
    if status is not None:
        values["status"] = status
    if fix_date is not None:
        values["fix_date"] = fix_date
    if note is not None:
        values["note"] = _text(note, "note", NOTE_MAX, multiline=True)
    if owner is not None:
        values["owner"] = _text(owner, "owner", OWNER_MAX)
        if not values["owner"]:
            raise VocError("an action item needs an owner")
    if due is not None:
        values["due"] = due
    with engine.begin() as conn:
        if conn.execute(select(ActionItemRow.id).where(ActionItemRow.id == action_id)).first() is None:
            raise VocError(f"no action item with id {action_id} (see `voc actions list`)")
        conn.execute(update(ActionItemRow).where(ActionItemRow.id == action_id).values(values))


def get(conn: Connection, action_id: int) -> ActionRecord | None:
    """One action item, or None."""
    a = ActionItemRow
    r = conn.execute(
        select(
            a.id,
            a.topic_id,
            a.product,
            a.batch,
            a.owner,
            a.status,
            a.due,
            a.fix_date,
            a.note,
            a.created_at,
            a.updated_at,
        ).where(a.id == action_id)
    ).first()
    return ActionRecord(*r) if r is not None else None


def topic_labels(conn: Connection, topic_ids: set[int]) -> dict[int, str]:
    """The labels of these topics (absent ids are left out)."""
    if not topic_ids:
        return {}
    q = select(Topic.id, Topic.label).where(Topic.id.in_(sorted(topic_ids)))
    return {int(i): label or "" for i, label in conn.execute(q)}
