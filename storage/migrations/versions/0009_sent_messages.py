"""sent_messages: which clients a bot message is about, so a reply to it logs for them

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 06:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Messages sent before this migration have no row: a reply to one falls back to the
    # buttons Telegram hands back with it (handlers/reply_log.py).
    op.create_table(
        "sent_messages",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("client_ids", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_sent_messages_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_sent_messages_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "message_id", name=op.f("pk_sent_messages")),
    )
    # The hourly prune deletes by age.
    op.create_index("ix_sent_messages_sent_at", "sent_messages", ["sent_at"])


def downgrade() -> None:
    op.drop_index("ix_sent_messages_sent_at", table_name="sent_messages")
    op.drop_table("sent_messages")
