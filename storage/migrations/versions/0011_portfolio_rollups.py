"""roll-ups for /portfolio: sales per client, manager, currency and month; counted activities
per author, kind and UTC day; filled from the existing rows

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same recomputation as storage/repositories/rollups.py (`sales_from_deals`,
# `days_from_activities`), written out: a migration must not change when the code does.
_MONTH = {
    "sqlite": "(CAST(substr(closed_on, 1, 4) AS INTEGER) * 12"
    " + CAST(substr(closed_on, 6, 2) AS INTEGER) - 1)",
    "postgresql": "CAST(EXTRACT(YEAR FROM closed_on) * 12 + EXTRACT(MONTH FROM closed_on) - 1"
    " AS INTEGER)",
}
_DAY = {
    "sqlite": "substr(occurred_at, 1, 10)",
    "postgresql": "CAST((occurred_at AT TIME ZONE 'UTC') AS DATE)",
}


def upgrade() -> None:
    op.create_table(
        "sales_months",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("profit", sa.BigInteger(), nullable=False),
        sa.Column("profit_base", sa.BigInteger(), nullable=False),
        sa.Column("deals", sa.Integer(), nullable=False),
        sa.Column("first_on", sa.Date(), nullable=False),
        sa.Column("last_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_sales_months_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["manager_id"], ["members.id"], name=op.f("fk_sales_months_manager_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_sales_months_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "client_id", "manager_id", "currency", "month", name=op.f("pk_sales_months")
        ),
    )
    op.create_index(
        "ix_sales_months_period",
        "sales_months",
        [
            "team_id",
            "currency",
            "month",
            "client_id",
            "manager_id",
            "revenue",
            "profit",
            "profit_base",
            "deals",
            "last_on",
        ],
    )
    op.create_table(
        "activity_days",
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["members.id"], name=op.f("fk_activity_days_author_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_activity_days_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("author_id", "kind", "day", name=op.f("pk_activity_days")),
    )
    op.create_index("ix_activity_days_team_id_day", "activity_days", ["team_id", "day"])
    dialect = op.get_bind().dialect.name
    month, day = _MONTH[dialect], _DAY[dialect]
    op.execute(
        "INSERT INTO sales_months (client_id, manager_id, currency, month, team_id, revenue,"
        " profit, profit_base, deals, first_on, last_on)"
        f" SELECT client_id, manager_id, currency, {month}, team_id, SUM(amount),"
        " COALESCE(SUM(profit), 0),"
        " COALESCE(SUM(CASE WHEN profit IS NOT NULL THEN amount END), 0),"
        " COUNT(*), MIN(closed_on), MAX(closed_on)"
        f" FROM deals GROUP BY client_id, manager_id, currency, {month}, team_id"
    )
    op.execute(
        "INSERT INTO activity_days (author_id, kind, day, team_id, count)"
        f" SELECT author_id, kind, {day}, team_id, COUNT(*) FROM activities"
        " WHERE kind IN ('call', 'meeting', 'proposal')"
        f" GROUP BY author_id, kind, {day}, team_id"
    )


def downgrade() -> None:
    op.drop_index("ix_activity_days_team_id_day", table_name="activity_days")
    op.drop_table("activity_days")
    op.drop_index("ix_sales_months_period", table_name="sales_months")
    op.drop_table("sales_months")
