"""The ledger: entries, perfect-subtree nodes, salts, checkpoints, cosignatures, witnesses
and alarms. Entries, nodes, checkpoints, cosignatures and alarms are append-only.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:58:41.784398
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from comity.db import UTCDateTime
from comity.migrations import append_only

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit everywhere; on SQLite the INTEGER PRIMARY KEY that is the table's own rowid.
LOG_INDEX = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

APPEND_ONLY = (
    "ledger_entries",
    "ledger_nodes",
    "ledger_checkpoints",
    "ledger_cosignatures",
    "ledger_alarms",
)


def upgrade() -> None:
    op.create_table(
        "ledger_alarms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_alarms")),
    )
    with op.batch_alter_table("ledger_alarms", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_alarms_at", ["at"], unique=False)

    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoints")),
        sa.UniqueConstraint("size", name=op.f("uq_ledger_checkpoints_size")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("idx", LOG_INDEX, autoincrement=False, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("leaf_key", sa.BigInteger(), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_entries_leaf_key"), ["leaf_key"], unique=False)

    op.create_table(
        "ledger_nodes",
        sa.Column("key", LOG_INDEX, autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_ledger_nodes")),
    )
    op.create_table(
        "ledger_witnesses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("vkey", sa.String(length=400), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_witnesses")),
        sa.UniqueConstraint("name", name=op.f("uq_ledger_witnesses_name")),
    )
    op.create_table(
        "ledger_cosignatures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("signature_line", sa.Text(), nullable=False),
        sa.Column("cosigned_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["ledger_checkpoints.id"],
            name=op.f("fk_ledger_cosignatures_checkpoint_id_ledger_checkpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_cosignatures")),
    )
    with op.batch_alter_table("ledger_cosignatures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_cosignatures_checkpoint_id"), ["checkpoint_id"], unique=False
        )

    op.create_table(
        "ledger_salts",
        sa.Column("idx", LOG_INDEX, autoincrement=False, nullable=False),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["idx"], ["ledger_entries.idx"], name=op.f("fk_ledger_salts_idx_ledger_entries")
        ),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_ledger_salts")),
    )
    for table in APPEND_ONLY:
        append_only.install(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        append_only.remove(table)
    op.drop_table("ledger_salts")
    with op.batch_alter_table("ledger_cosignatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_cosignatures_checkpoint_id"))

    op.drop_table("ledger_cosignatures")
    op.drop_table("ledger_witnesses")
    op.drop_table("ledger_nodes")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_leaf_key"))

    op.drop_table("ledger_entries")
    op.drop_table("ledger_checkpoints")
    with op.batch_alter_table("ledger_alarms", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_alarms_at")

    op.drop_table("ledger_alarms")
