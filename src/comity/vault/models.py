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

The lineage of items is append-only as well: ``vault_derivations`` names the parent and
the operation of a derived copy (redacted, cropped, transcoded, translated);
``vault_groups`` and ``vault_group_members`` keep items that belong together (the HTML,
screenshot and WACZ archive of one web capture); ``vault_deletion_requests`` and
``vault_tombstones`` are the legal deletion process, the tombstone keeping the hashes of
what was removed; ``vault_item_timestamps`` holds RFC 3161 tokens over items' SHA-256.
``vault_uploads`` is the only mutable table here: the state of a resumable web upload,
staging data that is not evidence until it is ingested.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, LargeBinary, String, Text
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


class VaultDerivation(Base):
    """A derived copy: ``item_id`` was made from ``parent_id`` by ``operation``."""

    __tablename__ = "vault_derivations"

    item_id: Mapped[str] = mapped_column(String(36), ForeignKey("vault_items.id"), primary_key=True)
    parent_id: Mapped[str] = mapped_column(String(36), ForeignKey("vault_items.id"), index=True)
    operation: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    ledger_index: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_entries.idx"))


class VaultGroup(Base):
    """Items kept together as one (``kind`` ``web_capture``: a page's URL, capture time,
    HTML, screenshot and WACZ archive)."""

    __tablename__ = "vault_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_item_id)
    kind: Mapped[str] = mapped_column(String(32))
    url: Mapped[str | None] = mapped_column(String(2048))
    captured_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    title: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ledger_index: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_entries.idx"))


class VaultGroupMember(Base):
    __tablename__ = "vault_group_members"

    group_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("vault_groups.id"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("vault_items.id"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(32))


class VaultDeletionRequest(Base):
    """A request to delete an item under a legal process: the grounds and the reference
    (a court order, a data-protection decision), by whom and when."""

    __tablename__ = "vault_deletion_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(36), ForeignKey("vault_items.id"), index=True)
    grounds: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(String(200))
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ledger_index: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_entries.idx"))


class VaultDeletionClosure(Base):
    """A deletion request closed without deleting: ``withdrawn`` by its requester or
    ``rejected`` by another person, with the reason, by whom and when."""

    __tablename__ = "vault_deletion_closures"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("vault_deletion_requests.id"), primary_key=True
    )
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    closed_by: Mapped[str] = mapped_column(String(100))
    closed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ledger_index: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_entries.idx"))


class VaultTombstone(Base):
    """What is left of an item deleted under a legal process: its hashes and the request
    that was approved (by someone other than the requester)."""

    __tablename__ = "vault_tombstones"

    item_id: Mapped[str] = mapped_column(String(36), ForeignKey("vault_items.id"), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("vault_deletion_requests.id"), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    blob_name: Mapped[str] = mapped_column(String(71))
    approved_by: Mapped[str] = mapped_column(String(100))
    deleted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ledger_index: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_entries.idx"))


class VaultItemTimestamp(Base):
    """An RFC 3161 time-stamp token whose message imprint is the item's plaintext SHA-256,
    verified before it was kept: anyone holding the file can check it with
    ``openssl ts -verify -data FILE``."""

    __tablename__ = "vault_item_timestamps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(36), ForeignKey("vault_items.id"), index=True)
    authority: Mapped[str] = mapped_column(String(500))
    token: Mapped[bytes] = mapped_column(LargeBinary)
    gen_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class VaultUpload(Base):
    """A resumable upload in progress: ``received`` bytes of ``size`` are staged so far, in
    order. Mutable (it is not evidence until it is ingested into ``item_id``)."""

    __tablename__ = "vault_uploads"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_item_id)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    acquisition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")
    item_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("vault_items.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
