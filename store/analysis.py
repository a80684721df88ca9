"""Reads and writes of the analysis stages: understanding, embeddings, topics, counts, surges.

All weekly writes replace the week's rows (delete + insert in one transaction) so re-running a
week never duplicates anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import numpy as np
from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)

from voc.errors import VocError
from voc.store import kpis
from voc.store.binds import chunks, dialect_insert
from voc.store.models import (
    Artifact,
    Assignment,
    Embedding,
    StaleWeek,
    Surge,
    TicketRow,
    Topic,
    TopicLineage,
    TopicQueue,
    WeeklyCount,
    WeeklyKpi,
    WeeklyVolume,
)

T = TicketRow.__table__
SEVERITY_RANK = {"other": 0, "service": 1, "defect": 2, "safety": 3}


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


# --- understanding -------------------------------------------------------------------------


def _pending(version: str) -> Any:
    """Tickets this version of the NLP stage has not understood (never, or by another version)."""
    return or_(T.c.nlp_version.is_(None), T.c.nlp_version != version)


def pending_count(conn: Connection, version: str) -> int:
    """How many tickets this version of the NLP stage has not understood yet."""
    return int(conn.execute(select(func.count()).select_from(T).where(_pending(version))).scalar_one())


def current_topics(conn: Connection, source: str, source_ids: Sequence[str]) -> list[int]:
    """The topic (merges resolved) of each of these tickets of ``source`` that has one."""
    topic = func.coalesce(Topic.merged_into, Assignment.topic_id)
    out: list[int] = []
    for chunk in chunks(list(source_ids)):
        q = (
            select(topic)
            .select_from(T)
            .join(Assignment, Assignment.ticket_id == T.c.id)
            .outerjoin(Topic, Topic.id == Assignment.topic_id)
            .where(T.c.source == source, T.c.source_id.in_(chunk))
        )
        out += [int(t) for t in conn.execute(q).scalars()]
    return out


def assignment_map(conn: Connection) -> dict[int, int]:
    """Every assigned ticket's id -> its topic id (as assigned, merges not resolved)."""
    return {int(a): int(b) for a, b in conn.execute(select(Assignment.ticket_id, Assignment.topic_id))}


def pending_understanding(conn: Connection, version: str, limit: int, after: int | None = None) -> list[Any]:
    """The first ``limit`` tickets (by id) not yet understood by this version of the NLP stage, with an
    id above ``after`` if given. Paging on ``after`` (the last id of the batch before) starts each batch
    where the last one ended: without it every batch walks the primary key again over all the tickets
    already understood (190k of them: 0.05 s a batch on SQLite, 0.13 s on PostgreSQL; reading a 200k
    backfill in batches of 2,000 took 3.3 s instead of 0.9 s on SQLite, 9.2 s instead of 1.7 s on
    PostgreSQL, growing with the square of the store)."""
    q = (
        select(
            T.c.id,
            T.c.subject,
            T.c.body,
            T.c.product,
            T.c.model,
            T.c.batch,
            T.c.language,
            T.c.intent_hint,
            T.c.resolution,
        )
        .where(_pending(version))
        .order_by(T.c.id)
        .limit(limit)
    )
    if after is not None:
        q = q.where(T.c.id > after)
    return list(conn.execute(q))


_UNDERSTOOD = (
    "nlp_version",
    "lang",
    "text_clean",
    "resolution_clean",
    "tokens",
    "intent",
    "severity",
    "product_n",
    "model_n",
    "batch_n",
    "entity_sources",
    "flags",
)
# PostgreSQL: one UPDATE per batch from column arrays (unnest) instead of one UPDATE per ticket
# (executemany: ~0.1 ms a ticket). The values are the same; an assignment
# to a varchar still fails on a value over its length, as before.
_UNDERSTOOD_PG = text(
    f"UPDATE {TicketRow.__tablename__} AS t SET {', '.join(f'{c} = v.{c}' for c in _UNDERSTOOD)} "
    f"FROM unnest(CAST(:_id AS bigint[]), {', '.join(f'CAST(:{c} AS text[])' for c in _UNDERSTOOD)}) "
    f"AS v(_id, {', '.join(_UNDERSTOOD)}) WHERE t.id = v._id"
)


