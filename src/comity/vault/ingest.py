"""Adding files to the evidence vault.

:func:`add_file` takes one file in, in an order that leaves nothing half-visible
whenever the process is stopped (even by ``SIGKILL``):

1. The permission and the input are checked: a readable regular file that is not empty,
   whose name has no control characters. Nothing is written before that.
2. Outside any database transaction, the file is streamed once, 64 KiB at a time,
   through age encryption (a fresh file key wrapped by the node's
   :class:`~comity.vault.keyring.KeyManager`) into a new blob; the plaintext's SHA-256
   and size come from the same pass. The blob is committed (fsync, atomic rename). A
   process killed before this point leaves at most a temporary file in the store's
   ``tmp/``; one killed after it, an encrypted blob no item names yet.
3. If an item with the same plaintext SHA-256 is already held, it is returned as it is
   and the new blob is deleted: re-running an interrupted command is safe.
4. Still outside any transaction, the metadata is read from the same open file
   (:mod:`comity.vault.metadata`; read only, never an exception), the file is checked
   not to have changed since it was opened, and the perceptual hash of an image is
   compared with those of the items held to name its near-duplicates.
5. In one unit of work: the item row, its metadata row, its first custody row
   (``ingest``), the ledger event ``evidence.ingest`` and an audit record — and, for a
   derived copy, its :class:`Lineage` (:mod:`comity.vault.derive`); then one commit.
   Until that commit nothing of the item is visible; after it, all of it is.
6. If the node time-stamps evidence (``COMITY_VAULT_TIMESTAMPS``), a new item's SHA-256
   is then time-stamped by the RFC 3161 authority (:mod:`comity.vault.timestamps`),
   outside any transaction; an authority that fails leaves the item added, without a
   token yet.

Bytes held by an item deleted under a legal process (:mod:`comity.vault.deletion`) are
refused: the tombstone keeps their SHA-256, and they are not taken in again.

On the ledger the event carries the plaintext and blob digests, the size and media type;
the original name and the acquisition details (which can identify a witness or a place)
go only as salted commitments. The metadata (GPS positions and capture times among it)
stays in the node's database: nothing of it goes on the ledger.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from comity.audit.services import record
from comity.errors import ComityError, ValidationError
from comity.identity.permissions import Actor, Permission
from comity.ledger.events import JsonValue, actor_reference, record_event
from comity.node import Node
from comity.vault.access import blob_store, check_text, key_manager, require_recorded
from comity.vault.age import encrypt_with_file_key, generate_file_key
from comity.vault.blobs import BlobStore
from comity.vault.deletion import refuse_deleted
from comity.vault.media import SNIFF_BYTES, sniff
from comity.vault.metadata import Metadata, extract_stream
from comity.vault.models import VaultCustody, VaultItem, VaultMetadata, new_item_id
from comity.vault.perceptual import NEAR_DUPLICATE_DISTANCE, hamming
from comity.vault.timestamps import ItemStamp, ItemStampFailure, stamp_new_item

MAX_NAME_LENGTH = 255
MAX_DETAIL_LENGTH = 2000
ACQUISITION_FIELDS = ("who", "when", "where", "how", "tool")

Progress = Callable[[int], None]
"""Called with the number of plaintext bytes read since the last call."""


@dataclass(frozen=True)
class Acquisition:
    """How the file was acquired, as the person adding it tells it (all optional, free
    text): who collected it, when, where, how, and with what tool."""

    who: str = ""
    when: str = ""
    where: str = ""
    how: str = ""
    tool: str = ""

    def given(self) -> dict[str, str]:
        """The details that were given, checked and stripped."""
        details = {name: getattr(self, name).strip() for name in ACQUISITION_FIELDS}
        return {
            name: check_text(
                f"acquisition '{name}'", value, max_length=MAX_DETAIL_LENGTH, multiline=True
            )
            for name, value in details.items()
            if value
        }


@dataclass(frozen=True)
class AddResult:
    """The item that holds the file; ``created`` is false when it was already held.
    ``near_duplicates`` names the items held before whose images look like this one.
    ``timestamp`` is the new item's time-stamp, or why it has none yet (``None``: not
    asked for)."""

    item_id: str
    name: str
    sha256: str
    size: int
    media_type: str
    created: bool
    near_duplicates: tuple[str, ...] = ()
    timestamp: ItemStamp | ItemStampFailure | None = None


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


class _Reading:
    """Reads the input, keeping its first bytes (for the media type) and reporting
    progress."""

    def __init__(self, stream: BinaryIO, progress: Progress | None) -> None:
        self._stream = stream
        self._progress = progress
        self.head = b""

    def read(self, size: int, /) -> bytes:
        data = self._stream.read(size)
        if len(self.head) < SNIFF_BYTES:
            self.head += data[: SNIFF_BYTES - len(self.head)]
        if self._progress is not None and data:
            self._progress(len(data))
        return data


def check_name(name: str) -> str:
    """The file name, if it can be kept as it is (no control characters, not too long)."""
    return check_text("file name", name, max_length=MAX_NAME_LENGTH)


def open_input(path: Path) -> tuple[BinaryIO, int]:
    """The file at ``path`` opened for reading, and its size; refuses anything that is
    not a readable, non-empty regular file, with a message naming the problem."""
    check_name(path.name)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ValidationError(f"{path} does not exist.", fields={"path": "missing"}) from None
    except OSError as exc:
        raise ValidationError(
            f"Cannot read {path}: {exc.strerror or exc}.", fields={"path": "unreadable"}
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise ValidationError(
            f"{path} is a directory; add the files in it with --recursive.",
            fields={"path": "directory"},
        )
    if not stat.S_ISREG(info.st_mode):
        raise ValidationError(
            f"{path} is not a regular file (a device, pipe or socket); only files can be added.",
            fields={"path": "not_a_file"},
        )
    try:
        # O_NONBLOCK: should the path have become a pipe since, opening it does not hang.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ValidationError(
            f"Cannot read {path}: {exc.strerror or exc}.", fields={"path": "unreadable"}
        ) from None
    stream = os.fdopen(descriptor, "rb")
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        stream.close()
        problem = "is empty" if stat.S_ISREG(info.st_mode) else "is not a regular file"
        raise ValidationError(
            f"{path} {problem}; there is nothing to preserve.", fields={"path": "empty"}
        )
    return stream, info.st_size


def _held(node: Node, store: BlobStore, sha256: str, blob_name: str) -> VaultItem | None:
    """The item already holding these bytes, if any, and then the new blob is removed;
    bytes of an item deleted under a legal process are refused."""
    with node.uow() as uow:
        held = uow.session.scalars(select(VaultItem).where(VaultItem.sha256 == sha256)).first()
        if held is None:
            return None
        store.delete(blob_name)
        refuse_deleted(uow.session, held, "its bytes are not taken in again")
    return held


def _near_duplicates(node: Node, perceptual_hash: str | None) -> list[dict[str, str | int]]:
    """The items whose perceptual hash is within :data:`NEAR_DUPLICATE_DISTANCE` bits
    of ``perceptual_hash``, closest first (compared here over every hash held)."""
    if perceptual_hash is None:
        return []
    with node.uow() as uow:
        held = uow.session.execute(
            select(VaultMetadata.item_id, VaultMetadata.perceptual_hash).where(
                VaultMetadata.perceptual_hash.is_not(None)
            )
        ).all()
    close = [
        (distance, item_id)
        for item_id, other in held
        if other is not None
        and (distance := hamming(perceptual_hash, other)) <= NEAR_DUPLICATE_DISTANCE
    ]
    return [{"item_id": item_id, "distance": distance} for distance, item_id in sorted(close)]


def _changed(stream: BinaryIO, opened: os.stat_result) -> bool:
    """Whether the open file was written to since it was opened (its metadata must
    describe the bytes that were hashed)."""
    now = os.fstat(stream.fileno())
    return (now.st_size, now.st_mtime_ns) != (opened.st_size, opened.st_mtime_ns)


def _metadata_row(
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


def _event_fields(
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


def _already_held(item: VaultItem) -> AddResult:
    return AddResult(
        item.id, item.original_name, item.sha256, item.size, item.media_type, created=False
    )


def add_file(
    node: Node,
    actor: Actor,
    path: Path,
    acquisition: Acquisition | None = None,
    *,
    progress: Progress | None = None,
    derivation: Lineage | None = None,
    timestamp: bool = True,
) -> AddResult:
    """Encrypt ``path`` into the vault and record it (see the module docstring for the
    order of the steps); an item already holding the same bytes is returned instead.
    ``derivation`` makes the item a derived copy (see :mod:`comity.vault.derive`).
    ``timestamp=False`` leaves a new item's time-stamp to a later run (a caller that
    just saw the authority fail need not wait for it again)."""
    require_recorded(node, actor, Permission.EVIDENCE_ADD, "evidence.add")
    details = (acquisition or Acquisition()).given()
    name = path.name
    stream, expected_size = open_input(path)
    opened = os.fstat(stream.fileno())
    store = blob_store(node)
    keys = key_manager(node)
    file_key = generate_file_key()
    reading = _Reading(stream, progress)
    with stream, store.writer() as blob:
        encrypted = encrypt_with_file_key(reading, blob, file_key, keys.wrap(file_key))
        if encrypted.plaintext_size != expected_size:
            raise ValidationError(
                f"{path} changed size while it was being read ({expected_size} bytes, then "
                f"{encrypted.plaintext_size}); add it again once it is no longer written to.",
                fields={"path": "changing"},
            )
        blob_name = blob.commit()
        sha256 = encrypted.plaintext_sha256.hex()
        media_type = sniff(reading.head)
        existing = _held(node, store, sha256, blob_name)
        if existing is not None:
            return _already_held(existing)
        metadata = extract_stream(stream, media_type)
        if _changed(stream, opened):
            store.delete(blob_name)
            raise ValidationError(
                f"{path} changed while it was being read; add it again once it is no "
                "longer written to.",
                fields={"path": "changing"},
            )
    near = _near_duplicates(node, metadata.perceptual_hash)

    item_id = new_item_id()
    personal: Mapping[str, str] = {"original_name": name} | details
    digests, data = _event_fields(
        sha256, blob_name, encrypted.plaintext_size, media_type, derivation
    )
    try:
        with node.uow() as uow:
            session = uow.session
            event = record_event(
                session,
                actor,
                "evidence.ingest",
                subject_type="vault_item",
                subject_id=item_id,
                digests=digests,
                personal=personal,
                data=data,
            )
            session.add(
                VaultItem(
                    id=item_id,
                    sha256=sha256,
                    size=encrypted.plaintext_size,
                    media_type=media_type,
                    original_name=name,
                    blob_name=blob_name,
                    blob_size=encrypted.encrypted_size,
                    acquisition=details,
                    added_by=actor_reference(actor),
                    ledger_index=event.index,
                )
            )
            session.flush()
            session.add(_metadata_row(item_id, metadata, near))
            session.add(
                VaultCustody(
                    item_id=item_id,
                    action="ingest",
                    actor=actor.label[:100],
                    ledger_index=event.index,
                    detail={"blob": blob_name},
                )
            )
            if derivation is not None:
                derivation.record(session, actor, item_id, sha256)
            record(
                session,
                actor,
                "evidence.add",
                target_type="vault_item",
                target_id=item_id,
                detail={"sha256": sha256, "size": encrypted.plaintext_size, "ledger": event.index},
            )
            uow.commit()
    except ComityError:
        # Refused before the commit (a derived copy's parent deleted meanwhile): no item.
        store.delete(blob_name)
        raise
    except IntegrityError:
        # The same bytes were added by another process in the meantime: keep theirs.
        existing = _held(node, store, sha256, blob_name)
        if existing is None:
            raise
        return _already_held(existing)
    return AddResult(
        item_id,
        name,
        sha256,
        encrypted.plaintext_size,
        media_type,
        created=True,
        near_duplicates=tuple(str(entry["item_id"]) for entry in near),
        timestamp=stamp_new_item(node, actor, item_id, sha256) if timestamp else None,
    )


def files_under(path: Path) -> list[Path]:
    """The regular files under the directory ``path``, in a stable order; symbolic links
    are not followed, and anything that is not a regular file is left out."""
    found: list[Path] = []
    for directory, subdirectories, names in os.walk(path):
        subdirectories.sort()
        for name in sorted(names):
            candidate = Path(directory) / name
            if candidate.is_file() and not candidate.is_symlink():
                found.append(candidate)
    return found
