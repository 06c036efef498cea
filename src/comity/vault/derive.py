"""Derived copies: a redacted, cropped, transcoded, translated or transcribed version of an
item, kept as an item of its own that names its parent and the operation.

The original stays as it was (originals are write-once); the derived file is taken in by
:func:`comity.vault.ingest.add_file` like any file — streamed, encrypted, hashed, its
metadata read — with a :class:`Derivation` that adds, in the same unit of work as the
new item:

- the row of ``vault_derivations`` (the item, its parent, the operation, the note);
- the ledger event ``evidence.derive`` about the *parent* (its SHA-256 and the new
  item's, the new item's id and the operation; the note, which can name people, only as
  a salted commitment), with the parent's custody row ``derive`` pointing at it — so
  that the parent's custody chain, exported in a package, proves every copy made of it;
- in the new item's own ``evidence.ingest`` event, the parent's SHA-256
  (``digests.parent_sha256``), id and the operation (``data.derived_from``,
  ``data.operation``), so that the derived item's package proves where it came from.

A derived copy needs ``evidence:add`` and ``evidence:read`` on the parent. The parent
must exist and not have been deleted; a file whose bytes are already held is refused
(naming the item that holds them) rather than linked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.audit.services import record
from comity.errors import Conflict, NotFound, ValidationError
from comity.identity.permissions import Actor, Permission
from comity.ledger.events import record_event
from comity.node import Node
from comity.vault.access import check_text, require_recorded
from comity.vault.deletion import refuse_deleted
from comity.vault.ingest import AddResult, add_file
from comity.vault.inputs import Acquisition, Progress
from comity.vault.models import VaultCustody, VaultDerivation, VaultItem

MAX_NOTE_LENGTH = 2000


class Operation(StrEnum):
    """How a derived copy was made from its parent."""

    REDACT = "redact"
    CROP = "crop"
    TRANSCODE = "transcode"
    TRANSLATE = "translate"
    TRANSCRIBE = "transcribe"
    OTHER = "other"
    """Anything else: the note must then say what was done."""


@dataclass(frozen=True)
class Derivation:
    """The link of a new item to its parent (:class:`comity.vault.ingest.Lineage`)."""

    parent_id: str
    parent_sha256: str
    operation: str
    note: str

    def record(self, session: Session, actor: Actor, item_id: str, sha256: str) -> None:
        event = record_event(
            session,
            actor,
            "evidence.derive",
            subject_type="vault_item",
            subject_id=self.parent_id,
            digests={"sha256": self.parent_sha256, "derived_sha256": sha256},
            personal={"note": self.note} if self.note else None,
            data={"derived": item_id, "operation": self.operation},
        )
        # Checked again under the ledger's lock: a deletion approved since is seen here.
        parent = session.get(VaultItem, self.parent_id)
        if parent is None:
            raise NotFound(f"No evidence item has the id {self.parent_id!r}.")
        refuse_deleted(session, parent, "no copy can be derived from it")
        session.add(
            VaultDerivation(
                item_id=item_id,
                parent_id=self.parent_id,
                operation=self.operation,
                note=self.note,
                ledger_index=event.index,
            )
        )
        session.add(
            VaultCustody(
                item_id=self.parent_id,
                action="derive",
                actor=actor.label[:100],
                ledger_index=event.index,
                detail={"item": item_id, "operation": self.operation},
            )
        )
        record(
            session,
            actor,
            "evidence.derive",
            target_type="vault_item",
            target_id=item_id,
            detail={"parent": self.parent_id, "operation": self.operation, "ledger": event.index},
        )


def operation_of(value: str) -> Operation:
    """The operation named ``value``, or a clear refusal listing the ones there are."""
    try:
        return Operation(value.strip().lower())
    except ValueError:
        known = ", ".join(operation.value for operation in Operation)
        raise ValidationError(
            f"{value!r} is not an operation; use one of {known}.",
            fields={"operation": "unknown"},
        ) from None


def check_note(operation: Operation, note: str) -> str:
    """The note, checked: free text (line breaks allowed), required for ``other``."""
    note = check_text("note", note.strip(), max_length=MAX_NOTE_LENGTH, multiline=True)
    if operation is Operation.OTHER and not note:
        raise ValidationError(
            "Say in the note what was done to make this copy (the operation is 'other').",
            fields={"note": "missing"},
        )
    return note


def add_derived(
    node: Node,
    actor: Actor,
    parent_id: str,
    path: Path,
    operation: Operation | str,
    *,
    note: str = "",
    acquisition: Acquisition | None = None,
    progress: Progress | None = None,
) -> AddResult:
    """Take in ``path`` as a copy of item ``parent_id`` made by ``operation`` (see the
    module docstring); nothing is written if anything is refused."""
    require_recorded(node, actor, Permission.EVIDENCE_ADD, "evidence.derive")
    require_recorded(node, actor, Permission.EVIDENCE_READ, "evidence.derive", parent_id)
    kind = operation if isinstance(operation, Operation) else operation_of(operation)
    note = check_note(kind, note)
    (acquisition or Acquisition()).given()
    with node.uow() as uow:
        parent = uow.session.get(VaultItem, parent_id)
        if parent is None:
            raise NotFound(f"No evidence item has the id {parent_id!r}.")
        refuse_deleted(uow.session, parent, "no copy can be derived from it")
    derivation = Derivation(parent.id, parent.sha256, kind.value, note)
    added = add_file(node, actor, path, acquisition, progress=progress, derivation=derivation)
    if not added.created:
        raise Conflict(
            f"The bytes of {path} are already held as item {added.item_id} "
            f"({added.name}); a derived copy must differ from every item held. Nothing "
            "was added.",
            fields={"path": "held"},
        )
    return added


def derivation_of(session: Session, item_id: str) -> VaultDerivation | None:
    """How ``item_id`` was derived, or ``None`` for an original."""
    return session.get(VaultDerivation, item_id)


def children_of(session: Session, item_id: str) -> Sequence[VaultDerivation]:
    """The copies derived from ``item_id``, oldest first."""
    return session.scalars(
        select(VaultDerivation)
        .where(VaultDerivation.parent_id == item_id)
        .order_by(VaultDerivation.ledger_index)
    ).all()


def package_document(session: Session, item_id: str) -> dict[str, Any] | None:
    """What an export package says of a derived item's origin: its parent's id and
    SHA-256 and the operation (``None`` for an original). The item's ``evidence.ingest``
    entry in the package carries the same SHA-256 and operation."""
    derivation = session.get(VaultDerivation, item_id)
    if derivation is None:
        return None
    parent_sha256 = session.scalar(
        select(VaultItem.sha256).where(VaultItem.id == derivation.parent_id)
    )
    return {
        "item": derivation.parent_id,
        "sha256": parent_sha256,
        "operation": derivation.operation,
    }
