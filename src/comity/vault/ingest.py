"""Adding files to the evidence vault.

:func:`add_file` takes one file in, in an order that leaves nothing half-visible
whenever the process is stopped (even by ``SIGKILL``):

1. The permission and the input are checked (:mod:`comity.vault.inputs`): a readable
   regular file that is not empty, whose name has no control characters. Nothing is
   written before that.
2. Outside any database transaction, the file is streamed once, 64 KiB at a time,
   through age encryption (a fresh file key wrapped by the node's
   :class:`~comity.vault.keyring.KeyManager`) into a new blob; the plaintext's SHA-256
   and size come from the same pass. The blob is committed (fsync, atomic rename). A
   process killed before this point leaves at most a temporary file in the store's
   ``tmp/``; one killed after it, an encrypted blob no item names yet.
3. Still outside any transaction, the metadata is read from the same open file
   (:mod:`comity.vault.metadata`; read only, never an exception), the file is checked
   not to have changed since it was opened, and the perceptual hash of an image is
   compared with those of the items held to name its near-duplicates.
4. If an item with the same plaintext SHA-256 is already held, it is returned as it is
   and the new blob is deleted: re-running an interrupted command is safe.
5. In one unit of work: the item row, its metadata row, its first custody row
   (``ingest``), the ledger event ``evidence.ingest`` and an audit record — and, for a
   derived copy, its :class:`Lineage` (:mod:`comity.vault.derive`); then one commit.
   Until that commit nothing of the item is visible; after it, all of it is.
6. If the node time-stamps evidence (``COMITY_VAULT_TIMESTAMPS``), a new item's SHA-256
   is then time-stamped by the RFC 3161 authority (:mod:`comity.vault.timestamps`),
   outside any transaction; an authority that fails leaves the item added, without a
   token yet.

:func:`add_files` takes many files in the same way, but records them in batches: steps
1 to 3 for each file, then step 4 for all its files in one query and one unit of work
and one commit for every batch (at most
:data:`BATCH_FILES` files or :data:`BATCH_SECONDS` of work), so that a folder of small
files does not pay a durable commit for each. Steps 2 and 3 of the next few small files
run on helper threads while a file waits on the disk (:mod:`comity.vault.ahead`); the
results still come in the order of the files, and the blobs of files prepared ahead of a
refused one are removed. Every blob of a batch is durable before its commit, as in step
2; a process killed before the commit leaves none of the batch visible, and re-running
the command adds it again.

Bytes held by an item deleted under a legal process (:mod:`comity.vault.deletion`) are
refused: the tombstone keeps their SHA-256, and they are not taken in again.

On the ledger the event carries the plaintext and blob digests, the size and media type;
the original name and the acquisition details (which can identify a witness or a place)
go only as salted commitments. The metadata (GPS positions and capture times among it)
stays in the node's database; the ledger gets only a salted commitment to the whole row,
which the integrity checks use to tell a changed row (:mod:`comity.vault.recording`).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from comity.errors import ComityError, ValidationError
from comity.identity.permissions import Actor, Permission
from comity.node import Node
from comity.vault import ahead
from comity.vault.access import blob_store, key_manager, require_recorded
from comity.vault.age import encrypt_with_file_key, generate_file_key
from comity.vault.blobs import BlobStore
from comity.vault.deletion import refuse_deleted
from comity.vault.inputs import Acquisition, Progress, Reading, changed_since, open_input
from comity.vault.keyring import KeyManager
from comity.vault.media import sniff
from comity.vault.metadata import extract_stream
from comity.vault.models import VaultItem, new_item_id
from comity.vault.near import NearDuplicates
from comity.vault.recording import Lineage, Prepared, record_items
from comity.vault.timestamps import ItemStamp, ItemStampFailure, stamp_new_item

BATCH_FILES = 256
BATCH_SECONDS = 1.0
AHEAD_MAX_BYTES = 1024 * 1024


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


def _prepare(
    store: BlobStore,
    keys: KeyManager,
    path: Path,
    details: dict[str, str],
    *,
    progress: Progress | None,
) -> Prepared:
    """Steps 2 and 3 for one file: its durable blob and its metadata (its near-duplicates
    and step 4 are the caller's: a batch checks all its files at once)."""
    stream, expected_size = open_input(path)
    opened = os.fstat(stream.fileno())
    file_key = generate_file_key()
    reading = Reading(stream, progress)
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
        metadata = extract_stream(stream, media_type)
        if changed_since(stream, opened):
            store.delete(blob_name)
            raise ValidationError(
                f"{path} changed while it was being read; add it again once it is no "
                "longer written to.",
                fields={"path": "changing"},
            )
    item_id = new_item_id()
    return Prepared(
        item_id=item_id,
        name=path.name,
        details=details,
        sha256=sha256,
        size=encrypted.plaintext_size,
        blob_name=blob_name,
        blob_size=encrypted.encrypted_size,
        media_type=media_type,
        metadata=metadata,
        near=[],
    )


def _added(prepared: Prepared, timestamp: ItemStamp | ItemStampFailure | None) -> AddResult:
    return AddResult(
        prepared.item_id,
        prepared.name,
        prepared.sha256,
        prepared.size,
        prepared.media_type,
        created=True,
        near_duplicates=tuple(str(entry["item_id"]) for entry in prepared.near),
        timestamp=timestamp,
    )


def _already_held(item: VaultItem) -> AddResult:
    return AddResult(
        item.id, item.original_name, item.sha256, item.size, item.media_type, created=False
    )


def _commit_one(
    node: Node, actor: Actor, store: BlobStore, prepared: Prepared, derivation: Lineage | None
) -> VaultItem | None:
    """Step 5 for one item: ``None`` once it is committed, or the item that another
    process committed with the same bytes in the meantime (then ours is dropped)."""
    try:
        with node.uow() as uow:
            record_items(uow.session, actor, [(prepared, derivation)])
            uow.commit()
    except ComityError:
        # Refused before the commit (a derived copy's parent deleted meanwhile): no item.
        store.delete(prepared.blob_name)
        raise
    except IntegrityError:
        existing = _held(node, store, prepared.sha256, prepared.blob_name)
        if existing is None:
            raise
        return existing
    return None


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
    store = blob_store(node)
    prepared = _prepare(store, key_manager(node), path, details, progress=progress)
    NearDuplicates(node).find(prepared)
    existing = _held(node, store, prepared.sha256, prepared.blob_name)
    if existing is not None:
        return _already_held(existing)
    existing = _commit_one(node, actor, store, prepared, derivation)
    if existing is not None:
        return _already_held(existing)
    stamp = stamp_new_item(node, actor, prepared.item_id, prepared.sha256) if timestamp else None
    return _added(prepared, stamp)


class _Batch:
    """Files prepared and not yet committed, in the order they were given."""

    def __init__(
        self, node: Node, actor: Actor, store: BlobStore, near: NearDuplicates, *, timestamp: bool
    ) -> None:
        self._node = node
        self._actor = actor
        self._store = store
        self._near = near
        self._stamping = timestamp
        self._entries: list[Prepared] = []
        self._started = time.monotonic()

    def add(self, entry: Prepared) -> None:
        if not self._entries:
            self._started = time.monotonic()
        self._entries.append(entry)

    @property
    def full(self) -> bool:
        return (
            len(self._entries) >= BATCH_FILES or time.monotonic() - self._started >= BATCH_SECONDS
        )

    def commit(self) -> tuple[list[AddResult], ComityError | None]:
        """Step 3 for every file at once (bytes already held, by an item or by an earlier
        file of the batch), step 5 for the new ones in one unit of work, then step 6 for
        each. Should another process commit some of the same bytes meanwhile, the batch
        is committed item by item instead. Also returns the refusal of a file whose bytes
        were deleted under a legal process (the other files are committed)."""
        entries, self._entries = self._entries, []
        if not entries:
            return [], None
        holders: dict[str, VaultItem | Prepared] = {}
        refusal: ComityError | None = None
        refused: str | None = None
        try:
            with self._node.uow() as uow:
                session = uow.session
                held = session.scalars(
                    select(VaultItem).where(VaultItem.sha256.in_({e.sha256 for e in entries}))
                )
                known: dict[str, VaultItem | Prepared] = {item.sha256: item for item in held}
                fresh: list[Prepared] = []
                for entry in entries:
                    holder = known.setdefault(entry.sha256, entry)
                    if holder is entry:
                        fresh.append(entry)
                        continue
                    holders[entry.item_id] = holder
                    if isinstance(holder, VaultItem) and refusal is None:
                        refusal = _deleted(session, holder)
                        refused = entry.item_id if refusal is not None else None
                for prepared in fresh:  # no near-duplicate that will never be an item
                    prepared.near[:] = [n for n in prepared.near if n["item_id"] not in holders]
                record_items(session, self._actor, [(prepared, None) for prepared in fresh])
                uow.commit()
        except IntegrityError:
            holders = {}
            for prepared in entries:
                existing = _commit_one(self._node, self._actor, self._store, prepared, None)
                if existing is not None:
                    holders[prepared.item_id] = existing
        self._near.forget(set(holders))
        for item_id in holders:
            self._store.delete(next(e.blob_name for e in entries if e.item_id == item_id))
        results = [
            self._result(entry, holders.get(entry.item_id))
            for entry in entries
            if entry.item_id != refused
        ]
        return results, refusal

    def _result(self, entry: Prepared, holder: VaultItem | Prepared | None) -> AddResult:
        if holder is None:
            return _added(entry, self._stamp(entry))
        if isinstance(holder, VaultItem):
            return _already_held(holder)
        return AddResult(
            holder.item_id, holder.name, holder.sha256, holder.size, holder.media_type, False
        )

    def _stamp(self, prepared: Prepared) -> ItemStamp | ItemStampFailure | None:
        """The new item's time-stamp; after one failure the rest wait for a later run."""
        if not self._stamping:
            return None
        stamp = stamp_new_item(self._node, self._actor, prepared.item_id, prepared.sha256)
        self._stamping = not isinstance(stamp, ItemStampFailure)
        return stamp


def _deleted(session: Session, item: VaultItem) -> ComityError | None:
    """The refusal of bytes held by an item deleted under a legal process, if it was."""
    try:
        refuse_deleted(session, item, "its bytes are not taken in again")
    except ComityError as refusal:
        return refusal
    return None


def add_files(
    node: Node,
    actor: Actor,
    paths: Iterable[Path],
    acquisition: Acquisition | None = None,
    *,
    progress: Progress | None = None,
    timestamp: bool = True,
) -> Generator[AddResult, None, None]:
    """:func:`add_file` for each of ``paths``, committed in batches (see the module
    docstring); the results come in the order of ``paths``, each batch's once it is
    committed. A file that is refused stops the run, after the files before it are
    committed and their results given."""
    require_recorded(node, actor, Permission.EVIDENCE_ADD, "evidence.add")
    details = (acquisition or Acquisition()).given()
    store = blob_store(node)
    keys = key_manager(node)
    near = NearDuplicates(node)
    batch = _Batch(node, actor, store, near, timestamp=timestamp)
    prepared = ahead.in_order(
        paths,
        lambda path: _prepare(store, keys, path, details, progress=progress),
        ahead=_small,
        discard=lambda entry: store.delete(entry.blob_name),
    )
    with contextlib.closing(prepared):
        while True:
            try:
                entry = next(prepared, None)
            except BaseException:
                yield from _committed(batch)
                raise
            if entry is None:
                break
            near.find(entry)
            batch.add(entry)
            if batch.full:
                yield from _committed(batch)
    yield from _committed(batch)


def _small(path: Path) -> bool:
    """Whether a file is small enough to be prepared ahead of its turn."""
    try:
        return path.stat().st_size <= AHEAD_MAX_BYTES
    except OSError:
        return False  # its turn will say what is wrong with it


def _committed(batch: _Batch) -> Iterator[AddResult]:
    results, refusal = batch.commit()
    yield from results
    if refusal is not None:
        raise refusal
