"""Resumable uploads into the evidence vault, for the web pages and the JSON API.

An upload is a file sent in chunks, in order, that becomes an item only when it is
complete. Its state is one mutable ``vault_uploads`` row (``open`` → ``complete``,
``cancelled`` or ``expired``); its bytes are staged in a private file
``<home>/uploads/<upload id>/<original name>`` (:mod:`comity.vault.staging`), outside the
vault's blob store, so that completion hands that very file to
:func:`~comity.vault.ingest.add_file`, which takes its name as the original name. Staged
bytes are plaintext on the node's disk until then, like the node's database; the staging
directory is removed as soon as the upload is ingested, cancelled or expired. Only the
person who started an upload may see or use it; to anyone else it does not exist.

Writing a chunk (:func:`write_chunk`), under an exclusive lock on the staged file:

1. the chunk must be non-empty, no larger than ``COMITY_UPLOAD_CHUNK_BYTES``, its
   ``Content-Range`` well formed, within the declared size, and it must start exactly at
   ``received`` (the bytes the upload holds): anything else is refused before a byte is
   written, and an out-of-order chunk says where to resume (:class:`OffsetMismatch`);
2. the staged file is cut back to ``received`` — the database is the truth: a process
   stopped after writing but before recording a chunk left bytes nobody counted — and the
   chunk is appended and made durable (``fsync``);
3. only then is ``received`` advanced in the database.

Starting, completing, cancelling and expiring an upload are audited (``evidence.upload.*``);
chunks are not, one by one (the row keeps ``received`` and the time of the last one).
The item itself is recorded by the ingest: custody row, ledger event ``evidence.ingest``
and audit record ``evidence.add``. An upload untouched for ``COMITY_UPLOAD_EXPIRY_HOURS``
is expired by :func:`sweep_expired`, which runs whenever an upload is started and every
hour while the web app serves (:mod:`comity.web.app`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select, update

from comity.audit.services import record
from comity.db import utcnow
from comity.errors import Conflict, NotFound, ValidationError
from comity.identity.permissions import Actor, Permission, system_actor
from comity.node import Node
from comity.vault.access import require_recorded
from comity.vault.errors import ChunkRefused, ChunkTooLarge, OffsetMismatch
from comity.vault.ingest import AddResult, add_file
from comity.vault.inputs import Acquisition
from comity.vault.models import VaultUpload, new_item_id
from comity.vault.staging import (
    check_staged_name,
    create_staged,
    cut_back,
    locked,
    remove_orphans,
    remove_staged,
    staged_path,
)

_CONTENT_RANGE = re.compile(r"bytes (\d{1,19})-(\d{1,19})/(\d{1,19})")


class UploadStatus(StrEnum):
    OPEN = "open"
    COMPLETE = "complete"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class UploadState:
    """Where an upload stands; ``chunk_size`` is the largest chunk the node takes."""

    id: str
    name: str
    size: int
    received: int
    status: str
    item_id: str | None
    chunk_size: int
    expires_at: dt.datetime


def _owner(actor: Actor) -> str:
    return (actor.user_id or actor.label)[:64]


def _state(node: Node, upload: VaultUpload) -> UploadState:
    settings = node.settings
    return UploadState(
        id=upload.id,
        name=upload.name,
        size=upload.size,
        received=upload.received,
        status=upload.status,
        item_id=upload.item_id,
        chunk_size=settings.upload_chunk_bytes,
        expires_at=upload.updated_at + dt.timedelta(hours=settings.upload_expiry_hours),
    )


def _staged(node: Node, upload: VaultUpload) -> Path:
    return staged_path(node, upload.id, upload.name)


def parse_content_range(value: str) -> tuple[int, int, int]:
    """``(start, end, total)`` of a ``Content-Range: bytes START-END/TOTAL`` header (END
    inclusive, as in RFC 9110), or :class:`ChunkRefused` naming what is wrong."""
    found = _CONTENT_RANGE.fullmatch(value.strip())
    if found is None:
        raise ChunkRefused(
            f"Send each chunk with 'Content-Range: bytes START-END/TOTAL'; got {value[:100]!r}.",
            fields={"content_range": "malformed"},
        )
    start, end, total = (int(part) for part in found.groups())
    if end < start:
        raise ChunkRefused(
            f"The range {start}-{end} ends before it starts.", fields={"content_range": "order"}
        )
    return start, end, total


def _own(node: Node, actor: Actor, upload_id: str) -> VaultUpload:
    """The caller's upload; anyone else's is as unknown as one that does not exist."""
    with node.uow() as uow:
        upload = uow.session.get(VaultUpload, upload_id)
    if upload is None or upload.owner != _owner(actor):
        raise NotFound(f"You have no upload with the id {upload_id!r}.")
    return upload


def _require_open(node: Node, upload: VaultUpload) -> None:
    if upload.status == UploadStatus.COMPLETE:
        raise Conflict(
            f"Upload {upload.id} is complete: it is item {upload.item_id}.",
            fields={"item_id": upload.item_id or ""},
        )
    if upload.status != UploadStatus.OPEN:
        raise Conflict(
            f"Upload {upload.id} was {upload.status}; start the upload again.",
            fields={"status": upload.status},
        )
    if _state(node, upload).expires_at <= utcnow():
        raise Conflict(
            f"Upload {upload.id} expired: nothing was sent to it for "
            f"{node.settings.upload_expiry_hours} hours. Start the upload again.",
            fields={"status": UploadStatus.EXPIRED},
        )


def start_upload(
    node: Node, actor: Actor, *, name: str, size: int, acquisition: Acquisition
) -> UploadState:
    """Open an upload of ``size`` bytes named ``name``, with an empty staged file."""
    require_recorded(node, actor, Permission.EVIDENCE_ADD, "evidence.upload.start")
    check_staged_name(name)
    if size <= 0:
        raise ValidationError(
            "The file is empty; there is nothing to preserve.", fields={"size": "empty"}
        )
    limit = node.settings.upload_max_bytes
    if size > limit:
        raise ValidationError(
            f"The file is {size} bytes; this node takes uploads of at most {limit} bytes. "
            "Ask the operator to add it with 'comity evidence add'.",
            fields={"size": "too_large"},
        )
    details = acquisition.given()
    sweep_expired(node)
    upload_id = new_item_id()
    try:
        create_staged(node, upload_id, name, size)
        with node.uow() as uow:
            upload = VaultUpload(
                id=upload_id,
                owner=_owner(actor),
                name=name,
                size=size,
                received=0,
                acquisition=details,
                status=UploadStatus.OPEN,
            )
            uow.session.add(upload)
            record(
                uow.session,
                actor,
                "evidence.upload.start",
                target_type="vault_upload",
                target_id=upload_id,
                detail={"size": size},
            )
            uow.commit()
    except BaseException:
        remove_staged(node, upload_id)
        raise
    return _state(node, upload)


def upload_state(node: Node, actor: Actor, upload_id: str) -> UploadState:
    """Where the caller's upload stands: how many bytes it holds, to resume from there."""
    require_recorded(node, actor, Permission.EVIDENCE_ADD, "evidence.upload.status")
    return _state(node, _own(node, actor, upload_id))


