"""Themes (L1) over the fine topics: reads, writes and the human edits (rename, merge, move).

The grouping itself is pure (``nlp.themes``); the topic stage calls :func:`topic_rows`, builds the
profiles and writes the result back with :func:`save_update`. Other stages read themes through
exactly two functions: :func:`topic_theme_map` and :func:`load_themes`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, case, delete, func, insert, select, update

from voc.errors import VocError
from voc.nlp.themes import ACTIVE, EMERGING, LIVE, MERGED, RETIRED, KnownTheme, ThemeUpdate
from voc.store import edit_log
from voc.store.analysis import TOPIC_COLUMNS, TopicRecord, get_topic, topic_record
from voc.store.binds import chunks
from voc.store.models import Assignment, Theme, ThemeLineage, TicketRow, Topic, TopicTheme


@dataclass(frozen=True)
class ThemeRecord:
    id: int
    label: str
    label_en: str | None
    human_label: bool
    status: str  # active | emerging | merged | retired
    created_week: int
    topic_ids: tuple[int, ...] = field(default_factory=tuple)  # its live topics (empty unless live)
    merged_into: int | None = None


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


# --- the two reads other stages use --------------------------------------------------------


def topic_theme_map(conn: Connection) -> dict[int, int]:
    """Merge-resolved topic id -> theme id, for themes that are active or emerging.

    Keys are the ids counts use (``coalesce(merged_into, topic_id)``); a topic merged into another
    is also listed, with its target's theme. Ignored topics have no theme.
    """
    live = set(conn.execute(select(Theme.id).where(Theme.status.in_(sorted(LIVE)))).scalars())
    out = {
        int(t): int(th)
        for t, th in conn.execute(select(TopicTheme.topic_id, TopicTheme.theme_id))
        if th in live
    }
    for tid, into in conn.execute(select(Topic.id, Topic.merged_into).where(Topic.merged_into.is_not(None))):
        if into in out and tid not in out:
            out[int(tid)] = out[into]
    return out


def load_themes(conn: Connection) -> list[ThemeRecord]:
    """Every theme (all statuses) by id, with the live topics of the live ones."""
    members: dict[int, list[int]] = {}
    for tid, th in conn.execute(
        select(TopicTheme.topic_id, TopicTheme.theme_id).order_by(TopicTheme.topic_id)
    ):
        members.setdefault(int(th), []).append(int(tid))
    return [
        ThemeRecord(
            id=r.id,
            label=r.label,
            label_en=r.label_en,
            human_label=bool(r.human_label),
            status=r.status,
            created_week=r.created_week,
            topic_ids=tuple(members.get(r.id, ())) if r.status in LIVE else (),
            merged_into=r.merged_into,
        )
        for r in conn.execute(select(Theme.__table__).order_by(Theme.id))
    ]


# --- what the topic stage reads and writes -------------------------------------------------


def topic_rows(conn: Connection, until_week: int) -> tuple[list[Any], list[Any]]:
    """(tickets, topics): every assigned ticket up to a week as (topic_id merge-resolved, intent, lang,
    tokens, product_n), and the live topics (id, intent, label, status, centroid). Ignored topics are left out."""
    T, A = TicketRow.__table__, Assignment.__table__
    topic = func.coalesce(Topic.merged_into, A.c.topic_id)
    q = (
        select(topic.label("topic_id"), T.c.intent, T.c.lang, T.c.tokens, T.c.product_n)
        .select_from(A.join(T, T.c.id == A.c.ticket_id).outerjoin(Topic.__table__, Topic.id == A.c.topic_id))
        .where(T.c.week <= until_week)
    )
    topics = list(
        conn.execute(
            select(Topic.id, Topic.intent, Topic.label, Topic.status, Topic.centroid)
            .where(Topic.status.in_(sorted(LIVE)))
            .order_by(Topic.id)
        )
    )
    return list(conn.execute(q)), topics


THEME_HISTORY = (
    "themes-history"  # artifact: the theme profile sums of earlier weeks (flows.topic_stage.theme_topics)
)


@dataclass(frozen=True, slots=True)
class AssignedTicket:
    """What a theme profile reads of an assigned ticket (``nlp.theme_sums.add_sums``)."""

    topic_id: int  # as assigned, not merge-resolved
    lang: str | None
    tokens: str | None  # space-joined
    product_n: str | None
    week: int


def _assigned() -> Select:  # type: ignore[type-arg]
    T, A = TicketRow.__table__, Assignment.__table__
    return select(A.c.topic_id, T.c.lang, T.c.tokens, T.c.product_n, T.c.week).select_from(
        A.join(T, T.c.id == A.c.ticket_id)
    )


def assigned_rows(conn: Connection, from_week: int | None, until_week: int) -> list[AssignedTicket]:
    """Every assigned ticket of weeks ``from_week`` (None: the first) .. ``until_week``: what the theme
    profiles are built from."""
    week = TicketRow.__table__.c.week
    q = _assigned().where(week <= until_week)
    if from_week is not None:
        q = q.where(week >= from_week)
    return [AssignedTicket(*r) for r in conn.execute(q)]


def assigned_rows_of_weeks(conn: Connection, weeks: Iterable[int]) -> list[AssignedTicket]:
    """Every assigned ticket of these weeks."""
    week = TicketRow.__table__.c.week
    out: list[AssignedTicket] = []
    for part in chunks(sorted(set(weeks))):
        out += [AssignedTicket(*r) for r in conn.execute(_assigned().where(week.in_(part)))]
    return out


def assigned_rows_of(conn: Connection, ticket_ids: Iterable[int]) -> list[tuple[int, AssignedTicket]]:
    """These tickets as the theme profiles read them (ticket id, row)."""
    ticket = Assignment.__table__.c.ticket_id
    out: list[tuple[int, AssignedTicket]] = []
    for part in chunks(sorted(set(ticket_ids))):
        q = _assigned().add_columns(ticket).where(ticket.in_(part))
        out += [(int(r[-1]), AssignedTicket(*r[:-1])) for r in conn.execute(q)]
    return out


def week_fingerprints(conn: Connection, before_week: int) -> dict[int, list[float]]:
    """Per week before ``before_week``: a digest of its assigned tickets as the theme profiles read them
    (count, ticket ids, topic ids, ids x topics, similarities, token and product lengths, English
    tickets), in SQL over ids, assignments and lengths: it changes when a ticket of the week is added,
    erased, moved to another week or topic, reassigned or re-understood."""
    T, A = TicketRow.__table__, Assignment.__table__
    q = (
        select(
            T.c.week,
            func.count(),
            func.sum(A.c.ticket_id),
            func.sum(A.c.topic_id),
            func.sum(A.c.topic_id * (A.c.ticket_id % 65521)),
            func.sum(A.c.similarity),
            func.sum(func.length(T.c.tokens)),
            func.sum(func.length(T.c.product_n)),
            func.sum(case((T.c.lang == "en", 1), else_=0)),
        )
        .select_from(A.join(T, T.c.id == A.c.ticket_id))
        .where(T.c.week < before_week)
        .group_by(T.c.week)
    )
    return {
        int(r[0]): [int(v or 0) for v in r[1:5]] + [float(r[5] or 0.0)] + [int(v or 0) for v in r[6:]]
        for r in conn.execute(q)
    }


def merged_into_map(conn: Connection) -> dict[int, int]:
    """Topic id -> the topic it is merged into, for merged topics (as counts resolve them)."""
    return {
        int(t): int(m)
        for t, m in conn.execute(select(Topic.id, Topic.merged_into).where(Topic.merged_into.is_not(None)))
    }


def live_topics(conn: Connection) -> list[TopicRecord]:
    """The live topics, with their centroids, by id."""
    q = select(*TOPIC_COLUMNS, Topic.centroid).where(Topic.status.in_(sorted(LIVE))).order_by(Topic.id)
    return [topic_record(r, r.centroid) for r in conn.execute(q)]


def known_themes(conn: Connection) -> list[KnownTheme]:
    return [
        KnownTheme(r.id, r.status, r.merged_into, bool(r.human_label), r.label, r.label_en)
        for r in conn.execute(select(Theme.__table__).order_by(Theme.id))
    ]


def memberships(conn: Connection) -> tuple[dict[int, int], set[int]]:
    """(topic -> theme as last written, topics a human placed)."""
    rows = list(conn.execute(select(TopicTheme.topic_id, TopicTheme.theme_id, TopicTheme.pinned)))
    return {int(r.topic_id): int(r.theme_id) for r in rows}, {int(r.topic_id) for r in rows if r.pinned}


def next_theme_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(Theme.id), 0))).scalar_one()) + 1


def save_update(conn: Connection, upd: ThemeUpdate, week: int, emerging_topics: Iterable[int]) -> None:
    """Write one run's grouping: memberships, new themes, labels, statuses, retired themes, lineage.

    A theme is 'emerging' in the week it was created when all its topics are emerging, 'active'
    otherwise. Human labels are kept (both languages).
    """
    emerging = set(emerging_topics)
    prev, pinned = memberships(conn)
    existing = {r.id: r for r in conn.execute(select(Theme.id, Theme.human_label, Theme.created_week))}
    members: dict[int, list[int]] = {}
    for t, th in upd.membership.items():
        members.setdefault(th, []).append(t)
    # memberships: rewrite the changed rows, drop the rows of topics that are no longer live
    gone = [t for t in prev if t not in upd.membership]
    if gone:
        conn.execute(delete(TopicTheme).where(TopicTheme.topic_id.in_(gone)))
    changed = [(t, th) for t, th in upd.membership.items() if prev.get(t) != th]
    if changed:
        conn.execute(delete(TopicTheme).where(TopicTheme.topic_id.in_([t for t, _ in changed])))
        conn.execute(
            insert(TopicTheme),
            [
                {"topic_id": t, "theme_id": th, "pinned": t in pinned, "assigned_week": week}
                for t, th in changed
            ],
        )
    for th, tids in sorted(members.items()):
        label, label_en = upd.labels.get(th, ("", None))
        created = existing[th].created_week if th in existing else week
        status = EMERGING if created == week and all(t in emerging for t in tids) else ACTIVE
        if th not in existing:
            conn.execute(
                insert(Theme).values(
                    id=th,
                    label=label or f"theme {th}",
                    label_en=label_en,
                    human_label=False,
                    status=status,
                    merged_into=None,
                    created_week=week,
                    updated_at=_now(),
                )
            )
            continue
        values: dict[str, Any] = {"status": status, "merged_into": None, "updated_at": _now()}
        if not existing[th].human_label:
            values.update(label=label or f"theme {th}", label_en=label_en)
        conn.execute(update(Theme).where(Theme.id == th).values(values))
    for th, dest in upd.retired.items():
        conn.execute(
            update(Theme)
            .where(Theme.id == th)
            .values(status=MERGED if dest is not None else RETIRED, merged_into=dest, updated_at=_now())
        )
    record_lineage(conn, upd.lineage, week)


def record_lineage(conn: Connection, lineage: Iterable[tuple[int, int, str]], week: int) -> None:
    rows = [{"old_id": o, "new_id": n, "kind": k, "week": week, "created_at": _now()} for o, n, k in lineage]
    if rows:
        conn.execute(insert(ThemeLineage), rows)


# --- human edits (kept by every later run and refit) ---------------------------------------


def _live_theme(conn: Connection, theme_id: int) -> Any:
    r = conn.execute(select(Theme.__table__).where(Theme.id == theme_id)).first()
    if r is None:
        raise VocError(f"no theme with id {theme_id} (see `voc topics`)")
    if r.status not in LIVE:
        raise VocError(
            f"theme {theme_id} is {r.status}" + (f" into {r.merged_into}" if r.merged_into else "")
        )
    return r


def _week() -> int:
    from voc.weeks import Week

    return Week.of(datetime.now()).ordinal()


def rename(
    engine: Engine, theme_id: int, label: str, label_en: str | None = None, *, who: str = "cli"
) -> int:
    """A human label (and optionally an English one); refits keep both. Returns the edit's id."""
    if not label.strip():
        raise VocError("a theme label cannot be empty")
    with engine.begin() as conn:
        th = _live_theme(conn, theme_id)
        values: dict[str, Any] = {"label": label.strip(), "human_label": True, "updated_at": _now()}
        if label_en is not None and label_en.strip():
            values["label_en"] = label_en.strip()
        conn.execute(update(Theme).where(Theme.id == theme_id).values(values))
        return edit_log.record(
            conn,
            who,
            "theme-rename",
            theme_id,
            None,
            {"label": th.label, "label_en": th.label_en, "human_label": bool(th.human_label)},
            {"label": values["label"], "label_en": values.get("label_en", th.label_en), "human_label": True},
        )


