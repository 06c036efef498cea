"""Tables of the ledger.

``ledger_entries`` holds every leaf (index, canonical JSON entry, leaf hash);
``ledger_nodes`` the hashes of the perfect subtrees above the leaves (level ≥ 1), so an
inclusion or consistency proof, or the root at any past size, is one indexed read of
O(log n) rows. ``ledger_checkpoints`` keeps the signed checkpoints, with their witnesses'
``ledger_cosignatures`` and, when an RFC 3161 authority is configured, the
``ledger_timestamps`` tokens over their signed notes. Entries, nodes, checkpoints,
cosignatures, time-stamps and alarms are append-only (database triggers). Salts of the
commitments inside entries live apart in ``ledger_salts``: deleting a salt is how a
commitment is made unopenable, without touching the log. ``ledger_followed_logs`` is the
witness side, and changes: the other nodes' logs this node checks and cosigns, each with
the largest checkpoint it verified.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from comity.db import Base, UTCDateTime, utcnow

# A 64-bit integer key that is SQLite's rowid: ``BIGINT PRIMARY KEY`` there would be a
# second B-tree beside the table, paid for on every append.
LogIndex = BigInteger().with_variant(Integer(), "sqlite")


def leaf_key(leaf_hash: bytes) -> int:
    """The first eight bytes of a leaf hash as a signed integer: the indexed lookup key.

    Indexing 8 bytes instead of 32 keeps the only randomly ordered index of the ledger a
    quarter of the size; the full hash is compared on the rows the key finds."""
    return int.from_bytes(leaf_hash[:8], "big", signed=True)


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"

    idx: Mapped[int] = mapped_column(LogIndex, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    leaf_key: Mapped[int] = mapped_column(BigInteger, index=True)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(64))


NODE_LEVEL_SHIFT = 48  # room for 2**48 leaves per level


def node_key(level: int, index: int) -> int:
    """One integer per perfect subtree, so a proof's nodes are one ``IN (...)`` on the key."""
    return (level << NODE_LEVEL_SHIFT) | index


class LedgerNode(Base):
    """The hash of the perfect subtree ``(level, idx)``; ``key`` is :func:`node_key`."""

    __tablename__ = "ledger_nodes"

    key: Mapped[int] = mapped_column(LogIndex, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerSalt(Base):
    __tablename__ = "ledger_salts"

    idx: Mapped[int] = mapped_column(
        LogIndex, ForeignKey("ledger_entries.idx"), primary_key=True, autoincrement=False
    )
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerCheckpoint(Base):
    """A signed tree head of this node's own ledger."""

    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    size: Mapped[int] = mapped_column(BigInteger, unique=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerCosignature(Base):
    """A witness's cosignature of one of our checkpoints."""

    __tablename__ = "ledger_cosignatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("ledger_checkpoints.id"), index=True)
    witness: Mapped[str] = mapped_column(String(200))
    signature_line: Mapped[str] = mapped_column(Text)
    cosigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerWitness(Base):
    """A peer whose cosignatures of our checkpoints we ask for and accept."""

    __tablename__ = "ledger_witnesses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    vkey: Mapped[str] = mapped_column(String(400))
    url: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerAlarm(Base):
    """Evidence that a log was seen to fork or rewrite its history."""

    __tablename__ = "ledger_alarms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    origin: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    evidence: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_ledger_alarms_at", "at"),)


class LedgerFollowedLog(Base):
    """Another node's log that this node witnesses, and the largest checkpoint of it that
    this node verified and cosigned (size 0 and the empty root before the first)."""

    __tablename__ = "ledger_followed_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(String(300), unique=True)
    vkey: Mapped[str] = mapped_column(String(400))
    url: Mapped[str] = mapped_column(String(500))
    last_size: Mapped[int] = mapped_column(BigInteger, default=0)
    last_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    last_note: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerTimestamp(Base):
    """An RFC 3161 time-stamp token over the exact bytes of one of our checkpoints' signed
    note (UTF-8), verified against the configured roots before it was kept."""

    __tablename__ = "ledger_timestamps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("ledger_checkpoints.id"), index=True)
    authority: Mapped[str] = mapped_column(String(500))
    token: Mapped[bytes] = mapped_column(LargeBinary)
    """The DER TimeStampToken, byte for byte as the authority signed it."""
    gen_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    """The token's genTime: when the authority saw the note's hash."""
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
