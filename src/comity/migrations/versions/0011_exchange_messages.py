"""Messages between nodes: conversations and each peer's place in them, the outbox with
one delivery per recipient, the inbox, and the signed receipts issued and received
(append-only).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from comity.db import UTCDateTime
from comity.migrations import append_only

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_conversations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("participants", sa.Text(), nullable=False),
        sa.Column("started_by", sa.String(length=100), nullable=False),
        sa.Column("next_sequence", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_conversations")),
    )
    op.create_table(
        "exchange_sequences",
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("next_expected", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["exchange_conversations.id"],
            name=op.f("fk_exchange_sequences_conversation_id_exchange_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["sender"],
            ["exchange_peers.node_id"],
            name=op.f("fk_exchange_sequences_sender_exchange_peers"),
        ),
        sa.PrimaryKeyConstraint("conversation_id", "sender", name=op.f("pk_exchange_sequences")),
    )
    op.create_table(
        "exchange_outbox",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("message_type", sa.String(length=64), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("envelope_sha256", sa.String(length=64), nullable=False),
        sa.Column("own_copy", sa.LargeBinary(), nullable=False),
        sa.Column("sent_by", sa.String(length=100), nullable=False),
        sa.Column("resent_from", sa.String(length=36), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["exchange_conversations.id"],
            name=op.f("fk_exchange_outbox_conversation_id_exchange_conversations"),
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_exchange_outbox")),
    )
    op.create_index(
        op.f("ix_exchange_outbox_conversation_id"),
        "exchange_outbox",
        ["conversation_id"],
        unique=False,
    )
    op.create_table(
        "exchange_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("recipient", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("deadline", UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("retrieved_at", UTCDateTime(), nullable=True),
        sa.Column("failed_at", UTCDateTime(), nullable=True),
        sa.Column("failure", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["exchange_outbox.message_id"],
            name=op.f("fk_exchange_deliveries_message_id_exchange_outbox"),
        ),
        sa.ForeignKeyConstraint(
            ["recipient"],
            ["exchange_peers.node_id"],
            name=op.f("fk_exchange_deliveries_recipient_exchange_peers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_deliveries")),
        sa.UniqueConstraint(
            "message_id", "recipient", name=op.f("uq_exchange_deliveries_message_id")
        ),
    )
    op.create_index(
        "ix_exchange_deliveries_due",
        "exchange_deliveries",
        ["state", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "exchange_inbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("message_type", sa.String(length=64), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("envelope_sha256", sa.String(length=64), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("retrieved_at", UTCDateTime(), nullable=True),
        sa.Column("retrieved_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["exchange_conversations.id"],
            name=op.f("fk_exchange_inbox_conversation_id_exchange_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["sender"],
            ["exchange_peers.node_id"],
            name=op.f("fk_exchange_inbox_sender_exchange_peers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_inbox")),
        sa.UniqueConstraint("sender", "message_id", name=op.f("uq_exchange_inbox_sender")),
    )
    op.create_index(
        "ix_exchange_inbox_conversation",
        "exchange_inbox",
        ["conversation_id", "sender", "sequence"],
        unique=False,
    )
    op.create_table(
        "exchange_receipts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("receiver", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("stored_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_receipts")),
        sa.UniqueConstraint(
            "message_id",
            "sender",
            "receiver",
            "kind",
            name=op.f("uq_exchange_receipts_message_id"),
        ),
    )
    append_only.install("exchange_receipts")


def downgrade() -> None:
    append_only.remove("exchange_receipts")
    op.drop_table("exchange_receipts")
    op.drop_index("ix_exchange_inbox_conversation", table_name="exchange_inbox")
    op.drop_table("exchange_inbox")
    op.drop_index("ix_exchange_deliveries_due", table_name="exchange_deliveries")
    op.drop_table("exchange_deliveries")
    op.drop_index(op.f("ix_exchange_outbox_conversation_id"), table_name="exchange_outbox")
    op.drop_table("exchange_outbox")
    op.drop_table("exchange_sequences")
    op.drop_table("exchange_conversations")
