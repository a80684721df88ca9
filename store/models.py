"""SQLAlchemy 2 models. Portable across SQLite and PostgreSQL (no dialect-only types).

Weeks are stored as ISO-week ordinals (``voc.weeks.Week.ordinal``) so grouping by week is an
integer GROUP BY on both databases.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from voc.fields import LENGTHS


class Base(DeclarativeBase):
    pass


class TicketRow(Base):
    """A closed ticket: canonical fields as ingested plus what the understanding stage derived."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_tickets_source_id"),
        Index("ix_tickets_week", "week"),
        Index("ix_tickets_nlp", "nlp_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    source_id: Mapped[str] = mapped_column(String(LENGTHS["ticket_id"]))
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    event_at: Mapped[datetime] = mapped_column(DateTime)
    week: Mapped[int] = mapped_column(Integer)
    hours_to_close: Mapped[float | None] = mapped_column(Float)
    channel: Mapped[str | None] = mapped_column(String(LENGTHS["channel"]))
    product: Mapped[str | None] = mapped_column(String(LENGTHS["product"]))
    model: Mapped[str | None] = mapped_column(String(LENGTHS["model"]))
    batch: Mapped[str | None] = mapped_column(String(LENGTHS["batch"]))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(LENGTHS["status"]))
    agent: Mapped[str | None] = mapped_column(String(LENGTHS["agent"]))
    customer_region: Mapped[str | None] = mapped_column(String(LENGTHS["customer_region"]))
    csat: Mapped[float | None] = mapped_column(Float)
    reopened: Mapped[bool | None] = mapped_column(Boolean)
    transfers: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(LENGTHS["language"]))
    intent_hint: Mapped[str | None] = mapped_column(String(LENGTHS["intent_hint"]))
    content_hash: Mapped[str] = mapped_column(String(64))
    ingested_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    # --- derived by the understanding stage (NULL nlp_version = not yet understood) ---
    nlp_version: Mapped[str | None] = mapped_column(String(20))
    lang: Mapped[str | None] = mapped_column(String(10))
    text_clean: Mapped[str | None] = mapped_column(Text)  # normalised + redacted: safe for reports
    resolution_clean: Mapped[str | None] = mapped_column(Text)
    tokens: Mapped[str | None] = mapped_column(Text)  # space-joined content tokens
    intent: Mapped[str | None] = mapped_column(String(20))
    severity: Mapped[str | None] = mapped_column(String(20))
    product_n: Mapped[str | None] = mapped_column(String(200))
    model_n: Mapped[str | None] = mapped_column(String(200))
    batch_n: Mapped[str | None] = mapped_column(String(100))
    entity_sources: Mapped[str | None] = mapped_column(String(100))  # e.g. "product=field,model=text"
    flags: Mapped[str | None] = mapped_column(String(200))


class Embedding(Base):
    """Embedding cache: a ticket is embedded once per embedder state."""

    __tablename__ = "embeddings"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    embedder_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class TopicQueue(Base):
    """Understood tickets of a topic intent waiting for a topic: the understanding stage queues them, an
    assignment takes them off, an erasure with the ticket (the weekly scan reads this, not all history)."""

    __tablename__ = "topic_queue"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)


