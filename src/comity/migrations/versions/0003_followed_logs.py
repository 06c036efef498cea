"""Witnessing: the other nodes' logs this node follows, each with the largest checkpoint
it verified and cosigned. Mutable (the state moves forward at every witnessing round);
alarms about those logs go to the append-only ``ledger_alarms`` of revision 0002.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:28:29.581007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from comity.db import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_followed_logs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("vkey", sa.String(length=400), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("last_size", sa.BigInteger(), nullable=False),
        sa.Column("last_root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("last_note", sa.Text(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_followed_logs")),
        sa.UniqueConstraint("origin", name=op.f("uq_ledger_followed_logs_origin")),
    )


def downgrade() -> None:
    op.drop_table("ledger_followed_logs")
