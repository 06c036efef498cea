"""Verifiable export packages: evidence items with everything a court needs to check
them without the node (format: ``docs/formats/evidence-package.md``).

:func:`export_items` writes a package directory in this order, so that an interrupted
export leaves no half package and nothing on record:

1. The permission, the items, the recipient and the target are checked; the latest
   cosigned checkpoint must cover every custody event of the items (otherwise: make a
   checkpoint first). Nothing is written before that.
2. Into a temporary directory beside the target: each item decrypted (streamed, its
   SHA-256 checked against the item) or re-encrypted to the recipient (decrypted into a
   pipe that the age encryption reads, so no plaintext touches the disk:
   :mod:`comity.vault.package_files`), with its time-stamp tokens and the web captures
   it belongs to (:mod:`comity.vault.package_context`; a group's id names all its items); the
   checkpoint and its time-stamp tokens; the provenance as CASE/UCO JSON-LD
   (:mod:`comity.vault.case_export`); the report; the manifest, and the manifest's
   signature by the node's log key. Everything is flushed to disk.
3. The directory is renamed into place (over an empty directory, never a non-empty one).
4. In one unit of work, per item: the custody row ``export``, the ledger event
   ``evidence.export`` (digests only; the recipient as a commitment) and an audit
   record. If that fails, the package is removed.

The export events are appended after the package's checkpoint, so the package cannot
prove them; the next export of the same item (after a new checkpoint) does.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.audit.services import record
from comity.db import utcnow
from comity.errors import Conflict, NotFound, ValidationError
from comity.identity.permissions import Actor, Permission
from comity.ledger import checkpoints, store, timestamping
from comity.ledger.events import record_event
from comity.ledger.models import LedgerEntry, LedgerSalt
from comity.ledger.note import sign_note
from comity.node import Node
from comity.vault.access import require_recorded
from comity.vault.age_keys import X25519Recipient
from comity.vault.captures import expand_groups
from comity.vault.case_export import case_jsonld
from comity.vault.deletion import refuse_deleted
from comity.vault.derive import package_document
from comity.vault.errors import AgeError
from comity.vault.models import VaultCustody, VaultItem
from comity.vault.package_check import (
    CHECKPOINT_FILE,
    FORMAT,
    MANIFEST_FILE,
    PROVENANCE_FILE,
    REPORT_FILE,
    SIGNATURE_FILE,
    manifest_statement,
)
from comity.vault.package_context import item_context
from comity.vault.package_files import write_item_file
from comity.vault.package_write import Progress, fsync_tree, manifest_bytes, report_text, write_file


@dataclass(frozen=True)
class ExportedItem:
    item_id: str
    path: str
    """The file's path inside the package."""
    sha256: str
    """The SHA-256 of the file in the package (the ``.age`` file when encrypted)."""
    ledger_index: int
    """The ledger entry of the ``evidence.export`` event."""


@dataclass(frozen=True)
class Exported:
    out_dir: Path
    checkpoint_size: int
    manifest_sha256: str
    items: Sequence[ExportedItem]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _target(out_dir: Path) -> Path:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise Conflict(
            f"{out_dir} already exists and is not an empty directory; give a new directory.",
            fields={"out": "exists"},
        )
    if not out_dir.parent.is_dir():
        raise ValidationError(
            f"The directory {out_dir.parent} does not exist.", fields={"out": "no_directory"}
        )
    return out_dir


def _recipient(text: str | None) -> X25519Recipient | None:
    if text is None:
        return None
    try:
        return X25519Recipient.parse(text.strip())
    except AgeError as exc:
        raise ValidationError(
            f"Not an age X25519 recipient (age1…): {exc.message}", fields={"recipient": "invalid"}
        ) from None


def _custody(session: Session, item: VaultItem) -> list[tuple[VaultCustody, bytes]]:
    rows = session.scalars(
        select(VaultCustody).where(VaultCustody.item_id == item.id).order_by(VaultCustody.id)
    ).all()
    found: list[tuple[VaultCustody, bytes]] = []
    for row in rows:
        entry = session.scalar(select(LedgerEntry.entry).where(LedgerEntry.idx == row.ledger_index))
        if entry is None:
            raise NotFound(f"Ledger entry {row.ledger_index} of item {item.id} is missing.")
        found.append((row, entry))
    return found