# SQLite: raw executemany on the Connection's own sqlite3 connection (same transaction), without
# SQLAlchemy's per-row bind processing (about half of the write's time); the values are plain str/None.
_UNDERSTOOD_SQLITE = (
    f"UPDATE {TicketRow.__tablename__} SET {', '.join(f'{c} = ?' for c in _UNDERSTOOD)} WHERE id = ?"
)


def save_understanding(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store the understanding columns of each row (``_id`` = ticket id)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(_UNDERSTOOD_PG, {c: [r[c] for r in rows] for c in ("_id", *_UNDERSTOOD)})
    elif conn.dialect.name == "sqlite":
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.executemany(_UNDERSTOOD_SQLITE, [(*(r[c] for c in _UNDERSTOOD), r["_id"]) for r in rows])
        finally:
            cur.close()
    else:
        save_understanding_each(conn, rows)


def queue_for_topics(conn: Connection, understood: Sequence[int], other: Sequence[int] = ()) -> None:
    """Queue the ``understood`` tickets (of a topic intent) that have no topic, e.g. new or changed
    ones (one that keeps its topic through a re-understanding, as after an NLP version change, stays
    off the queue); take ``other`` (understood as an intent without topics) off it. Safe beside another
    understanding run queueing the same tickets."""
    A = Assignment.__table__
    for chunk in chunks(sorted(set(int(i) for i in understood))):
        waiting = select(T.c.id).where(
            T.c.id.in_(chunk), ~select(A.c.ticket_id).where(A.c.ticket_id == T.c.id).exists()
        )
        conn.execute(
            dialect_insert(conn, TopicQueue).from_select(["ticket_id"], waiting).on_conflict_do_nothing()
        )
    for chunk in chunks(sorted(set(int(i) for i in other))):
        conn.execute(delete(TopicQueue).where(TopicQueue.ticket_id.in_(chunk)))


def save_understanding_each(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """One UPDATE per ticket through SQLAlchemy (executemany): the portable path, and the reference the
    PostgreSQL and SQLite ones are tested on."""
    # T is a Table at runtime; the stubs type __table__ as FromClause
    stmt = update(T).where(T.c.id == bindparam("_id")).values({c: bindparam(c) for c in _UNDERSTOOD})  # type: ignore[arg-type]
    conn.execute(stmt, list(rows))


# --- embeddings and artifacts -------------------------------------------------------------


def get_artifact(conn: Connection, key: str) -> bytes | None:
    return conn.execute(select(Artifact.blob).where(Artifact.key == key)).scalar_one_or_none()


def put_artifact(conn: Connection, key: str, blob: bytes) -> None:
    conn.execute(delete(Artifact).where(Artifact.key == key))
    conn.execute(insert(Artifact).values(key=key, blob=blob, created_at=_now()))


def embedder_key(intent: str, blob: bytes) -> str:
    """The key of the embedding cache for an intent's stored embedder (artifact ``embedder:<intent>``)."""
    return f"{intent}:{hashlib.sha256(blob).hexdigest()[:16]}"


def cached_embeddings(conn: Connection, embedder_key: str, ids: Sequence[int]) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    for chunk in chunks(ids):
        q = select(Embedding.ticket_id, Embedding.vector).where(
            Embedding.embedder_key == embedder_key, Embedding.ticket_id.in_(list(chunk))
        )
        for tid, vec in conn.execute(q):
            out[tid] = np.frombuffer(vec, dtype=np.float32)
    return out


def _alive(conn: Connection, ids: Sequence[int]) -> dict[int, int]:
    """Which of these tickets are still stored, with their week, held until the transaction ends
    (PostgreSQL: FOR KEY SHARE, so an erasure waits; SQLite has one writer at a time): a ticket erased
    by an ingest (store.erasure) after a stage read it gets no assignment or embedding, instead of
    failing the stage on the foreign key."""
    out: dict[int, int] = {}
    for chunk in chunks(sorted({int(i) for i in ids})):
        q = select(T.c.id, T.c.week).where(T.c.id.in_(chunk))
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(key_share=True)
        out.update({i: w for i, w in conn.execute(q)})
    return out


def store_embeddings(conn: Connection, embedder_key: str, ids: Sequence[int], vectors: np.ndarray) -> None:
    if len(ids):
        alive = _alive(conn, ids)
        rows = [
            {"ticket_id": int(i), "embedder_key": embedder_key, "vector": v.astype(np.float32).tobytes()}
            for i, v in zip(ids, vectors, strict=True)
            if int(i) in alive
        ]
        if rows:
            conn.execute(insert(Embedding), rows)


# --- topics --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopicDocument:
    """An understood ticket as the topic stage reads it: its cleaned text and space-joined tokens."""

    id: int
    text_clean: str | None
    tokens: str | None
    week: int


@dataclass(frozen=True, slots=True)
class AssignedDocument(TopicDocument):
    """A :class:`TopicDocument` with the topic it is assigned to (as assigned: not merge-resolved)."""

    topic_id: int


def tickets_for_topics(
    conn: Connection, intent: str, until_week: int, only_unassigned: bool
) -> list[TopicDocument]:
    """The understood tickets of one intent up to a week (only those without a topic yet if
    ``only_unassigned``), by id."""
    q = select(T.c.id, T.c.text_clean, T.c.tokens, T.c.week).where(
        T.c.intent == intent, T.c.week <= until_week, T.c.nlp_version.is_not(None)
    )
    if only_unassigned:  # the queue, not all history; a queued ticket that has a topic stays out
        q = (
            q.join(TopicQueue.__table__, TopicQueue.__table__.c.ticket_id == T.c.id)
            .outerjoin(Assignment.__table__, Assignment.__table__.c.ticket_id == T.c.id)
            .where(Assignment.__table__.c.ticket_id.is_(None))
        )
    return [
        TopicDocument(i, text, tokens, week) for i, text, tokens, week in conn.execute(q.order_by(T.c.id))
    ]


@dataclass(frozen=True)
class TopicRecord:
    """A fine topic of the catalogue: one row of ``topics``, as every stage, report and page reads it.

    ``centroid`` (float32, unit length) is read only when asked for (:func:`load_topics` with
    ``centroids=True``, :func:`get_topic`): the topic stage and a human split need it, the reports and
    the pages do not."""

    id: int
    intent: str
    label: str
    human_label: bool  # a human's label: refits keep it
    keywords: str  # " / "-joined
    status: str  # active | emerging | ignored | merged
    merged_into: int | None
    created_week: int
    centroid: np.ndarray | None = field(default=None, compare=False, repr=False)


TOPIC_COLUMNS = (
    Topic.id,
    Topic.intent,
    Topic.label,
    Topic.human_label,
    Topic.keywords,
    Topic.status,
    Topic.merged_into,
    Topic.created_week,
)


def topic_record(r: Any, centroid: bytes | None = None) -> TopicRecord:
    return TopicRecord(
        int(r.id),
        r.intent,
        r.label,
        bool(r.human_label),
        r.keywords or "",
        r.status,
        None if r.merged_into is None else int(r.merged_into),
        int(r.created_week),
        np.frombuffer(centroid, dtype=np.float32) if centroid else None,
    )


def load_topics(conn: Connection, intent: str | None = None, *, centroids: bool = False) -> list[TopicRecord]:
    """Every topic (all statuses; of one intent if given) by id, with its centroid if ``centroids``."""
    q = select(*TOPIC_COLUMNS, *([Topic.centroid] if centroids else [])).order_by(Topic.id)
    if intent:
        q = q.where(Topic.intent == intent)
    return [topic_record(r, r.centroid if centroids else None) for r in conn.execute(q)]


def get_topic(conn: Connection, topic_id: int) -> TopicRecord:
    """One topic with its centroid; a VocError when there is no such topic (any more)."""
    r = conn.execute(select(*TOPIC_COLUMNS, Topic.centroid).where(Topic.id == topic_id)).first()
    if r is None:
        raise VocError(f"no topic with id {topic_id} (see `voc topics`)")
    return topic_record(r, r.centroid)


def next_topic_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(Topic.id), 0))).scalar_one()) + 1


