"""The exchange's trust list: peer nodes, named by their descriptors' node ids, with
their status and latest signed descriptor, and every public key they ever listed with its
validity window.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 03:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from comity.db import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_peers",
        sa.Column("node_id", sa.String(length=100), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("descriptor", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.String(length=500), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_exchange_peers_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_exchange_peers")),
        sa.UniqueConstraint("organisation_id", name=op.f("uq_exchange_peers_organisation_id")),
    )
    op.create_table(
        "exchange_peer_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("node_id", sa.String(length=100), nullable=False),
        sa.Column("key_id", sa.String(length=48), nullable=False),
        sa.Column("use", sa.String(length=16), nullable=False),
        sa.Column("public", sa.LargeBinary(length=32), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["exchange_peers.node_id"],
            name=op.f("fk_exchange_peer_keys_node_id_exchange_peers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_peer_keys")),
        sa.UniqueConstraint("node_id", "key_id", name=op.f("uq_exchange_peer_keys_node_id")),
    )
    op.create_index(
        op.f("ix_exchange_peer_keys_node_id"), "exchange_peer_keys", ["node_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_exchange_peer_keys_node_id"), table_name="exchange_peer_keys")
    op.drop_table("exchange_peer_keys")
    op.drop_table("exchange_peers")
