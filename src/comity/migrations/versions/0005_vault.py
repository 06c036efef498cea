"""The evidence vault: its items (the originals held, one per plaintext SHA-256) and their
custody chain. Both append-only: originals are write-once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 06:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from comity.db import UTCDateTime
from comity.migrations import append_only

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("vault_items", "vault_custody")


def upgrade() -> None:
    op.create_table(
        "vault_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("blob_name", sa.String(length=71), nullable=False),
        sa.Column("blob_size", sa.BigInteger(), nullable=False),
        sa.Column("acquisition", sa.JSON(), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_index"],
            ["ledger_entries.idx"],
            name=op.f("fk_vault_items_ledger_index_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_items")),
        sa.UniqueConstraint("sha256", name=op.f("uq_vault_items_sha256")),
    )
    op.create_table(
        "vault_custody",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["vault_items.id"], name=op.f("fk_vault_custody_item_id_vault_items")
        ),
        sa.ForeignKeyConstraint(
            ["ledger_index"],
            ["ledger_entries.idx"],
            name=op.f("fk_vault_custody_ledger_index_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_custody")),
    )
    with op.batch_alter_table("vault_custody", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vault_custody_item_id"), ["item_id"], unique=False)
    for table in APPEND_ONLY:
        append_only.install(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        append_only.remove(table)
    with op.batch_alter_table("vault_custody", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_custody_item_id"))
    op.drop_table("vault_custody")
    op.drop_table("vault_items")
