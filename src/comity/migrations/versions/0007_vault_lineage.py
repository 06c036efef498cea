"""The vault's lineage and process tables: derived copies, item groups (web captures),
legal deletion requests with their closures (withdrawn or rejected) and tombstones,
RFC 3161 tokens over items, all append-only; and the mutable state of resumable web
uploads.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 07:43:06.678318
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from comity.db import UTCDateTime
from comity.migrations import append_only

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = (
    "vault_derivations",
    "vault_groups",
    "vault_group_members",
    "vault_deletion_requests",
    "vault_deletion_closures",
    "vault_tombstones",
    "vault_item_timestamps",
)


def upgrade() -> None:
    op.create_table(
        "vault_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("captured_at", UTCDateTime(), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_index"],
            ["ledger_entries.idx"],
            name=op.f("fk_vault_groups_ledger_index_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_groups")),
    )
    op.create_table(
        "vault_deletion_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("grounds", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["vault_items.id"],
            name=op.f("fk_vault_deletion_requests_item_id_vault_items"),
        ),
        sa.ForeignKeyConstraint(
            ["ledger_index"],
            ["ledger_entries.idx"],
            name=op.f("fk_vault_deletion_requests_ledger_index_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_deletion_requests")),
    )
    with op.batch_alter_table("vault_deletion_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vault_deletion_requests_item_id"), ["item_id"], unique=False
        )

    op.create_table(
        "vault_deletion_closures",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("closed_by", sa.String(length=100), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_index"],
            ["ledger_entries.idx"],
            name=op.f("fk_vault_deletion_closures_ledger_index_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["vault_deletion_requests.id"],
            name=op.f("fk_vault_deletion_closures_request_id_vault_deletion_requests"),
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_vault_deletion_closures")),
    )
    op.create_table(
        "vault_derivations",
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("parent_id", sa.String(length=36), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["vault_items.id"], name=op.f("fk_vault_derivations_item_id_vault_items")
        ),
        sa.ForeignKeyConstraint(
            ["ledger_index"],
            ["ledger_entries.idx"],
            name=op.f("fk_vault_derivations_ledger_index_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["vault_items.id"],
            name=op.f("fk_vault_derivations_parent_id_vault_items"),
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_vault_derivations")),
    )
    with op.batch_alter_table("vault_derivations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vault_derivations_parent_id"), ["parent_id"], unique=False
        )

    op.create_table(
        "vault_group_members",
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["vault_groups.id"],
            name=op.f("fk_vault_group_members_group_id_vault_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["vault_items.id"], name=op.f("fk_vault_group_members_item_id_vault_items")
        ),
        sa.PrimaryKeyConstraint("group_id", "item_id", name=op.f("pk_vault_group_members")),
    )
    with op.batch_alter_table("vault_group_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vault_group_members_item_id"), ["item_id"], unique=False
        )

    op.create_table(
        "vault_item_timestamps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("authority", sa.String(length=500), nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=False),
        sa.Column("gen_time", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["vault_items.id"],
            name=op.f("fk_vault_item_timestamps_item_id_vault_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_item_timestamps")),
    )
    with op.batch_alter_table("vault_item_timestamps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vault_item_timestamps_item_id"), ["item_id"], unique=False
        )

    op.create_table(
        "vault_uploads",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("acquisition", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["vault_items.id"], name=op.f("fk_vault_uploads_item_id_vault_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_uploads")),
    )
    with op.batch_alter_table("vault_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vault_uploads_owner"), ["owner"], unique=False)

    op.create_table(
        "vault_tombstones",
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob_name", sa.String(length=71), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["vault_items.id"], name=op.f("fk_vault_tombstones_item_id_vault_items")
        ),
        sa.ForeignKeyConstraint(
            ["ledger_index"],
            ["ledger_entries.idx"],
            name=op.f("fk_vault_tombstones_ledger_index_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["vault_deletion_requests.id"],
            name=op.f("fk_vault_tombstones_request_id_vault_deletion_requests"),
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_vault_tombstones")),
        sa.UniqueConstraint("request_id", name=op.f("uq_vault_tombstones_request_id")),
    )

    for table in APPEND_ONLY:
        append_only.install(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        append_only.remove(table)
    op.drop_table("vault_tombstones")
    with op.batch_alter_table("vault_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_uploads_owner"))

    op.drop_table("vault_uploads")
    with op.batch_alter_table("vault_item_timestamps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_item_timestamps_item_id"))

    op.drop_table("vault_item_timestamps")
    with op.batch_alter_table("vault_group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_group_members_item_id"))

    op.drop_table("vault_group_members")
    with op.batch_alter_table("vault_derivations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_derivations_parent_id"))

    op.drop_table("vault_derivations")
    with op.batch_alter_table("vault_deletion_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_deletion_requests_item_id"))

    op.drop_table("vault_deletion_closures")
    op.drop_table("vault_deletion_requests")
    op.drop_table("vault_groups")