def upsert_topics(conn: Connection, intent: str, topics: Iterable[Any], week: int) -> None:
    """Write new/updated topics; human edits (label when human_label, status ignored/merged) are kept."""
    for t in topics:
        existing = conn.execute(
            select(Topic.human_label, Topic.status, Topic.merged_into).where(Topic.id == t.topic_id)
        ).first()
        centroid = np.asarray(t.centroid, dtype=np.float32).tobytes()
        if existing is None:
            conn.execute(
                insert(Topic).values(
                    id=t.topic_id,
                    intent=intent,
                    label=t.label,
                    human_label=bool(t.human_label),
                    keywords=" / ".join(t.keywords),
                    status=t.status,
                    merged_into=t.merged_into,
                    centroid=centroid,
                    created_week=week,
                    updated_at=_now(),
                )
            )
            continue
        values: dict[str, Any] = {
            "keywords": " / ".join(t.keywords),
            "centroid": centroid,
            "updated_at": _now(),
        }
        if not existing.human_label:
            values["label"] = t.label
        if existing.status not in ("ignored", "merged"):
            values["status"] = t.status
        conn.execute(update(Topic).where(Topic.id == t.topic_id).values(values))


def promote_emerging(conn: Connection, week: int) -> None:
    """Topics born before this week are no longer 'emerging'."""
    conn.execute(
        update(Topic).where(Topic.status == "emerging", Topic.created_week < week).values(status="active")
    )


