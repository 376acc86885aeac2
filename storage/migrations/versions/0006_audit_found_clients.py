"""which clients each audited search found, so /forget erases by client, not by spelling

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Searches logged before this migration have no rows here: /forget still matches their
    # query text against the person (storage/repositories/privacy.py, bot/services/privacy.py).
    op.create_table(
        "audit_found_clients",
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["audit_id"],
            ["audit_log.id"],
            name=op.f("fk_audit_found_clients_audit_id_audit_log"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_audit_found_clients_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("audit_id", "client_id", name=op.f("pk_audit_found_clients")),
    )
    # The primary key serves lookups by audit row; erasure looks them up by client.
    op.create_index("ix_audit_found_clients_client_id", "audit_found_clients", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_found_clients_client_id", table_name="audit_found_clients")
    op.drop_table("audit_found_clients")
