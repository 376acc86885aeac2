"""the owner's weekly report: on/off, day, time, heads, since when

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("weekly_enabled", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("weekly_day", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("weekly_time", sa.Time(), nullable=True))
        batch_op.add_column(
            sa.Column("weekly_heads", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("weekly_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_column("weekly_since")
        batch_op.drop_column("weekly_heads")
        batch_op.drop_column("weekly_time")
        batch_op.drop_column("weekly_day")
        batch_op.drop_column("weekly_enabled")
