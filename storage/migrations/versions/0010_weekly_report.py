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
    # Plain ALTER TABLE ADD COLUMN, not batch mode: on SQLite a batch rebuild drops `teams`,
    # and with foreign keys on, the drop cascades to every member, client and follow-up.
    op.add_column(
        "teams",
        sa.Column("weekly_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column(
        "teams", sa.Column("weekly_day", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("teams", sa.Column("weekly_time", sa.Time(), nullable=True))
    op.add_column(
        "teams",
        sa.Column("weekly_heads", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("teams", sa.Column("weekly_since", sa.DateTime(timezone=True), nullable=True))
    # Existing teams get the report from now on: with no `since` it would date from the team's
    # creation, and the first sweep after a mid-week deploy would send every owner last
    # Monday's report marked late. Both stamps are UTC; SQLite's in the text form SQLAlchemy
    # writes (UTCDateTime stores naive UTC), so the values compare and read back alike.
    if op.get_bind().dialect.name == "sqlite":
        moment = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
    else:
        moment = "CURRENT_TIMESTAMP"
    op.execute(f"UPDATE teams SET weekly_since = {moment}")


def downgrade() -> None:
    # ALTER TABLE DROP COLUMN (SQLite 3.35+), for the same reason as above.
    for column in ("weekly_since", "weekly_heads", "weekly_time", "weekly_day", "weekly_enabled"):
        op.drop_column("teams", column)