def save_assignments(
    conn: Connection, ids: Sequence[int], assignments: Sequence[tuple[int, float]], week: int
) -> None:
    if not ids:
        return
    for chunk in chunks(ids):
        conn.execute(delete(Assignment).where(Assignment.ticket_id.in_(chunk)))
        conn.execute(delete(TopicQueue).where(TopicQueue.ticket_id.in_(chunk)))
    alive = _alive(conn, ids)
    rows = [
        {
            "ticket_id": int(i),
            "topic_id": int(tid),
            "similarity": float(sim),
            "assigned_week": week,
            "week": alive[int(i)],
        }
        for i, (tid, sim) in zip(ids, assignments, strict=True)
        if int(i) in alive
    ]
    if rows:
        conn.execute(insert(Assignment), rows)


def assigned_documents(
    conn: Connection, intent: str, until_week: int, since_week: int | None = None
) -> list[AssignedDocument]:
    """The assigned tickets of one intent up to a week, with their topic, by id.

    ``since_week`` (a week ordinal, inclusive): only tickets of that week or later; None = all history.
    The bound is in the query, so older tickets are never read.
    """
    A = Assignment.__table__
    q = (
        select(T.c.id, T.c.text_clean, T.c.tokens, T.c.week, A.c.topic_id)
        .select_from(A.join(T, T.c.id == A.c.ticket_id))
        .where(T.c.intent == intent, T.c.week <= until_week)
    )
    if since_week is not None:
        q = q.where(T.c.week >= since_week)
    return [
        AssignedDocument(i, text, tokens, week, topic)
        for i, text, tokens, week, topic in conn.execute(q.order_by(T.c.id))
    ]


def first_topic_week(conn: Connection, intent: str) -> int | None:
    """The week the intent's catalogue was first fitted (its oldest topic's creation week)."""
    return conn.execute(
        select(func.min(Topic.created_week)).where(Topic.intent == intent)
    ).scalar_one_or_none()


def set_merged_into(conn: Connection, topic_id: int, target_id: int) -> None:
    """A topic merged by a refit: point it (and topics merged into it) at the kept topic.

    Topics a human ignored or merged are left alone (``upsert_topics`` keeps their status too).
    """
    res = conn.execute(
        update(Topic)
        .where(Topic.id == topic_id, Topic.merged_into.is_(None), Topic.status != "ignored")
        .values(status="merged", merged_into=target_id, updated_at=_now())
    )
    if res.rowcount:
        conn.execute(update(Topic).where(Topic.merged_into == topic_id).values(merged_into=target_id))


