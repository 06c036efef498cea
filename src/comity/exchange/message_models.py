"""Tables of messages between nodes: the outbox, the inbox, conversations and receipts.

- ``exchange_conversations``: one row per conversation this node takes part in, with its
  fixed set of other participants and the next sequence number of *our* messages in it.
- ``exchange_sequences``: per conversation and peer that sends in it, the next
  sequence number expected from that peer; messages ahead of it are held.
- ``exchange_outbox``: one row per message this node sent: the sealed envelope exactly as
  it leaves (encrypted to the recipients), its SHA-256, and a copy of the inner part
  encrypted to this node's own key, so that a failed message can be sent anew.
- ``exchange_deliveries``: one row per (message, recipient): where its delivery stands,
  the attempts made and when the next is due.
- ``exchange_inbox``: one row per message received, unique per (sender, message id); the
  envelope is kept as received, still encrypted to this node's key, and opened on reading.
- ``exchange_receipts``: every signed receipt this node issued (as receiver) or received
  (as sender), byte for byte. Append-only: a receipt is evidence.

The states and their meaning are in :mod:`comity.exchange.outbox` and
:mod:`comity.exchange.inbox`; the receipt format in :mod:`comity.exchange.receipts`.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from comity.db import Base, UTCDateTime, utcnow


class DeliveryState(StrEnum):
    """Where the delivery of one message to one recipient stands. ``failed`` is final."""

    QUEUED = "queued"
    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    RETRIEVED = "retrieved"
    FAILED = "failed"


class InboxState(StrEnum):
    """A received message is ``held`` until the ones before it in its conversation have
    arrived, then ``delivered``."""

    HELD = "held"
    DELIVERED = "delivered"


class ReceiptDirection(StrEnum):
    ISSUED = "issued"
    RECEIVED = "received"


class ExchangeConversation(Base):
    __tablename__ = "exchange_conversations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    participants: Mapped[str] = mapped_column(Text)
    started_by: Mapped[str] = mapped_column(String(100))
    next_sequence: Mapped[int] = mapped_column(BigInteger, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExchangeSequence(Base):
    __tablename__ = "exchange_sequences"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("exchange_conversations.id"), primary_key=True
    )
    sender: Mapped[str] = mapped_column(ForeignKey("exchange_peers.node_id"), primary_key=True)
    next_expected: Mapped[int] = mapped_column(BigInteger, default=1)


class ExchangeOutboxMessage(Base):
    __tablename__ = "exchange_outbox"

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("exchange_conversations.id"), index=True
    )
    sequence: Mapped[int] = mapped_column(BigInteger)
    message_type: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    own_copy: Mapped[bytes] = mapped_column(LargeBinary)
    sent_by: Mapped[str] = mapped_column(String(100))
    resent_from: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ExchangeDelivery(Base):
    __tablename__ = "exchange_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("exchange_outbox.message_id"))
    recipient: Mapped[str] = mapped_column(ForeignKey("exchange_peers.node_id"))
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    deadline: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    retrieved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    failure: Mapped[str] = mapped_column(String(40), default="")

    __table_args__ = (
        UniqueConstraint("message_id", "recipient"),
        Index("ix_exchange_deliveries_due", "state", "next_attempt_at"),
    )


class ExchangeInboxMessage(Base):
    __tablename__ = "exchange_inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(36))
    sender: Mapped[str] = mapped_column(ForeignKey("exchange_peers.node_id"))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("exchange_conversations.id"))
    sequence: Mapped[int] = mapped_column(BigInteger)
    message_type: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default=InboxState.HELD)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    retrieved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    retrieved_by: Mapped[str] = mapped_column(String(100), default="")

    __table_args__ = (
        UniqueConstraint("sender", "message_id"),
        Index("ix_exchange_inbox_conversation", "conversation_id", "sender", "sequence"),
    )


class ExchangeReceipt(Base):
    __tablename__ = "exchange_receipts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(36))
    sender: Mapped[str] = mapped_column(String(100))
    receiver: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8))
    document: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    stored_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("message_id", "sender", "receiver", "kind"),)