def _item_document(
    session: Session, item: VaultItem, *, size: int, path: str, file_sha256: str, encrypted: bool
) -> dict[str, Any]:
    custody = []
    for row, entry in _custody(session, item):
        if row.ledger_index >= size:
            raise Conflict(
                f"The latest checkpoint covers ledger entries 0 to {size - 1}, but item "
                f"{item.id} has a custody event at entry {row.ledger_index}; make a checkpoint "
                "('comity ledger checkpoint'), let witnesses cosign it, and export again."
            )
        custody.append(
            {
                "action": row.action,
                "actor": row.actor,
                "at": row.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "ledger_index": row.ledger_index,
                "entry": _b64(entry),
                "inclusion_proof": [
                    _b64(h) for h in store.inclusion_proof(session, row.ledger_index, size)
                ],
            }
        )
    salt = session.scalar(select(LedgerSalt.salt).where(LedgerSalt.idx == item.ledger_index))
    values: dict[str, str] = {"original_name": item.original_name}
    values.update({name: str(value) for name, value in item.acquisition.items()})
    file_info: dict[str, Any] = {"path": path, "encrypted": encrypted}
    if encrypted:
        file_info["sha256"] = file_sha256
    return {
        "id": item.id,
        "name": item.original_name,
        "size": item.size,
        "media_type": item.media_type,
        "sha256": item.sha256,
        "acquisition": dict(item.acquisition),
        "added_at": item.added_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "file": file_info,
        "ingest_index": item.ledger_index,
        "openings": {"salt": _b64(salt), "values": values} if salt is not None else None,
        "custody": custody,
        "derived_from": package_document(session, item.id),
    }


def _build(
    node: Node,
    actor: Actor,
    found: Sequence[VaultItem],
    *,
    folder: Path,
    recipient: X25519Recipient | None,
    progress: Progress | None,
) -> tuple[int, str, list[ExportedItem]]:
    """Write the package into ``folder``: its checkpoint size, the manifest's SHA-256 and
    each item's file."""
    with node.uow() as uow:
        session = uow.session
        checkpoint, note = checkpoints.latest_cosigned(session)
        stamps = timestamping.timestamps(session, checkpoint)
        signer = checkpoints.signer(session, node.keys)
        origin = checkpoints.origin(session)
        written: list[tuple[VaultItem, str, str]] = []
        for item in found:
            path, sha256 = write_item_file(node, item, folder, recipient, progress)
            written.append((item, path, sha256))
        documents = [
            _item_document(
                session,
                item,
                size=checkpoint.size,
                path=path,
                file_sha256=sha256,
                encrypted=recipient is not None,
            )
            for item, path, sha256 in written
        ]
        for document, (item, _, _) in zip(documents, written, strict=True):
            document.update(item_context(session, item, folder))
    timestamp_list = []
    for number, stamp in enumerate(stamps, 1):
        name = f"timestamps/{number}.tsr"
        digest = write_file(folder / name, stamp.token)
        timestamp_list.append({"path": name, "authority": stamp.authority, "sha256": digest})
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "exported_by": actor.label,
        "log": {"origin": origin, "vkey": signer.verifier().vkey},
        "recipient": str(recipient) if recipient else None,
        "checkpoint": {
            "path": CHECKPOINT_FILE,
            "size": checkpoint.size,
            "sha256": write_file(folder / CHECKPOINT_FILE, note),
            "timestamps": timestamp_list,
        },
        "items": documents,
    }
    manifest["provenance"] = {
        "path": PROVENANCE_FILE,
        "sha256": write_file(folder / PROVENANCE_FILE, case_jsonld(manifest)),
    }
    manifest["report"] = {"path": REPORT_FILE, "sha256": ""}
    manifest["report"]["sha256"] = write_file(folder / REPORT_FILE, report_text(manifest))
    encoded = manifest_bytes(manifest)
    manifest_sha256 = write_file(folder / MANIFEST_FILE, encoded)
    write_file(folder / SIGNATURE_FILE, sign_note(manifest_statement(manifest_sha256), [signer]))
    fsync_tree(folder)
    exported = [ExportedItem(item.id, path, sha, -1) for item, path, sha in written]
    return checkpoint.size, manifest_sha256, exported


