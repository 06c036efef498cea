"""Time-stamps of checkpoints: RFC 3161 tokens over the checkpoints' signed notes, from
the authority the node is configured with. Append-only, like the checkpoints.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from comity.db import UTCDateTime
from comity.migrations import append_only

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_timestamps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("authority", sa.String(length=500), nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=False),
        sa.Column("gen_time", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["ledger_checkpoints.id"],
            name=op.f("fk_ledger_timestamps_checkpoint_id_ledger_checkpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_timestamps")),
    )
    with op.batch_alter_table("ledger_timestamps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_timestamps_checkpoint_id"), ["checkpoint_id"], unique=False
        )
    append_only.install("ledger_timestamps")


def downgrade() -> None:
    append_only.remove("ledger_timestamps")
    with op.batch_alter_table("ledger_timestamps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_timestamps_checkpoint_id"))
    op.drop_table("ledger_timestamps")
