"""Large payloads received from peers: one row per offered payload with its signed
manifest and where it stands, and one row per chunk held (committed only once the chunk
is on disk).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from comity.db import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_incoming_payloads",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("manifest", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("content_size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("offered_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_incoming_payloads")),
    )
    op.create_index(
        op.f("ix_exchange_incoming_payloads_sender"),
        "exchange_incoming_payloads",
        ["sender", "content_sha256"],
        unique=False,
    )
    op.create_table(
        "exchange_incoming_chunks",
        sa.Column("payload_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payload_id"],
            ["exchange_incoming_payloads.id"],
            name=op.f("fk_exchange_incoming_chunks_payload_id_exchange_incoming_payloads"),
        ),
        sa.PrimaryKeyConstraint("payload_id", "number", name=op.f("pk_exchange_incoming_chunks")),
    )


def downgrade() -> None:
    op.drop_table("exchange_incoming_chunks")
    op.drop_index(
        op.f("ix_exchange_incoming_payloads_sender"), table_name="exchange_incoming_payloads"
    )
    op.drop_table("exchange_incoming_payloads")
