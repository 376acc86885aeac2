"""export grant, member removal, client erasure, audit by action, processed update ids

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(
            sa.Column("can_export", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_audit_log_team_id_action_created_at",
        "audit_log",
        ["team_id", "action", "created_at"],
    )
    op.create_table(
        "processed_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_processed_updates")),
    )
    op.create_index("ix_processed_updates_received_at", "processed_updates", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_processed_updates_received_at", table_name="processed_updates")
    op.drop_table("processed_updates")
    op.drop_index("ix_audit_log_team_id_action_created_at", table_name="audit_log")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("erased_at")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("removed_at")
        batch.drop_column("can_export")
