"""Action items: who fixes what, by when, and when the fix shipped (for the quarterly review)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, insert, select, update

from store.models import ActionItemRow
from voc.errors import VocError

STATUSES = ("open", "doing", "done")


def add(engine: Engine, topic_id: int | None, product: str | None, batch: str | None, owner: str,
        due: date | None, note: str) -> int:
    if not owner.strip():
        raise VocError("an action item needs an --owner")
    if topic_id is None and not product:
        raise VocError("an action item needs a --topic or a --product to target")
    now = datetime.now().replace(microsecond=0)
    with engine.begin() as conn:
        res = conn.execute(insert(ActionItemRow).values(topic_id=topic_id, product=product, batch=batch,
                                                        owner=owner.strip(), status="open", due=due, note=note,
                                                        created_at=now, updated_at=now))
        assert res.inserted_primary_key is not None  # always set for a single-row insert
        return int(res.inserted_primary_key[0])


def update_action(engine: Engine, action_id: int, status: str | None, fix_date: date | None,
                  note: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise VocError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    values: dict[str, object] = {"updated_at": datetime.now().replace(microsecond=0)}
    if status is not None:
        values["status"] = status
    if fix_date is not None:
        values["fix_date"] = fix_date
    if note is not None:
        values["note"] = note
    with engine.begin() as conn:
        if conn.execute(select(ActionItemRow.id).where(ActionItemRow.id == action_id)).first() is None:
            raise VocError(f"no action item with id {action_id} (see `voc actions list`)")
        conn.execute(update(ActionItemRow).where(ActionItemRow.id == action_id).values(values))
