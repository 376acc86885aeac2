"""indexes for the Mini App's base table: next contacts by date, the base by name

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-02 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEXT_CONTACT = "state = 'pending' AND kind != 'campaign'"
IN_BASE = "erased_at IS NULL AND archived_at IS NULL"


def upgrade() -> None:
    # The table's first page: a team's next contacts, soonest first. The worklist's index
    # starts with the manager, so the whole team's sorted all its pending rows for 50.
    op.create_index(
        "ix_followups_team_next_due",
        "followups",
        ["team_id", "due_at"],
        sqlite_where=sa.text(NEXT_CONTACT),
        postgresql_where=sa.text(NEXT_CONTACT),
    )
    # The base (not archived, not erased) by name: the clients without a next contact after
    # the others, sorting by name, and the total, read from the index alone.
    op.create_index(
        "ix_clients_team_base_name",
        "clients",
        ["team_id", "name"],
        sqlite_where=sa.text(IN_BASE),
        postgresql_where=sa.text(IN_BASE),
    )


def downgrade() -> None:
    op.drop_index("ix_clients_team_base_name", table_name="clients")
    op.drop_index("ix_followups_team_next_due", table_name="followups")
