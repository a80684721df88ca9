"""topic_queue: the understood tickets waiting for a topic

The weekly topic stage found its tickets by joining every understood ticket of an intent with its
assignment and keeping those without one: a read of all history each Monday (3.3 s on a 1M-ticket
SQLite store for 100k new tickets). The understanding stage now queues what it understood, an
assignment takes the ticket off the queue, and the stage reads the queue. The upgrade queues what the
old scan would have found.

Revision ID: 0009_topic_queue
Revises: 0008_assignment_week
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009_topic_queue"
down_revision: str | Sequence[str] | None = "0008_assignment_week"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "topic_queue",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    # the topic intents as of this revision (voc.ticket.TOPIC_INTENTS)
    op.execute(
        "INSERT INTO topic_queue (ticket_id) SELECT t.id FROM tickets t "
        "LEFT JOIN assignments a ON a.ticket_id = t.id "
        "WHERE a.ticket_id IS NULL AND t.nlp_version IS NOT NULL "
        "AND t.intent IN ('complaint', 'question', 'suggestion')"
    )


def downgrade() -> None:
    op.drop_table("topic_queue")
