"""Step 5 of ingest: the rows an item is recorded with, in the caller's unit of work.

:func:`record_items` adds, for each file already encrypted into a durable blob
(:class:`Prepared`): the ledger event ``evidence.ingest`` (digests and size in the clear;
the original name, the acquisition details and the metadata row only as salted
commitments), the item, its metadata row, its first custody row and an audit record —
and, for a derived copy, its :class:`Lineage`. The caller commits
(:mod:`comity.vault.ingest`).

The commitment named ``metadata`` is to :func:`metadata_text` of the row, so that a
metadata row changed later — past the database's append-only triggers — no longer opens
it: :func:`metadata_problem` says so for the integrity checks.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.audit.services import record
from comity.identity.permissions import Actor
from comity.ledger.events import JsonValue, actor_reference, commitment, record_event
from comity.ledger.models import LedgerEntry, LedgerSalt
from comity.vault.metadata import Metadata
from comity.vault.models import VaultCustody, VaultItem, VaultMetadata


class Lineage(Protocol):
    """A derived copy's link to its parent, recorded with the item in its unit of work
    (:class:`comity.vault.derive.Derivation`)."""

    @property
    def parent_id(self) -> str: ...

    @property
    def parent_sha256(self) -> str: ...

    @property
    def operation(self) -> str: ...

    def record(self, session: Session, actor: Actor, item_id: str, sha256: str) -> None:
        """Add the lineage's rows and ledger event, or raise if the parent can no longer
        have a derived copy."""


@dataclass(frozen=True)
class Prepared:
    """A file encrypted into a durable blob and read for metadata, not yet recorded."""

    item_id: str
    name: str
    details: dict[str, str]
    sha256: str
    size: int
    blob_name: str
    blob_size: int
    media_type: str
    metadata: Metadata
    near: list[dict[str, str | int]]


def metadata_row(
    item_id: str, metadata: Metadata, near: list[dict[str, str | int]]
) -> VaultMetadata:
    return VaultMetadata(
        item_id=item_id,
        extracted=metadata.to_json() | {"near_duplicates": near},
        versions=dict(metadata.versions),
        perceptual_hash=metadata.perceptual_hash,
        gps_latitude=None if metadata.gps is None else metadata.gps.latitude,
        gps_longitude=None if metadata.gps is None else metadata.gps.longitude,
        captured_at=metadata.captured_utc,
    )


def metadata_text(row: VaultMetadata) -> str:
    """The metadata row as the text its ingest entry commits to: every column but the
    item's id and the time of extraction, as JSON with sorted keys."""
    captured = row.captured_at
    return json.dumps(
        {
            "extracted": row.extracted,
            "versions": row.versions,
            "perceptual_hash": row.perceptual_hash,
            "gps_latitude": row.gps_latitude,
            "gps_longitude": row.gps_longitude,
            "captured_at": None if captured is None else captured.isoformat(),
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def metadata_problem(session: Session, item: VaultItem) -> str | None:
    """What is wrong with ``item``'s metadata row, if it no longer opens the commitment
    of its ingest entry (``None`` too for an item recorded before that commitment)."""
    entry = session.get(LedgerEntry, item.ledger_index)
    salt = session.scalar(select(LedgerSalt.salt).where(LedgerSalt.idx == item.ledger_index))
    committed = None if entry is None else json.loads(entry.entry).get("commitments", {})
    if not committed or "metadata" not in committed or salt is None:
        return None
    row = session.get(VaultMetadata, item.id)
    where = f"ledger entry {item.ledger_index}"
    if row is None:
        return f"The metadata row is missing; {where} commits to one."
    if not hmac.compare_digest(
        commitment(salt, "metadata", metadata_text(row)), committed["metadata"]
    ):
        return f"The metadata row no longer opens the commitment of {where}: it was changed."
    return None


def event_fields(
    sha256: str, blob_name: str, size: int, media_type: str, derivation: Lineage | None
) -> tuple[dict[str, str], dict[str, JsonValue]]:
    """The digests and data of the ``evidence.ingest`` event; a derived copy's also name
    its parent and the operation, so that the item's own ingest entry vouches for them."""
    digests = {"sha256": sha256, "blob_sha256": blob_name.removeprefix("sha256/")}
    data: dict[str, JsonValue] = {"size": size, "media_type": media_type}
    if derivation is not None:
        digests["parent_sha256"] = derivation.parent_sha256
        data |= {"derived_from": derivation.parent_id, "operation": derivation.operation}
    return digests, data


def record_items(
    session: Session, actor: Actor, items: Sequence[tuple[Prepared, Lineage | None]]
) -> None:
    """Step 5's rows for each of ``items`` (a prepared file and, for a derived copy, its
    lineage), in ``session``'s unit of work: the ledger events and items first, flushed
    once, then the rows that name the items."""
    indexes: list[int] = []
    rows: list[VaultMetadata] = []
    for prepared, derivation in items:
        row = metadata_row(prepared.item_id, prepared.metadata, prepared.near)
        rows.append(row)
        personal: Mapping[str, str] = (
            {"original_name": prepared.name} | prepared.details | {"metadata": metadata_text(row)}
        )
        digests, data = event_fields(
            prepared.sha256, prepared.blob_name, prepared.size, prepared.media_type, derivation
        )
        event = record_event(
            session,
            actor,
            "evidence.ingest",
            subject_type="vault_item",
            subject_id=prepared.item_id,
            digests=digests,
            personal=personal,
            data=data,
        )
        indexes.append(event.index)
        session.add(
            VaultItem(
                id=prepared.item_id,
                sha256=prepared.sha256,
                size=prepared.size,
                media_type=prepared.media_type,
                original_name=prepared.name,
                blob_name=prepared.blob_name,
                blob_size=prepared.blob_size,
                acquisition=prepared.details,
                added_by=actor_reference(actor),
                ledger_index=event.index,
            )
        )
    session.flush()
    for (prepared, derivation), index, row in zip(items, indexes, rows, strict=True):
        session.add(row)
        session.add(
            VaultCustody(
                item_id=prepared.item_id,
                action="ingest",
                actor=actor.label[:100],
                ledger_index=index,
                detail={"blob": prepared.blob_name},
            )
        )
        if derivation is not None:
            derivation.record(session, actor, prepared.item_id, prepared.sha256)
        record(
            session,
            actor,
            "evidence.add",
            target_type="vault_item",
            target_id=prepared.item_id,
            detail={"sha256": prepared.sha256, "size": prepared.size, "ledger": index},
        )