def open_uploads(node: Node, actor: Actor) -> list[UploadState]:
    """The caller's unfinished uploads, oldest first."""
    require_recorded(node, actor, Permission.EVIDENCE_ADD, "evidence.upload.status")
    with node.uow() as uow:
        rows = uow.session.scalars(
            select(VaultUpload)
            .where(VaultUpload.owner == _owner(actor), VaultUpload.status == UploadStatus.OPEN)
            .order_by(VaultUpload.created_at)
        ).all()
    return [_state(node, row) for row in rows]


def write_chunk(
    node: Node, actor: Actor, upload_id: str, content_range: str, data: bytes
) -> UploadState:
    """Append ``data``, the bytes ``content_range`` names, to the caller's upload (see the
    module docstring); anything refused leaves the upload as it was."""
    require_recorded(node, actor, Permission.EVIDENCE_ADD, "evidence.upload.write")
    upload = _own(node, actor, upload_id)
    _require_open(node, upload)
    if not data:
        raise ChunkRefused(
            f"The chunk is empty (0 bytes); send the bytes from offset {upload.received}.",
            fields={"chunk": "empty"},
        )
    limit = node.settings.upload_chunk_bytes
    if len(data) > limit:
        raise ChunkTooLarge(
            f"The chunk is {len(data)} bytes; send at most {limit} bytes at a time.",
            fields={"chunk": "too_large"},
        )
    start, end, total = parse_content_range(content_range)
    if total != upload.size:
        raise ChunkRefused(
            f"The range names a file of {total} bytes; this upload is of {upload.size}.",
            fields={"content_range": "total"},
        )
    if end >= total:
        raise ChunkRefused(
            f"The range {start}-{end} goes past the end of the file (bytes 0-{total - 1}).",
            fields={"content_range": "past_end"},
        )
    if end - start + 1 != len(data):
        raise ChunkRefused(
            f"The range {start}-{end} names {end - start + 1} bytes but {len(data)} came.",
            fields={"content_range": "length"},
        )
    with locked(_staged(node, upload)) as handle:
        upload = _own(node, actor, upload_id)  # again, now that no one else writes
        _require_open(node, upload)
        if start != upload.received:
            raise OffsetMismatch(
                f"This chunk starts at byte {start}, but the upload holds {upload.received} "
                f"bytes: send the bytes from offset {upload.received}.",
                expected=upload.received,
            )
        cut_back(handle, upload.received)
        handle.seek(upload.received)
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
        with node.uow() as uow:
            moved = uow.session.execute(
                update(VaultUpload)
                .where(VaultUpload.id == upload_id, VaultUpload.received == start)
                .values(received=end + 1, updated_at=utcnow())
            )
            uow.commit()
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("The upload changed meanwhile; ask where it stands and resume.")
    return _state(node, _own(node, actor, upload_id))