class StaleWeek(Base):
    """A week whose counts a change made stale: marked by triggers on tickets, assignments and topics
    (migration 0010), taken off by the counts stage once it recounted the week."""

    __tablename__ = "stale_weeks"
    __table_args__ = (Index("ix_stale_weeks_week", "week"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    week: Mapped[int] = mapped_column(Integer)


class IngestRun(Base):
    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20))  # running | ok | failed | interrupted
    holder: Mapped[str | None] = mapped_column(String(200))  # "host:pid" of the process running it
    read: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class Erasure(Base):
    """A ticket erased because its source deleted it or marked it spam: which one and when, never what
    it said (the row, its topic assignment, embedding, quarantined raw rows and counts are gone)."""

    __tablename__ = "erasures"
    __table_args__ = (Index("ix_erasures_source_id", "source", "source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    source_id: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(20))  # deleted | spam
    erased_at: Mapped[datetime] = mapped_column(DateTime)


class Watermark(Base):
    """Per-source cursor, advanced only after the batch it covers is committed."""

    __tablename__ = "watermarks"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ProcessedFile(Base):
    """A file already ingested: same path and same content hash means a re-drop is a no-op."""

    __tablename__ = "processed_files"
    __table_args__ = (UniqueConstraint("source", "path", "sha256", name="uq_processed_file"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    processed_at: Mapped[datetime] = mapped_column(DateTime)


class QuarantinedRow(Base):
    """A row that could not be parsed, kept verbatim with the reason."""

    __tablename__ = "quarantine"
    __table_args__ = (
        Index("ix_quarantine_source", "source"),
        UniqueConstraint("source", "location", "raw_hash", name="uq_quarantine_row"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[int | None] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(300))  # file:line or API page
    raw: Mapped[str] = mapped_column(Text)
    raw_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime)


class Topic(Base):
    """A topic with a stable id. Human edits (label, status, merged_into) survive refits."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intent: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(Text)
    human_label: Mapped[bool] = mapped_column(Boolean, default=False)
    keywords: Mapped[str] = mapped_column(Text, default="")  # " / "-joined
    status: Mapped[str] = mapped_column(String(20))  # active | emerging | ignored | merged
    merged_into: Mapped[int | None] = mapped_column(Integer)
    centroid: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_week: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class TopicLineage(Base):
    __tablename__ = "topic_lineage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    old_id: Mapped[int] = mapped_column(Integer)
    new_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # merge | split | refit-map | human-merge
    week: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Theme(Base):
    """A theme (L1) over fine topics, with a stable id. Human labels and placements survive refits."""

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str | None] = mapped_column(Text)
    human_label: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20))  # active | emerging | merged | retired
    merged_into: Mapped[int | None] = mapped_column(Integer)
    created_week: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class TopicTheme(Base):
    """Which theme a (live) topic belongs to; ``pinned`` when a human put it there (move, merge)."""

    __tablename__ = "topic_themes"
    __table_args__ = (Index("ix_topic_themes_theme", "theme_id"),)

    topic_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    theme_id: Mapped[int] = mapped_column(Integer)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    assigned_week: Mapped[int] = mapped_column(Integer)


class ThemeLineage(Base):
    __tablename__ = "theme_lineage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    old_id: Mapped[int] = mapped_column(Integer)  # theme (or topic, for 'human-move')
    new_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # split | refit-map | human-merge | human-move
    week: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class CatalogueEdit(Base):
    """One human edit of the topic catalogue (store/edit_log.py): who, when, what, the values before
    and after (JSON), and its undo when undone."""

    __tablename__ = "catalogue_edits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    who: Mapped[str] = mapped_column(String(100))  # local | cli | editor | editor:<basic user name>
    kind: Mapped[str] = mapped_column(String(30))  # topic-rename | topic-ignore | ... (edit_log.KINDS)
    subject_id: Mapped[int] = mapped_column(Integer)  # the topic or theme edited
    target_id: Mapped[int | None] = mapped_column(Integer)  # merge target, destination theme
    before_json: Mapped[str] = mapped_column(Text)
    after_json: Mapped[str] = mapped_column(Text)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)
    undone_by: Mapped[str | None] = mapped_column(String(100))


class Assignment(Base):
    """Which topic a ticket belongs to (one per ticket)."""

    __tablename__ = "assignments"
    __table_args__ = (
        # ticket_id: the tie-break of equal similarities is in the index (PostgreSQL sorted each tie
        # group of near-identical texts otherwise: 1.2 -> 0.15 ms a quote walk on 1M tickets)
        Index("ix_assignments_topic_sim", "topic_id", "similarity", "ticket_id"),
        # a topic's most typical tickets of a week (the brief's quotes) without reading the week's others
        Index("ix_assignments_topic_week_sim", "topic_id", "week", "similarity", "ticket_id"),
    )

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    topic_id: Mapped[int] = mapped_column(Integer)
    similarity: Mapped[float] = mapped_column(Float)
    assigned_week: Mapped[int] = mapped_column(Integer)  # when it was assigned
    # the ticket's own week, copied when assigned (a changed ticket loses its assignment: store.tickets)
    week: Mapped[int | None] = mapped_column(Integer)


class WeeklyCount(Base):
    """Complaints (and other intents) per week × topic × product × model × batch."""

    __tablename__ = "weekly_counts"
    __table_args__ = (Index("ix_weekly_counts_week", "week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    week: Mapped[int] = mapped_column(Integer)
    intent: Mapped[str] = mapped_column(String(20))
    topic_id: Mapped[int] = mapped_column(Integer)
    product: Mapped[str] = mapped_column(String(200))  # '' when unknown
    model: Mapped[str] = mapped_column(String(200))
    batch: Mapped[str] = mapped_column(String(100))
    n: Mapped[int] = mapped_column(Integer)
    sev_max: Mapped[int] = mapped_column(Integer, default=0)  # 3 safety, 2 defect, 1 service, 0 other
    n_safety: Mapped[int] = mapped_column(Integer, default=0)
    n_defect: Mapped[int] = mapped_column(Integer, default=0)
    n_service: Mapped[int] = mapped_column(Integer, default=0)


class WeeklyVolume(Base):
    """Exposure per week: all tickets, and per product / batch."""

    __tablename__ = "weekly_volume"

    week: Mapped[int] = mapped_column(Integer, primary_key=True)
    product: Mapped[str] = mapped_column(String(200), primary_key=True)  # '' = all products
    batch: Mapped[str] = mapped_column(String(100), primary_key=True)  # '' = all batches
    n: Mapped[int] = mapped_column(Integer)


class WeeklyKpi(Base):
    """Service KPI sums per week (store/kpis.py defines them), refreshed with the weekly counts."""

    __tablename__ = "weekly_kpis"

    week: Mapped[int] = mapped_column(Integer, primary_key=True)
    tickets: Mapped[int] = mapped_column(Integer)
    complaints: Mapped[int] = mapped_column(Integer)
    fcr: Mapped[int] = mapped_column(Integer)
    timed: Mapped[int] = mapped_column(Integer)
    closed_24h: Mapped[int] = mapped_column(Integer)
    closed_48h: Mapped[int] = mapped_column(Integer)
    reopened: Mapped[int] = mapped_column(Integer)
    transferred: Mapped[int] = mapped_column(Integer)


class Surge(Base):
    __tablename__ = "surges"
    __table_args__ = (UniqueConstraint("week", "level", "cell", name="uq_surge_cell_week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    week: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(40))
    cell: Mapped[str] = mapped_column(String(400))
    topic_id: Mapped[int | None] = mapped_column(Integer)
    theme_id: Mapped[int | None] = mapped_column(Integer)  # theme-level cells
    product: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    batch: Mapped[str | None] = mapped_column(String(100))
    observed: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column(Float)
    ratio: Mapped[float] = mapped_column(Float)
    ratio_lo: Mapped[float] = mapped_column(Float)
    ratio_hi: Mapped[float] = mapped_column(Float)
    p: Mapped[float] = mapped_column(Float)
    q: Mapped[float] = mapped_column(Float)
    methods: Mapped[str] = mapped_column(String(100))
    first_week: Mapped[int] = mapped_column(Integer)
    new_cell: Mapped[bool] = mapped_column(Boolean)
    severity: Mapped[str] = mapped_column(String(20))
    conc_batch: Mapped[str | None] = mapped_column(String(100))
    conc_share: Mapped[float | None] = mapped_column(Float)
    conc_expected: Mapped[float | None] = mapped_column(Float)
    conc_ratio: Mapped[float | None] = mapped_column(Float)
    explanation_zh: Mapped[str] = mapped_column(Text)
    explanation_en: Mapped[str] = mapped_column(Text)


class AlertSent(Base):
    """Every alert send: intent recorded first, then the outcome (so a crash never double-sends)."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("dedupe_key", "channel", "recipient", name="uq_alert_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    week: Mapped[int] = mapped_column(Integer)
    dedupe_key: Mapped[str] = mapped_column(String(400))
    kind: Mapped[str] = mapped_column(String(20))  # start | escalation | resolved
    owner: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(50))
    recipient: Mapped[str] = mapped_column(String(300))
    payload_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    ratio: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


class BriefRendered(Base):
    __tablename__ = "briefs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # weekly | review
    period: Mapped[str] = mapped_column(String(20))
    lang: Mapped[str] = mapped_column(String(10))
    fmt: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ActionItemRow(Base):
    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic_id: Mapped[int | None] = mapped_column(Integer)
    product: Mapped[str | None] = mapped_column(String(200))
    batch: Mapped[str | None] = mapped_column(String(100))
    owner: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # open | doing | done
    due: Mapped[date | None] = mapped_column(Date)
    fix_date: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Artifact(Base):
    """Fitted state that must persist between runs (e.g. the embedder per intent)."""

    __tablename__ = "artifacts"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class StageRun(Base):
    """Which weekly stages finished for which week, so a failed run resumes where it stopped."""

    __tablename__ = "stage_runs"

    week: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    finished_at: Mapped[datetime] = mapped_column(DateTime)
    summary: Mapped[str] = mapped_column(Text, default="")


class RunLock(Base):
    """One row while a weekly run for a week is in progress: two runs for one week never overlap."""

    __tablename__ = "run_locks"

    week: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(DateTime)
