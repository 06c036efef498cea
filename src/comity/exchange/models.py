"""Tables of the exchange: the trust list of peer nodes and their public keys.

``exchange_peers`` holds one row per peer node, named by the node id of its descriptor:
its organisation (a row of ``organisations``), its trust status, the latest descriptor it
sent (the signed bytes, as received) with that descriptor's fingerprint and times.
``exchange_peer_keys`` keeps every public key a peer ever listed, with its validity window,
so that a message signed before a key rotation still verifies after it.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from comity.db import Base, UTCDateTime, utcnow
from comity.i18n import mark


class PeerStatus(StrEnum):
    """Where a peer stands: added and waiting for its fingerprint to be compared
    (``pending``), trusted (``confirmed``), paused (``suspended``), or, for good,
    ``revoked``."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


STATUS_LABELS: dict[str, str] = {
    PeerStatus.PENDING: mark("Pending confirmation"),
    PeerStatus.CONFIRMED: mark("Confirmed"),
    PeerStatus.SUSPENDED: mark("Suspended"),
    PeerStatus.REVOKED: mark("Revoked"),
}


class ExchangePeer(Base):
    __tablename__ = "exchange_peers"

    node_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PeerStatus.PENDING)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    descriptor: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(500))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class ExchangePeerKey(Base):
    __tablename__ = "exchange_peer_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("exchange_peers.node_id"), index=True)
    key_id: Mapped[str] = mapped_column(String(48))
    use: Mapped[str] = mapped_column(String(16))
    public: Mapped[bytes] = mapped_column(LargeBinary(32))
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)

    __table_args__ = (UniqueConstraint("node_id", "key_id"),)


# The tables of messages live in their own module; importing it here registers them
# wherever the trust list's tables are (the migrations' environment, the tests).
from comity.exchange import message_models as _message_models  # noqa: E402, F401