def complete_upload(node: Node, actor: Actor, upload_id: str) -> AddResult:
    """Ingest the caller's fully received upload as an item (or name the item already
    holding the same bytes), then remove its staged file."""
    require_recorded(node, actor, Permission.EVIDENCE_ADD, "evidence.upload.complete")
    upload = _own(node, actor, upload_id)
    _require_open(node, upload)
    staged = _staged(node, upload)
    with locked(staged) as handle:
        upload = _own(node, actor, upload_id)
        _require_open(node, upload)
        if upload.received != upload.size:
            raise Conflict(
                f"Only {upload.received} of {upload.size} bytes have arrived; send the rest "
                f"from offset {upload.received}.",
                fields={"offset": str(upload.received)},
            )
        cut_back(handle, upload.received)
        added = add_file(node, actor, staged, Acquisition(**upload.acquisition))
        with node.uow() as uow:
            uow.session.execute(
                update(VaultUpload)
                .where(VaultUpload.id == upload_id)
                .values(status=UploadStatus.COMPLETE, item_id=added.item_id, updated_at=utcnow())
            )
            record(
                uow.session,
                actor,
                "evidence.upload.complete",
                target_type="vault_upload",
                target_id=upload_id,
                detail={"item": added.item_id, "created": added.created, "size": added.size},
            )
            uow.commit()
    remove_staged(node, upload_id)
    return added


def cancel_upload(node: Node, actor: Actor, upload_id: str) -> UploadState:
    """Give up the caller's open upload: its staged bytes are removed."""
    require_recorded(node, actor, Permission.EVIDENCE_ADD, "evidence.upload.cancel")
    upload = _own(node, actor, upload_id)
    if upload.status != UploadStatus.OPEN:
        _require_open(node, upload)
    with node.uow() as uow:
        uow.session.execute(
            update(VaultUpload)
            .where(VaultUpload.id == upload_id, VaultUpload.status == UploadStatus.OPEN)
            .values(status=UploadStatus.CANCELLED, updated_at=utcnow())
        )
        record(
            uow.session,
            actor,
            "evidence.upload.cancel",
            target_type="vault_upload",
            target_id=upload_id,
            detail={"size": upload.size, "received": upload.received},
        )
        uow.commit()
    remove_staged(node, upload_id)
    return _state(node, _own(node, actor, upload_id))


def sweep_expired(node: Node, *, now: dt.datetime | None = None) -> int:
    """Expire the open uploads untouched for ``COMITY_UPLOAD_EXPIRY_HOURS`` and remove
    their staged bytes, and staging directories no upload names that are as old (left by
    a process stopped while starting an upload); the number of uploads expired."""
    cutoff = (now or utcnow()) - dt.timedelta(hours=node.settings.upload_expiry_hours)
    sweeper = system_actor("upload-sweep", ())
    with node.uow() as uow:
        stale = uow.session.scalars(
            select(VaultUpload).where(
                VaultUpload.status == UploadStatus.OPEN, VaultUpload.updated_at < cutoff
            )
        ).all()
        for upload in stale:
            upload.status = UploadStatus.EXPIRED
            record(
                uow.session,
                sweeper,
                "evidence.upload.expire",
                target_type="vault_upload",
                target_id=upload.id,
                detail={"size": upload.size, "received": upload.received},
            )
        open_ids = set(
            uow.session.scalars(
                select(VaultUpload.id).where(VaultUpload.status == UploadStatus.OPEN)
            )
        )
        uow.commit()
    remove_orphans(node, open_ids, cutoff)
    for upload in stale:
        remove_staged(node, upload.id)
    return len(stale)
