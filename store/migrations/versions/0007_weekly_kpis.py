"""weekly_kpis: the service KPI sums per week, kept with the weekly counts (store/kpis.py)

Revision ID: 0007_weekly_kpis
Revises: 0006_catalogue_edits
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007_weekly_kpis"
down_revision: str | Sequence[str] | None = "0006_catalogue_edits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUMS = ("tickets", "complaints", "fcr", "timed", "closed_24h", "closed_48h", "reopened", "transferred")


def upgrade() -> None:
    op.create_table(
        "weekly_kpis",
        sa.Column("week", sa.Integer(), nullable=False),
        *(sa.Column(c, sa.Integer(), nullable=False) for c in SUMS),
        sa.PrimaryKeyConstraint("week"),
    )
    # the weeks already counted get their sums (as store/kpis.py computes them); weeks never counted
    # are summed from their tickets when read
    op.execute(
        """
        INSERT INTO weekly_kpis (week, tickets, complaints, fcr, timed, closed_24h, closed_48h, reopened,
                                 transferred)
        SELECT week, count(*),
               sum(CASE WHEN intent = 'complaint' THEN 1 ELSE 0 END),
               sum(CASE WHEN coalesce(reopened, false) = false AND coalesce(transfers, 0) = 0 THEN 1 ELSE 0 END),
               sum(CASE WHEN hours_to_close IS NOT NULL THEN 1 ELSE 0 END),
               sum(CASE WHEN hours_to_close IS NOT NULL AND hours_to_close <= 24 THEN 1 ELSE 0 END),
               sum(CASE WHEN hours_to_close IS NOT NULL AND hours_to_close <= 48 THEN 1 ELSE 0 END),
               sum(CASE WHEN coalesce(reopened, false) = true THEN 1 ELSE 0 END),
               sum(CASE WHEN coalesce(transfers, 0) > 0 THEN 1 ELSE 0 END)
        FROM tickets
        WHERE week IN (SELECT DISTINCT week FROM weekly_volume)
        GROUP BY week
        """
    )


def downgrade() -> None:
    op.drop_table("weekly_kpis")
