"""stale_weeks: the weeks whose counts a change made stale, marked by the database itself

The counts stage recounted every week of history each Monday: 63.6 s of a 212 s weekly run on a
10.3M-ticket PostgreSQL store (6.6 s on 1M). Triggers now mark the week of every ticket and assignment
inserted, changed or deleted, and of every assignment of a topic whose merge target changed; the
counts stage recounts the marked weeks and the week it counts, then removes the marks it read
(``store.analysis.update_counts``). Triggers, not the writers: every path that changes what the counts
read (ingest, understanding, topics, splits, refits, human edits and their undo, erasures) marks its
weeks without knowing of the counts. Marks are appended, never updated (no row two writers wait on);
SQLite's row triggers add a week once, PostgreSQL's statement triggers each statement's distinct
weeks. The upgrade marks every week, so the first counts after it
recount all of history once.

Revision ID: 0010_stale_weeks
Revises: 0009_topic_queue
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010_stale_weeks"
down_revision: str | Sequence[str] | None = "0009_topic_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW = "SELECT DISTINCT n.week FROM new_rows n"
_OLD = "SELECT DISTINCT o.week FROM old_rows o"
_MERGED = (
    "SELECT DISTINCT a.week FROM new_rows n JOIN old_rows o ON o.id = n.id "
    "JOIN assignments a ON a.topic_id = n.id WHERE n.merged_into IS DISTINCT FROM o.merged_into"
)
# PostgreSQL: one statement-level trigger per table and event, over the statement's transition tables
_PG = {
    # name: (table, event, transition tables, weeks selected)
    "tickets_ins": ("tickets", "INSERT", "NEW TABLE AS new_rows", [_NEW]),
    "tickets_upd": ("tickets", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", [_NEW, _OLD]),
    "tickets_del": ("tickets", "DELETE", "OLD TABLE AS old_rows", [_OLD]),
    "assignments_ins": ("assignments", "INSERT", "NEW TABLE AS new_rows", [_NEW]),
    "assignments_upd": ("assignments", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", [_NEW, _OLD]),
    "assignments_del": ("assignments", "DELETE", "OLD TABLE AS old_rows", [_OLD]),
    "topics_upd": ("topics", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", [_MERGED]),
}
# SQLite: row-level triggers
_MARK = "INSERT INTO stale_weeks (week) SELECT {w} WHERE {w} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stale_weeks WHERE week = {w});"
_SQLITE = {
    "tickets_ins": ("AFTER INSERT ON tickets", [_MARK.format(w="NEW.week")]),
    "tickets_upd": ("AFTER UPDATE ON tickets", [_MARK.format(w="NEW.week"), _MARK.format(w="OLD.week")]),
    "tickets_del": ("AFTER DELETE ON tickets", [_MARK.format(w="OLD.week")]),
    "assignments_ins": ("AFTER INSERT ON assignments", [_MARK.format(w="NEW.week")]),
    "assignments_upd": (
        "AFTER UPDATE ON assignments",
        [_MARK.format(w="NEW.week"), _MARK.format(w="OLD.week")],
    ),
    "assignments_del": ("AFTER DELETE ON assignments", [_MARK.format(w="OLD.week")]),
    "topics_upd": (
        "AFTER UPDATE OF merged_into ON topics WHEN OLD.merged_into IS NOT NEW.merged_into",
        [
            "INSERT INTO stale_weeks (week) SELECT DISTINCT a.week FROM assignments a "
            "WHERE a.topic_id = NEW.id AND a.week IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM stale_weeks s WHERE s.week = a.week);"
        ],
    ),
}


def upgrade() -> None:
    op.create_table(
        "stale_weeks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,  # a mark's id is never reused: update_counts deletes the ids it read
    )
    op.create_index("ix_stale_weeks_week", "stale_weeks", ["week"])
    if op.get_bind().dialect.name == "postgresql":
        for name, (table, event, tables, selects) in _PG.items():
            # no NOT EXISTS here (SQLite's row triggers need it): under READ COMMITTED a mark the counts
            # stage has read but not yet deleted would hide this change from it, and the change's own
            # week would end up unmarked once the counts commit. A statement adds its distinct weeks.
            body = " ".join(
                f"INSERT INTO stale_weeks (week) SELECT w.week FROM ({s}) w WHERE w.week IS NOT NULL;"
                for s in selects
            )
            op.execute(
                f"CREATE FUNCTION voc_mark_{name}() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN {body} RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER voc_mark_{name} AFTER {event} ON {table} REFERENCING {tables} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION voc_mark_{name}()"
            )
    else:
        for name, (when, statements) in _SQLITE.items():
            op.execute(f"CREATE TRIGGER voc_mark_{name} {when} BEGIN {' '.join(statements)} END")
    for table in (
        "tickets",
        "weekly_counts",
        "weekly_kpis",
        "weekly_volume",
    ):  # a counted week without tickets too
        op.execute(f"INSERT INTO stale_weeks (week) SELECT DISTINCT week FROM {table}")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for name, spec in (_PG if pg else _SQLITE).items():
        if pg:
            op.execute(f"DROP TRIGGER voc_mark_{name} ON {spec[0]}")
            op.execute(f"DROP FUNCTION voc_mark_{name}()")
        else:
            op.execute(f"DROP TRIGGER voc_mark_{name}")
    op.drop_index("ix_stale_weeks_week", table_name="stale_weeks")
    op.drop_table("stale_weeks")
