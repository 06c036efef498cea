"""Shapes of the ledger's JSON API. Hashes, roots and entries are standard base64, as in
checkpoints; sizes count entries, indices start at 0."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import BaseModel, Field

from comity.ledger.cosignatures import MAX_COSIGNATURE_LINE, ReceivedCosignature
from comity.ledger.models import LedgerAlarm, LedgerCheckpoint, LedgerEntry, LedgerTimestamp
from comity.ledger.note import MAX_NOTE_BYTES, b64encode
from comity.ledger.services import (
    ConsistencyProof,
    InclusionProof,
    LedgerStatus,
    StoredCheckpoint,
)


class CheckpointOut(BaseModel):
    size: int
    root: str
    created_at: dt.datetime
    note: str

    @classmethod
    def of(cls, row: LedgerCheckpoint) -> CheckpointOut:
        return cls(
            size=row.size, root=b64encode(row.root), created_at=row.created_at, note=row.note
        )


class TimestampOut(BaseModel):
    authority: str = Field(description="The RFC 3161 authority's URL.")
    gen_time: dt.datetime = Field(description="The token's genTime, in UTC.")
    received_at: dt.datetime
    token: str = Field(
        description="The DER TimeStampToken in standard base64; it covers the SHA-256 of the "
        "checkpoint's note (UTF-8, without cosignatures)."
    )

    @classmethod
    def of(cls, row: LedgerTimestamp) -> TimestampOut:
        return cls(
            authority=row.authority,
            gen_time=row.gen_time,
            received_at=row.received_at,
            token=b64encode(row.token),
        )


class StoredCheckpointOut(CheckpointOut):
    timestamps: list[TimestampOut] = Field(description="Its RFC 3161 time-stamps, oldest first.")

    @classmethod
    def of_stored(cls, stored: StoredCheckpoint) -> StoredCheckpointOut:
        row = stored.checkpoint
        return cls(
            size=row.size,
            root=b64encode(row.root),
            created_at=row.created_at,
            note=row.note,
            timestamps=[TimestampOut.of(stamp) for stamp in stored.timestamps],
        )


class LatestCheckpointOut(BaseModel):
    size: int
    root: str
    created_at: dt.datetime
    cosignatures: int
    timestamps: int = Field(description="How many RFC 3161 time-stamps it has.")


class LedgerStatusOut(BaseModel):
    origin: str
    vkey: str
    witness_vkey: str = Field(
        description="The key this node cosigns other logs with, for their 'witness add'."
    )
    size: int
    root: str
    latest_checkpoint: LatestCheckpointOut | None
    witnesses: int
    alarms: int

    @classmethod
    def of(cls, status: LedgerStatus) -> LedgerStatusOut:
        latest = status.latest_checkpoint
        return cls(
            origin=status.origin,
            vkey=status.vkey,
            witness_vkey=status.witness_vkey,
            size=status.size,
            root=b64encode(status.root),
            latest_checkpoint=LatestCheckpointOut(
                size=latest.size,
                root=b64encode(latest.root),
                created_at=latest.created_at,
                cosignatures=status.cosignatures,
                timestamps=status.timestamps,
            )
            if latest is not None
            else None,
            witnesses=status.witnesses,
            alarms=status.alarms,
        )


def event_time(entry: bytes) -> dt.datetime | None:
    """When an event entry was recorded: its ``time`` (see :mod:`comity.ledger.events`)."""
    try:
        value = json.loads(entry).get("time")
        return dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except (ValueError, AttributeError):
        return None


class LedgerEntryOut(BaseModel):
    index: int
    leaf_hash: str
    entry: str
    kind: str
    recorded_at: dt.datetime | None = Field(
        description="The event's own time, in UTC; null for an entry that is not an event."
    )

    @classmethod
    def of(cls, row: LedgerEntry) -> LedgerEntryOut:
        return cls(
            index=row.idx,
            leaf_hash=b64encode(row.leaf_hash),
            entry=b64encode(row.entry),
            kind=row.kind,
            recorded_at=event_time(row.entry),
        )


class InclusionProofOut(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str
    root: str
    proof: list[str]

    @classmethod
    def of(cls, proof: InclusionProof) -> InclusionProofOut:
        return cls(
            index=proof.index,
            tree_size=proof.tree_size,
            leaf_hash=b64encode(proof.leaf_hash),
            root=b64encode(proof.root),
            proof=[b64encode(value) for value in proof.proof],
        )


class ConsistencyProofOut(BaseModel):
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    proof: list[str]

    @classmethod
    def of(cls, proof: ConsistencyProof) -> ConsistencyProofOut:
        return cls(
            old_size=proof.old_size,
            new_size=proof.new_size,
            old_root=b64encode(proof.old_root),
            new_root=b64encode(proof.new_root),
            proof=[b64encode(value) for value in proof.proof],
        )


class CosignatureIn(BaseModel):
    checkpoint: str = Field(
        max_length=MAX_NOTE_BYTES, description="The checkpoint note that was cosigned."
    )
    cosignature: str = Field(
        max_length=MAX_COSIGNATURE_LINE,
        description="The witness's signature line, '— <name> <base64>' (cosignature/v1).",
    )


class CosignatureOut(BaseModel):
    witness: str
    size: int
    cosigned_at: dt.datetime
    received_at: dt.datetime

    @classmethod
    def of(cls, received: ReceivedCosignature) -> CosignatureOut:
        row = received.cosignature
        return cls(
            witness=row.witness,
            size=received.size,
            cosigned_at=row.cosigned_at,
            received_at=row.received_at,
        )


class AlarmOut(BaseModel):
    id: int
    at: dt.datetime
    origin: str
    kind: str = Field(description="rollback, split_view or inconsistent.")
    detail: dict[str, Any]
    evidence: str = Field(
        description="JSON: the log's key, the checkpoint verified before, the one that "
        "conflicts with it, and the consistency proof if one was given."
    )

    @classmethod
    def of(cls, row: LedgerAlarm) -> AlarmOut:
        return cls(
            id=row.id,
            at=row.at,
            origin=row.origin,
            kind=row.kind,
            detail=row.detail,
            evidence=row.evidence,
        )