def refresh_topic(
    conn: Connection, topic_id: int, centroid: np.ndarray, keywords: Sequence[str], label: str | None
) -> None:
    values: dict[str, Any] = {
        "centroid": np.asarray(centroid, np.float32).tobytes(),
        "keywords": " / ".join(keywords),
        "updated_at": _now(),
    }
    if label:
        values["label"] = label
    conn.execute(update(Topic).where(Topic.id == topic_id).values(values))


def reassign(conn: Connection, ids: Sequence[int], topic_id: int, similarities: Sequence[float]) -> None:
    """Move tickets to another topic, keeping the week they were first assigned in."""
    stmt = (
        update(Assignment)
        .where(Assignment.ticket_id == bindparam("_id"))
        .values(topic_id=topic_id, similarity=bindparam("_sim"))
    )
    conn.execute(stmt, [{"_id": int(i), "_sim": float(s)} for i, s in zip(ids, similarities, strict=True)])


def mark_split(conn: Connection, topic_id: int) -> None:
    """A topic carved out of older ones has a history: it is 'active', not 'emerging'."""
    conn.execute(
        update(Topic).where(Topic.id == topic_id, Topic.status == "emerging").values(status="active")
    )


def record_lineage(conn: Connection, lineage: Iterable[tuple[int, int, str]], week: int) -> None:
    rows = [{"old_id": o, "new_id": n, "kind": k, "week": week, "created_at": _now()} for o, n, k in lineage]
    if rows:
        conn.execute(insert(TopicLineage), rows)


# --- counts --------------------------------------------------------------------------------


def rebuild_counts(conn: Connection, until_week: int) -> None:
    """Recompute weekly counts, exposure volumes and KPI sums for every week up to ``until_week``."""
    marks = _marks(conn, until_week)
    _count_weeks(conn, lambda week: week <= until_week)
    _unmark(conn, marks)


def update_counts(conn: Connection, until_week: int) -> list[int]:
    """Recount the weeks up to ``until_week`` that a change marked stale (table ``stale_weeks``, marked by
    triggers: migration 0010) and ``until_week`` itself, exactly as :func:`rebuild_counts` counts them;
    returns the weeks recounted. The weekly run's counts: the weeks its tickets, assignments and splits
    touched, not all history (a 10.3M-ticket store: 63.6 s for every week)."""
    marks = _marks(conn, until_week)
    weeks = sorted({w for _, w in marks} | {until_week})
    for chunk in chunks(weeks):
        _count_weeks(conn, partial(_in_weeks, chunk))
    _unmark(conn, marks)
    return weeks


def _marks(conn: Connection, until_week: int) -> list[tuple[int, int]]:
    """The stale marks of weeks up to ``until_week`` (id, week): read before counting, so a mark another
    transaction adds meanwhile stays for the next count."""
    q = select(StaleWeek.id, StaleWeek.week).where(StaleWeek.week <= until_week)
    return [(int(i), int(w)) for i, w in conn.execute(q)]


def _unmark(conn: Connection, marks: list[tuple[int, int]]) -> None:
    for chunk in chunks([i for i, _ in marks]):
        conn.execute(delete(StaleWeek).where(StaleWeek.id.in_(chunk)))


def recount_weeks(conn: Connection, weeks: Iterable[int]) -> None:
    """Recompute the counts, volumes and KPI sums of these weeks only, exactly as :func:`rebuild_counts` does
    (e.g. after tickets of those weeks were erased); weeks never counted are left uncounted."""
    counted = {
        w
        for (w,) in conn.execute(
            select(WeeklyVolume.week).where(WeeklyVolume.week.in_(sorted(set(weeks)))).distinct()
        )
    }
    for chunk in chunks(sorted(counted)):
        _count_weeks(conn, partial(_in_weeks, chunk))


