"""indexes for one client's history: pending follow-ups by state, activities newest first

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 00:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A contact closes the client's next contact and its campaign follow-ups come due: "client
    # and pending, and (not a campaign or due by today)". The partial unique index covers only
    # the first half of that OR, so every /call scanned the team's follow-ups.
    op.create_index("ix_followups_client_id_state", "followups", ["client_id", "state"])
    # A card's last notes and contacts: "team and client, newest first". With one column of
    # each index equal, SQLite (no statistics) walked the team's whole history by date.
    op.create_index(
        "ix_activities_team_id_client_id_occurred_at",
        "activities",
        ["team_id", "client_id", "occurred_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_activities_team_id_client_id_occurred_at", table_name="activities")
    op.drop_index("ix_followups_client_id_state", table_name="followups")
