"""Tables of the evidence vault.

``vault_items`` is the index of the originals the node holds: one row per distinct
plaintext (its SHA-256 is unique), naming the encrypted blob that holds it, the
acquisition details the person supplied, who added it and the ledger entry of its
ingest. ``vault_custody`` is the custody chain: one row per action on an item (ingest,
download …), each with the index of its ledger entry. Both are append-only (database
triggers): originals are write-once, and a later legal deletion will add a tombstone
row rather than remove one. ``vault_metadata`` holds what was read from each file at
ingest (:mod:`comity.vault.metadata`): one row per item, append-only too, with the
perceptual hash, GPS position and capture time also in columns of their own so they can
be searched. The blobs themselves live in the blob store
(:mod:`comity.vault.blobs`), not in the database.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from comity.db import Base, UTCDateTime, utcnow


def new_item_id() -> str:
    return str(uuid.uuid4())


class VaultItem(Base):
    __tablename__ = "vault_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_item_id)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    original_name: Mapped[str] = mapped_column(String(255))
    blob_name: Mapped[str] = mapped_column(String(71))
    blob_size: Mapped[int] = mapped_column(BigInteger)
    acquisition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ledger_index: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_entries.idx"))


class VaultCustody(Base):
    __tablename__ = "vault_custody"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(36), ForeignKey("vault_items.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ledger_index: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_entries.idx"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class VaultMetadata(Base):
    __tablename__ = "vault_metadata"

    item_id: Mapped[str] = mapped_column(String(36), ForeignKey("vault_items.id"), primary_key=True)
    extracted: Mapped[dict[str, Any]] = mapped_column(JSON)
    versions: Mapped[dict[str, str]] = mapped_column(JSON)
    perceptual_hash: Mapped[str | None] = mapped_column(String(16), index=True)
    gps_latitude: Mapped[float | None] = mapped_column(Float)
    gps_longitude: Mapped[float | None] = mapped_column(Float)
    captured_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    extracted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
