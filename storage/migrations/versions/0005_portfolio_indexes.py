"""covering indexes for /portfolio: activity counts per author and kind, deal sums per period

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Counts per (author, kind) in a time range read only this index, in GROUP BY order: no
    # table lookups and no sort of a year's activities.
    op.create_index(
        "ix_activities_author_id_kind_occurred_at",
        "activities",
        ["author_id", "kind", "occurred_at"],
    )
    # Every column the period sums need: the deals of a year are read from the index alone.
    op.create_index(
        "ix_deals_sales",
        "deals",
        ["team_id", "closed_on", "currency", "client_id", "manager_id", "amount", "profit"],
    )


def downgrade() -> None:
    op.drop_index("ix_deals_sales", table_name="deals")
    op.drop_index("ix_activities_author_id_kind_occurred_at", table_name="activities")