def _record(
    node: Node,
    actor: Actor,
    found: Sequence[VaultItem],
    *,
    out_dir: Path,
    size: int,
    manifest_sha256: str,
    exported: Sequence[ExportedItem],
    recipient: str | None,
) -> list[ExportedItem]:
    done: list[ExportedItem] = []
    with node.uow() as uow:
        session = uow.session
        for item, result in zip(found, exported, strict=True):
            digests = {"sha256": item.sha256, "manifest_sha256": manifest_sha256}
            if recipient:
                digests["file_sha256"] = result.sha256
            event = record_event(
                session,
                actor,
                "evidence.export",
                subject_type="vault_item",
                subject_id=item.id,
                digests=digests,
                personal={"recipient": recipient} if recipient else None,
                data={"checkpoint_size": size, "encrypted": recipient is not None},
            )
            session.add(
                VaultCustody(
                    item_id=item.id,
                    action="export",
                    actor=actor.label[:100],
                    ledger_index=event.index,
                    detail={"package": str(out_dir.resolve()), "manifest_sha256": manifest_sha256},
                )
            )
            record(
                session,
                actor,
                "evidence.export",
                target_type="vault_item",
                target_id=item.id,
                detail={"package": str(out_dir.resolve()), "ledger": event.index},
            )
            done.append(ExportedItem(item.id, result.path, result.sha256, event.index))
        uow.commit()
    return done


def export_items(
    node: Node,
    actor: Actor,
    item_ids: Sequence[str],
    out_dir: Path,
    *,
    recipient: str | None = None,
    progress: Progress | None = None,
) -> Exported:
    """Write a verifiable package of ``item_ids`` into ``out_dir`` and record the export
    (see the module docstring)."""
    require_recorded(node, actor, Permission.EVIDENCE_DOWNLOAD, "evidence.export")
    if not item_ids:
        raise ValidationError("Name at least one item to export.", fields={"items": "empty"})
    parsed = _recipient(recipient)
    target = _target(out_dir)
    with node.uow() as uow:
        # A group's id stands for all its items (the files of one web capture).
        unique = list(dict.fromkeys(expand_groups(uow.session, item_ids)))
        found = [uow.session.get(VaultItem, item_id) for item_id in unique]
        latest = checkpoints.latest_cosigned(uow.session)[0]
        for item_id, item in zip(unique, found, strict=True):
            if item is None:
                raise NotFound(f"No evidence item has the id {item_id!r}.")
            refuse_deleted(uow.session, item, "it cannot be exported")
            _custody_covered(uow.session, item, latest.size)
    items = [item for item in found if item is not None]
    folder = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part"))
    try:
        size, manifest_sha256, exported = _build(
            node, actor, items, folder=folder, recipient=parsed, progress=progress
        )
        # Replaces an empty directory; fails if one with content appeared since the check.
        folder.rename(target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        done = _record(
            node,
            actor,
            items,
            out_dir=target,
            size=size,
            manifest_sha256=manifest_sha256,
            exported=exported,
            recipient=str(parsed) if parsed else None,
        )
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return Exported(target, size, manifest_sha256, done)


def _custody_covered(session: Session, item: VaultItem, size: int) -> None:
    last = session.scalar(
        select(VaultCustody.ledger_index)
        .where(VaultCustody.item_id == item.id)
        .order_by(VaultCustody.ledger_index.desc())
        .limit(1)
    )
    if last is not None and last >= size:
        raise Conflict(
            f"The latest checkpoint covers ledger entries 0 to {size - 1}, but item {item.id} "
            f"has a custody event at entry {last}; make a checkpoint ('comity ledger "
            "checkpoint'), let witnesses cosign it if they do, and export again.",
            fields={"checkpoint": "behind"},
        )
