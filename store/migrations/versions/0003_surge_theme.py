"""surges.theme_id: the theme a flagged theme-level cell belongs to

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("surges") as batch:
        batch.add_column(sa.Column("theme_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("surges") as batch:
        batch.drop_column("theme_id")