# Two writers recount weeks: the counts stage and an ingest erasing tickets (store.erasure), maybe at
# once (an hourly ingest beside the weekly run). On PostgreSQL a recount's DELETE does not see rows
# another recount inserted after it began, and both sets would stay: they take turns on this lock.
# SQLite lets one writer at a time anyway.
COUNTS_LOCK = 0x766F63_636E74  # "voc" "cnt"


def _in_weeks(chunk: Sequence[int], week: Any) -> Any:
    return week.in_(chunk)


def _count_weeks(conn: Connection, weeks: Callable[[Any], Any]) -> None:
    """Recount the weeks ``weeks`` selects (given a table's week column, the condition on it)."""
    tickets_in = weeks(T.c.week)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": COUNTS_LOCK})
    A = Assignment.__table__
    topic = func.coalesce(Topic.merged_into, A.c.topic_id)
    sev = case(*[(T.c.severity == k, v) for k, v in SEVERITY_RANK.items()], else_=0)
    prod, mod, bat = (
        func.coalesce(T.c.product_n, ""),
        func.coalesce(T.c.model_n, ""),
        func.coalesce(T.c.batch_n, ""),
    )
    conn.execute(delete(WeeklyCount).where(weeks(WeeklyCount.week)))

    def n_sev(name: str):  # type: ignore[no-untyped-def]
        return func.sum(case((T.c.severity == name, 1), else_=0))

    sel = (
        select(
            T.c.week,
            T.c.intent,
            topic,
            prod,
            mod,
            bat,
            func.count(),
            func.max(sev),
            n_sev("safety"),
            n_sev("defect"),
            n_sev("service"),
        )
        .select_from(T.join(A, A.c.ticket_id == T.c.id).outerjoin(Topic.__table__, Topic.id == A.c.topic_id))
        .where(tickets_in)
        .group_by(T.c.week, T.c.intent, topic, prod, mod, bat)
    )
    conn.execute(
        insert(WeeklyCount).from_select(
            [
                "week",
                "intent",
                "topic_id",
                "product",
                "model",
                "batch",
                "n",
                "sev_max",
                "n_safety",
                "n_defect",
                "n_service",
            ],
            sel,
        )
    )
    kpis.refresh(conn, tickets_in, weeks(WeeklyKpi.week))
    conn.execute(delete(WeeklyVolume).where(weeks(WeeklyVolume.week)))
    blank = literal("", String)
    has_p, has_b = T.c.product_n.is_not(None), T.c.batch_n.is_not(None)
    for sel in (
        # a week's whole volume is its KPI sums' ticket count (one scan of the tickets fewer)
        select(WeeklyKpi.week, blank, blank, WeeklyKpi.tickets).where(weeks(WeeklyKpi.week)),
        select(T.c.week, T.c.product_n, blank, func.count())
        .where(tickets_in, has_p)
        .group_by(T.c.week, T.c.product_n),
        select(T.c.week, T.c.product_n, T.c.batch_n, func.count())
        .where(tickets_in, has_p, has_b)
        .group_by(T.c.week, T.c.product_n, T.c.batch_n),
    ):
        conn.execute(insert(WeeklyVolume).from_select(["week", "product", "batch", "n"], sel))


def counts_frame_rows(conn: Connection, intent: str, from_week: int, until_week: int) -> list[Any]:
    q = select(
        WeeklyCount.week,
        WeeklyCount.topic_id,
        WeeklyCount.product,
        WeeklyCount.model,
        WeeklyCount.batch,
        WeeklyCount.n,
        WeeklyCount.n_safety,
        WeeklyCount.n_defect,
        WeeklyCount.n_service,
    ).where(WeeklyCount.intent == intent, WeeklyCount.week >= from_week, WeeklyCount.week <= until_week)
    return list(conn.execute(q))


def volumes(conn: Connection, from_week: int, until_week: int) -> list[Any]:
    q = select(WeeklyVolume.week, WeeklyVolume.product, WeeklyVolume.batch, WeeklyVolume.n).where(
        and_(WeeklyVolume.week >= from_week, WeeklyVolume.week <= until_week)
    )
    return list(conn.execute(q))