def merge(engine: Engine, source_id: int, target_id: int, *, who: str = "cli") -> int:
    """Theme A into theme B: A's topics are pinned to B (refits keep them there); A is 'merged'."""
    if source_id == target_id:
        raise VocError("cannot merge a theme into itself")
    with engine.begin() as conn:
        src = _live_theme(conn, source_id)
        _live_theme(conn, target_id)
        members = [
            [int(r.topic_id), bool(r.pinned), int(r.assigned_week)]
            for r in conn.execute(
                select(TopicTheme.topic_id, TopicTheme.pinned, TopicTheme.assigned_week)
                .where(TopicTheme.theme_id == source_id)
                .order_by(TopicTheme.topic_id)
            )
        ]
        repointed = [
            int(x) for x in conn.execute(select(Theme.id).where(Theme.merged_into == source_id)).scalars()
        ]
        conn.execute(
            update(TopicTheme).where(TopicTheme.theme_id == source_id).values(theme_id=target_id, pinned=True)
        )
        conn.execute(
            update(Theme)
            .where(Theme.id == source_id)
            .values(status=MERGED, merged_into=target_id, updated_at=_now())
        )
        conn.execute(update(Theme).where(Theme.merged_into == source_id).values(merged_into=target_id))
        record_lineage(conn, [(source_id, target_id, "human-merge")], _week())
        return edit_log.record(
            conn,
            who,
            "theme-merge",
            source_id,
            target_id,
            {
                "status": src.status,
                "merged_into": src.merged_into,
                "members": members,
                "repointed": repointed,
            },
            {"status": MERGED, "merged_into": target_id},
        )


def move(engine: Engine, topic_id: int, theme_id: int, *, who: str = "cli") -> int:
    """Put a topic in another theme; pinned there for every later run and refit."""
    with engine.begin() as conn:
        t = get_topic(conn, topic_id)
        if t.status not in LIVE:
            raise VocError(
                f"topic {topic_id} is {t.status}"
                + (f" into {t.merged_into}: move {t.merged_into} instead" if t.merged_into else "")
            )
        _live_theme(conn, theme_id)
        before = edit_log.placement(conn, topic_id)
        conn.execute(delete(TopicTheme).where(TopicTheme.topic_id == topic_id))
        conn.execute(
            insert(TopicTheme).values(
                topic_id=topic_id, theme_id=theme_id, pinned=True, assigned_week=_week()
            )
        )
        record_lineage(conn, [(topic_id, theme_id, "human-move")], _week())
        return edit_log.record(
            conn,
            who,
            "topic-move",
            topic_id,
            theme_id,
            {"theme": before},
            {"theme": [theme_id, True, _week()]},
        )
