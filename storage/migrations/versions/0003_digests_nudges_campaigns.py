"""digest time, nudge periods, campaigns, outbox rows about clients

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERIODS = {
    "quiet_hot_days": "14",
    "hot_to_warm_days": "90",
    "stuck_lead_days": "7",
    "stuck_escalate_days": "2",
    "stuck_archive_days": "7",
}


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("selector", sa.String(length=100), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("clients_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["members.id"], name=op.f("fk_campaigns_created_by_members")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_campaigns_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaigns_team_id"), ["team_id"])
    with op.batch_alter_table("teams", schema=None) as batch_op:
        for name, default in PERIODS.items():
            batch_op.add_column(
                sa.Column(name, sa.Integer(), server_default=default, nullable=False)
            )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("digest_time", sa.Time(), server_default="09:00:00", nullable=False)
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_client_id_clients"),
            "clients",
            ["client_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_followups_campaign_id_campaigns"),
            "campaigns",
            ["campaign_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.drop_index("uq_followups_client_pending")
        batch_op.create_index(
            "uq_followups_client_pending",
            ["client_id"],
            unique=True,
            sqlite_where=sa.text("state = 'pending' AND kind != 'campaign'"),
            postgresql_where=sa.text("state = 'pending' AND kind != 'campaign'"),
        )


def downgrade() -> None:
    # Campaign follow-ups cannot live under the stricter index: they go with their campaigns.
    op.execute("DELETE FROM followups WHERE kind = 'campaign'")
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_index("uq_followups_client_pending")
        batch_op.create_index(
            "uq_followups_client_pending",
            ["client_id"],
            unique=True,
            sqlite_where=sa.text("state = 'pending'"),
            postgresql_where=sa.text("state = 'pending'"),
        )
        batch_op.drop_constraint(
            batch_op.f("fk_followups_campaign_id_campaigns"), type_="foreignkey"
        )
        batch_op.drop_column("campaign_id")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_client_id_clients"), type_="foreignkey")
        batch_op.drop_column("payload")
        batch_op.drop_column("client_id")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("digest_time")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        for name in reversed(PERIODS):
            batch_op.drop_column(name)
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_team_id"))
    op.drop_table("campaigns")
