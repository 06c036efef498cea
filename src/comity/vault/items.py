"""Reading the evidence vault: listing items, one item with its custody chain, getting
an original back, and checking that what is stored is still what was added.

:func:`download` decrypts into a temporary file beside the target, checks the plaintext
SHA-256 against the item's, makes it durable and only then moves it into place (never
over an existing file unless ``force``); the custody row ``download``, the ledger event
``evidence.download`` and an audit record follow in one unit of work
(:func:`record_access`, which the web pages' previews and downloads use too, with
:func:`decrypt_verified`: see :mod:`comity.vault.viewing`).

:func:`check_item` reads the blob twice, without writing anything: once to re-hash its
bytes against its name, once to decrypt into a sink that hashes the plaintext; each
problem found names the part that is damaged.

An item deleted under a legal process (:mod:`comity.vault.deletion`) keeps its row, its
metadata and its custody chain: it is listed and shown with its tombstone, its download
is refused naming the tombstone, and its check reports it deleted (and a blob that an
interrupted deletion left behind).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select

from comity.audit.services import record
from comity.errors import Conflict, NotFound, ValidationError
from comity.identity.permissions import Actor, Permission
from comity.ledger.events import record_event
from comity.node import Node
from comity.vault.access import blob_store, key_manager, require_recorded
from comity.vault.age import EncryptedFile
from comity.vault.blobs import BlobStore
from comity.vault.captures import groups_of
from comity.vault.deletion import Tombstone, refuse_deleted, tombstone
from comity.vault.derive import children_of, derivation_of
from comity.vault.errors import AgeError
from comity.vault.models import (
    VaultCustody,
    VaultDerivation,
    VaultGroup,
    VaultItem,
    VaultItemTimestamp,
    VaultMetadata,
    VaultTombstone,
)
from comity.vault.recording import metadata_problem
from comity.vault.streams import Writer
from comity.vault.timestamps import item_tokens


@dataclass(frozen=True)
class ItemView:
    """One item, its custody chain (oldest action first) and the metadata read from it
    at ingest (``None`` for an item added before metadata was extracted); how it was
    derived (``None`` for an original), the copies derived from it, and its tombstone
    if it was deleted; the groups it belongs to (with its role in each: a web capture's
    ``html`` …) and its RFC 3161 time-stamp tokens (each with its ledger index)."""

    item: VaultItem
    custody: Sequence[VaultCustody]
    metadata: VaultMetadata | None = None
    derivation: VaultDerivation | None = None
    derived: Sequence[VaultDerivation] = ()
    tombstone: Tombstone | None = None
    groups: Sequence[tuple[VaultGroup, str]] = ()
    timestamps: Sequence[tuple[VaultItemTimestamp, int | None]] = ()


@dataclass(frozen=True)
class ListedItem:
    """An item as listed: how it was derived, and when it was deleted, if it was."""

    item: VaultItem
    derivation: VaultDerivation | None
    deleted_at: dt.datetime | None


@dataclass(frozen=True)
class Downloaded:
    item_id: str
    path: Path
    size: int
    sha256: str
    ledger_index: int


class Damage(StrEnum):
    """Which part of a stored item is damaged."""

    BLOB_MISSING = "blob_missing"
    """The encrypted blob is not in the store."""
    BLOB_CHANGED = "blob_changed"
    """The blob's bytes no longer hash to its name: they were changed."""
    BLOB_UNREADABLE = "blob_unreadable"
    """The blob does not decrypt (its age header or payload is damaged, or the node's
    key cannot open it); the age failure is named."""
    PLAINTEXT_CHANGED = "plaintext_changed"
    """The blob decrypts, but not to the SHA-256 and size the item records."""
    METADATA_CHANGED = "metadata_changed"
    """The metadata row no longer opens the commitment of the item's ingest entry (or
    is missing): it was changed past the database's append-only triggers."""
    DELETED_BLOB_PRESENT = "deleted_blob_present"
    """The item was deleted, but its blob is still in the store (the deletion was
    interrupted after its tombstone was recorded)."""


@dataclass(frozen=True)
class CheckReport:
    item_id: str
    problems: Sequence[tuple[Damage, str]]
    tombstone: Tombstone | None = None
    """Set when the item was deleted: there is then nothing left to check but that its
    blob is gone."""

    @property
    def ok(self) -> bool:
        return not self.problems


