"""Tables of large payloads received from peer nodes.

``exchange_incoming_payloads`` holds one row per payload a peer has offered this node:
the signed manifest exactly as it came, the figures read from it, what its sealed
contents say it holds (the plaintext's SHA-256 and size, which only the recipients
learn), and where it stands: ``receiving`` until every chunk is held and the whole
ciphertext has been checked, then ``complete`` (its file is then
``<home>/exchange/incoming/<sha256>``), or ``expired`` if its manifest lapsed first.

``exchange_incoming_chunks`` has one row per chunk held. A row is committed only after
the chunk's bytes were checked against the manifest and written, at their offset, and
made durable (``fsync``): the rows are the truth about what has arrived, and a process
stopped between the write and the commit merely has that chunk sent again.

The sender keeps no table: what it sends is a staged file and its manifest
(:mod:`comity.exchange.payloads`), and how far a transfer got is the receiver's answer.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from comity.db import Base, UTCDateTime, utcnow


class PayloadStatus(StrEnum):
    RECEIVING = "receiving"
    COMPLETE = "complete"
    EXPIRED = "expired"


class IncomingPayload(Base):
    __tablename__ = "exchange_incoming_payloads"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sender: Mapped[str] = mapped_column(String(100))
    manifest: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    chunk_size: Mapped[int] = mapped_column(Integer)
    chunks: Mapped[int] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(String(64))
    content_size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=PayloadStatus.RECEIVING)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    offered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)

    __table_args__ = (Index(None, "sender", "content_sha256"),)


class IncomingChunk(Base):
    __tablename__ = "exchange_incoming_chunks"

    payload_id: Mapped[str] = mapped_column(
        ForeignKey("exchange_incoming_payloads.id"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
