"""The evidence vault's metadata: what was read from each file at ingest (EXIF and GPS,
capture time, PDF properties, durations, perceptual hash), one append-only row per item.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 06:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from comity.db import UTCDateTime
from comity.migrations import append_only

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vault_metadata",
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("extracted", sa.JSON(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("perceptual_hash", sa.String(length=16), nullable=True),
        sa.Column("gps_latitude", sa.Float(), nullable=True),
        sa.Column("gps_longitude", sa.Float(), nullable=True),
        sa.Column("captured_at", UTCDateTime(), nullable=True),
        sa.Column("extracted_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["vault_items.id"], name=op.f("fk_vault_metadata_item_id_vault_items")
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_vault_metadata")),
    )
    with op.batch_alter_table("vault_metadata", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vault_metadata_perceptual_hash"), ["perceptual_hash"], unique=False
        )
    append_only.install("vault_metadata")


def downgrade() -> None:
    append_only.remove("vault_metadata")
    with op.batch_alter_table("vault_metadata", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_metadata_perceptual_hash"))
    op.drop_table("vault_metadata")