class _HashingSink:
    """Discards what is written, keeping its SHA-256 and size."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def _item(node: Node, item_id: str) -> VaultItem:
    with node.uow() as uow:
        item = uow.session.get(VaultItem, item_id)
    if item is None:
        raise NotFound(f"No evidence item has the id {item_id!r}.")
    return item


def _decrypt(node: Node, item: VaultItem, writer: Writer) -> tuple[str, int]:
    """Decrypt the item's blob into ``writer``: the plaintext's SHA-256 (hex) and size."""
    with blob_store(node).open(item.blob_name) as stream:
        encrypted = EncryptedFile(stream, armored=False)
        file_key = key_manager(node).unwrap(encrypted.header.stanzas)
        result = encrypted.decrypt(writer, file_key)
    return result.plaintext_sha256.hex(), result.plaintext_size


def _decrypt_checked(node: Node, item: VaultItem, writer: Writer) -> None:
    """:func:`_decrypt`, refusing a plaintext that is not the one recorded at ingest."""
    sha256, size = _decrypt(node, item, writer)
    if sha256 != item.sha256 or size != item.size:
        raise ValidationError(
            f"Item {item.id} decrypts to bytes whose SHA-256 differs from the one recorded "
            f"at ingest; nothing was written. Run 'comity evidence show {item.id} --check'.",
            fields={"item": "damaged"},
        )


def list_items(node: Node, actor: Actor) -> Sequence[VaultItem]:
    """Every item held, oldest first."""
    require_recorded(node, actor, Permission.EVIDENCE_READ, "evidence.list")
    with node.uow() as uow:
        return uow.session.scalars(
            select(VaultItem).order_by(VaultItem.added_at, VaultItem.id)
        ).all()


def list_with_lineage(node: Node, actor: Actor) -> Sequence[ListedItem]:
    """Every item held, oldest first, with its parent if derived and its deletion time if
    deleted."""
    found = list_items(node, actor)
    with node.uow() as uow:
        parents = {row.item_id: row for row in uow.session.scalars(select(VaultDerivation))}
        deleted = dict(
            uow.session.execute(select(VaultTombstone.item_id, VaultTombstone.deleted_at)).all()
        )
    return [ListedItem(item, parents.get(item.id), deleted.get(item.id)) for item in found]


def get_item(node: Node, actor: Actor, item_id: str) -> ItemView:
    """One item with its custody chain, extracted metadata, lineage and tombstone (whose
    legal reference only holders of ``evidence:delete`` see)."""
    require_recorded(node, actor, Permission.EVIDENCE_READ, "evidence.show", item_id)
    item = _item(node, item_id)
    with node.uow() as uow:
        session = uow.session
        custody = session.scalars(
            select(VaultCustody).where(VaultCustody.item_id == item_id).order_by(VaultCustody.id)
        ).all()
        metadata = session.get(VaultMetadata, item_id)
        derivation = derivation_of(session, item_id)
        derived = children_of(session, item_id)
        gone = tombstone(session, item_id, disclose=actor.can(Permission.EVIDENCE_DELETE))
        groups = groups_of(session, item_id)
        tokens = item_tokens(session, item_id)
    return ItemView(item, custody, metadata, derivation, derived, gone, groups, tokens)


def _target(out_path: Path, *, force: bool) -> Path:
    if out_path.is_dir():
        raise ValidationError(
            f"{out_path} is a directory; give the name of the file to write.",
            fields={"out": "directory"},
        )
    if not out_path.parent.is_dir():
        raise ValidationError(
            f"The directory {out_path.parent} does not exist.", fields={"out": "no_directory"}
        )
    if out_path.exists() and not force:
        raise Conflict(
            f"{out_path} already exists; choose another name or pass --force to replace it.",
            fields={"out": "exists"},
        )
    return out_path


def decrypt_verified(node: Node, item: VaultItem, directory: Path) -> BinaryIO:
    """The item's plaintext in an unnamed temporary file in ``directory`` (gone when it is
    closed, or the process ends), read back from the start; refused, with nothing left
    behind, unless it is exactly what was recorded at ingest."""
    plaintext = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - returned open
    try:
        _decrypt_checked(node, item, plaintext)
        plaintext.seek(0)
    except BaseException:
        plaintext.close()
        raise
    return plaintext


def record_access(
    node: Node, actor: Actor, item: VaultItem, action: str, detail: dict[str, str]
) -> int:
    """Record that ``actor`` had the item's content (``download``, ``view``): the custody
    row, the ledger event ``evidence.<action>`` and the audit record ``evidence.<action>``
    with ``detail``, in one unit of work; the ledger index."""
    with node.uow() as uow:
        session = uow.session
        event = record_event(
            session,
            actor,
            f"evidence.{action}",
            subject_type="vault_item",
            subject_id=item.id,
            digests={"sha256": item.sha256},
        )
        session.add(
            VaultCustody(
                item_id=item.id,
                action=action,
                actor=actor.label[:100],
                ledger_index=event.index,
                detail={},
            )
        )
        record(
            session,
            actor,
            f"evidence.{action}",
            target_type="vault_item",
            target_id=item.id,
            detail={**detail, "ledger": event.index},
        )
        uow.commit()
    return event.index


def download(
    node: Node, actor: Actor, item_id: str, out_path: Path, *, force: bool = False
) -> Downloaded:
    """Decrypt the item into ``out_path`` (see the module docstring) and record it."""
    require_recorded(node, actor, Permission.EVIDENCE_DOWNLOAD, "evidence.download", item_id)
    item = _item(node, item_id)
    with node.uow() as uow:
        refuse_deleted(uow.session, item, "it cannot be downloaded")
    target = _target(out_path, force=force)
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    try:
        with os.fdopen(handle, "wb") as writer:
            _decrypt_checked(node, item, writer)
            writer.flush()
            os.fsync(writer.fileno())
        if force:
            os.replace(temporary, target)
        else:
            try:
                os.link(temporary, target)  # fails, rather than replaces, if one appeared
            except FileExistsError:
                raise Conflict(
                    f"{target} already exists; choose another name or pass --force.",
                    fields={"out": "exists"},
                ) from None
            os.unlink(temporary)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)

    index = record_access(node, actor, item, "download", {"path": str(target.resolve())})
    return Downloaded(item.id, target, item.size, item.sha256, index)


def inspect_item(
    node: Node, store: BlobStore, item: VaultItem, gone: Tombstone | None
) -> list[tuple[Damage, str]]:
    """What is damaged in ``item`` (deleted, if ``gone``): its blob re-hashed, and
    decrypted to nowhere against the SHA-256 and size it records; its metadata row
    against the commitment of its ingest entry."""
    problems: list[tuple[Damage, str]] = []
    with node.uow() as uow:
        changed = metadata_problem(uow.session, item)
    if changed is not None:
        problems.append((Damage.METADATA_CHANGED, changed))
    if gone is not None:
        if store.exists(item.blob_name):
            problems.append(
                (
                    Damage.DELETED_BLOB_PRESENT,
                    f"The blob {item.blob_name} is still in the store; approve request "
                    f"#{gone.request_id} again to remove it.",
                )
            )
    elif not store.exists(item.blob_name):
        problems.append((Damage.BLOB_MISSING, f"The blob {item.blob_name} is missing."))
    else:
        if not store.check(item.blob_name):
            problems.append(
                (
                    Damage.BLOB_CHANGED,
                    f"The bytes of the blob {item.blob_name} no longer hash to its name.",
                )
            )
        sink = _HashingSink()
        try:
            sha256, size = _decrypt(node, item, sink)
        except AgeError as exc:
            problems.append(
                (
                    Damage.BLOB_UNREADABLE,
                    f"The blob does not decrypt ({exc.failure.value}): {exc.message}.",
                )
            )
        else:
            if sha256 != item.sha256 or size != item.size:
                problems.append(
                    (
                        Damage.PLAINTEXT_CHANGED,
                        f"The blob decrypts to {size} bytes with SHA-256 {sha256}; the item "
                        f"records {item.size} bytes with SHA-256 {item.sha256}.",
                    )
                )
    return problems


def check_item(node: Node, actor: Actor, item_id: str) -> CheckReport:
    """Re-hash the item's blob and decrypt it to nowhere, naming every damaged part."""
    require_recorded(node, actor, Permission.EVIDENCE_READ, "evidence.check", item_id)
    item = _item(node, item_id)
    with node.uow() as uow:
        gone = tombstone(uow.session, item_id, disclose=actor.can(Permission.EVIDENCE_DELETE))
    problems = inspect_item(node, blob_store(node), item, gone)
    with node.uow() as uow:
        record(
            uow.session,
            actor,
            "evidence.check",
            target_type="vault_item",
            target_id=item.id,
            detail={
                "ok": not problems,
                "problems": [damage.value for damage, _ in problems],
                "deleted": gone is not None,
            },
        )
        uow.commit()
    return CheckReport(item.id, problems, gone)
