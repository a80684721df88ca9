"""assignments.week: the ticket's week beside its topic, indexed (topic, week, similarity, ticket);
the (topic, similarity) index takes the ticket as its tie-break

A brief's quotes are a topic's most typical tickets of one week. Without the week on the assignment
the read had to start from all of the week's tickets (43,691 on a 1M-ticket store) and join each to its
assignment (report_queries.quote_sets); with it, the index walks only the quoted topics' tickets of
that week, most typical first. Equal similarities (near-identical texts) go by ticket id; with the id
in the index PostgreSQL walks them in order instead of sorting each group of ties (a quote walk on
1M tickets: 1.2 -> 0.15 ms; SQLite's index already ends with the rowid, the ticket id).

Revision ID: 0008_assignment_week
Revises: 0007_weekly_kpis
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008_assignment_week"
down_revision: str | Sequence[str] | None = "0007_weekly_kpis"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("week", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE assignments SET week = (SELECT week FROM tickets WHERE tickets.id = assignments.ticket_id)"
    )
    op.create_index(
        "ix_assignments_topic_week_sim", "assignments", ["topic_id", "week", "similarity", "ticket_id"]
    )
    op.drop_index("ix_assignments_topic_sim", table_name="assignments")
    op.create_index("ix_assignments_topic_sim", "assignments", ["topic_id", "similarity", "ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_assignments_topic_sim", table_name="assignments")
    op.create_index("ix_assignments_topic_sim", "assignments", ["topic_id", "similarity"])
    op.drop_index("ix_assignments_topic_week_sim", table_name="assignments")
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("week")