def window_counts_rows(conn: Connection, intent: str, start: datetime, end: datetime) -> list[Any]:
    """Like :func:`counts_frame_rows` for the tickets whose ``event_at`` is in [start, end) (the daily
    safety check's rolling window; ``week`` is 0): counted as ``rebuild_counts`` counts a week."""
    A = Assignment.__table__
    topic = func.coalesce(Topic.merged_into, A.c.topic_id)
    prod, mod, bat = (
        func.coalesce(T.c.product_n, ""),
        func.coalesce(T.c.model_n, ""),
        func.coalesce(T.c.batch_n, ""),
    )

    def n_sev(name: str):  # type: ignore[no-untyped-def]
        return func.sum(case((T.c.severity == name, 1), else_=0))

    q = (
        select(
            literal(0).label("week"),
            topic.label("topic_id"),
            prod.label("product"),
            mod.label("model"),
            bat.label("batch"),
            func.count().label("n"),
            n_sev("safety").label("n_safety"),
            n_sev("defect").label("n_defect"),
            n_sev("service").label("n_service"),
        )
        .select_from(T.join(A, A.c.ticket_id == T.c.id).outerjoin(Topic.__table__, Topic.id == A.c.topic_id))
        .where(T.c.intent == intent, T.c.event_at >= start, T.c.event_at < end)
        .group_by(topic, prod, mod, bat)
    )
    return list(conn.execute(q))


def window_volumes(conn: Connection, start: datetime, end: datetime) -> list[Any]:
    """Like :func:`volumes` for the tickets whose ``event_at`` is in [start, end) (``week`` is 0)."""
    inside, blank, zero = and_(T.c.event_at >= start, T.c.event_at < end), literal("", String), literal(0)
    has_p, has_b = T.c.product_n.is_not(None), T.c.batch_n.is_not(None)
    out: list[Any] = []
    for sel in (
        select(zero, blank, blank, func.count()).where(inside),
        select(zero, T.c.product_n, blank, func.count()).where(inside, has_p).group_by(T.c.product_n),
        select(zero, T.c.product_n, T.c.batch_n, func.count())
        .where(inside, has_p, has_b)
        .group_by(T.c.product_n, T.c.batch_n),
    ):
        out += list(conn.execute(sel))
    return out


def replace_surges_of_levels(
    conn: Connection, week: int, levels: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """Replace only the rows of ``levels`` for ``week`` (the daily safety check's cells)."""
    conn.execute(delete(Surge).where(Surge.week == week, Surge.level.in_(list(levels))))
    if rows:
        conn.execute(insert(Surge), list(rows))


# --- surges --------------------------------------------------------------------------------


def replace_surges(conn: Connection, week: int, rows: Sequence[dict[str, Any]]) -> None:
    conn.execute(delete(Surge).where(Surge.week == week))
    if rows:
        conn.execute(insert(Surge), list(rows))


@dataclass(frozen=True)
class SurgeRow:
    """One stored flagged cell (every column of ``surges``, in table order: ``voc surges --json`` prints
    them all). Weeks are ordinals (``voc.weeks.Week.ordinal``)."""

    id: int
    week: int
    level: (
        str  # a surges.cells level (theme, theme×product, topic…, product×batch, product×safety...) or global
    )
    cell: str
    topic_id: int | None
    theme_id: int | None
    product: str | None
    model: str | None
    batch: str | None
    observed: int
    expected: float
    ratio: float
    ratio_lo: float
    ratio_hi: float
    p: float
    q: float
    methods: str  # "+"-joined
    first_week: int
    new_cell: bool
    severity: str  # safety | defect | service | other
    conc_batch: str | None  # the batch carrying the cell, if one does (its share, expected share, ratio)
    conc_share: float | None
    conc_expected: float | None
    conc_ratio: float | None
    explanation_zh: str
    explanation_en: str


def load_surges(conn: Connection, week: int) -> list[SurgeRow]:
    """The week's flagged cells, smallest q first."""
    q = select(Surge.__table__).where(Surge.week == week).order_by(Surge.q)
    return [SurgeRow(**r._mapping) for r in conn.execute(q)]
