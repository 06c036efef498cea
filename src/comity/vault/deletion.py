"""Legal deletion of evidence items: a recorded, two-person process that keeps a tombstone.

Originals are write-once; the only way an item's content leaves the vault is this:

1. :func:`request_deletion`: someone holding ``evidence:delete`` names the item, the
   legal grounds and the reference of the decision (a court order, a data-protection
   authority's decision). One unit of work: the request row, the ledger event
   ``evidence.deletion_requested`` (the item's SHA-256; the grounds and the reference,
   which can name people, only as salted commitments), the custody row
   ``deletion_requested`` and an audit record. An item already deleted, or with a request
   still open, is refused.
2. :func:`approve_deletion`: another person holding ``evidence:delete`` approves it (the
   requester's own approval is refused and audited). One unit of work: the tombstone
   (the item's SHA-256 and blob name, the request, the approver), the ledger event
   ``evidence.deleted`` (the SHA-256 of the original and of the blob), the custody row
   ``deleted`` and an audit record; commit; *then* the blob is removed from the store.
   A process stopped between the two leaves a blob no readable item names: approving
   the same request again removes it (and changes nothing else).

Instead of approval, an open request can be withdrawn by its requester or rejected by
another person (:mod:`comity.vault.deletion_closing`); a closed request can no longer be
approved, and the item can be the subject of a new request.

Who a person is: a user id, or for the command line the operator's label
(``cli:<login name>``) — so two people at the command line are two login names. The
item, its metadata and its custody chain stay (append-only); only the blob goes.

The readers here (:func:`tombstone`, :func:`refuse_deleted`) are what every other reader
of blobs (download, check, export, derive, ingest) asks before touching one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.audit.services import record, record_refusal
from comity.errors import Conflict, NotFound, PermissionDenied, ValidationError
from comity.identity.permissions import Actor, Permission
from comity.ledger.events import record_event
from comity.node import Node
from comity.vault.access import blob_store, check_text, require_recorded
from comity.vault.deletion_requests import DeletionRequest, find_request, refuse_closed
from comity.vault.models import (
    VaultCustody,
    VaultDeletionClosure,
    VaultDeletionRequest,
    VaultItem,
    VaultTombstone,
)

MAX_GROUNDS_LENGTH = 2000
MAX_REFERENCE_LENGTH = 200


@dataclass(frozen=True)
class Tombstone:
    """What is left of a deleted item: its hashes, and the request that was approved.
    ``reference`` and ``grounds`` are given only to holders of ``evidence:delete``."""

    item_id: str
    request_id: int
    sha256: str
    blob_name: str
    requested_by: str
    requested_at: dt.datetime
    approved_by: str
    deleted_at: dt.datetime
    ledger_index: int
    reference: str | None = None
    grounds: str | None = None


@dataclass(frozen=True)
class Approved:
    """The outcome of an approval. ``already`` when the request had been approved before
    (nothing new is recorded); ``blob_removed`` when this call removed the blob."""

    request_id: int
    item_id: str
    sha256: str
    deleted_at: dt.datetime
    ledger_index: int
    already: bool
    blob_removed: bool

    @classmethod
    def of(cls, done: VaultTombstone, *, already: bool, blob_removed: bool) -> Approved:
        """The outcome of the approval whose tombstone is ``done``."""
        return cls(
            done.request_id,
            done.item_id,
            done.sha256,
            done.deleted_at,
            done.ledger_index,
            already=already,
            blob_removed=blob_removed,
        )


def person(actor: Actor) -> str:
    """Who acts, as compared by the two-person rule: the user, or the CLI operator."""
    return (actor.user_id or actor.label)[:100]


def _view(
    tombstone_row: VaultTombstone, request: VaultDeletionRequest, *, disclose: bool
) -> Tombstone:
    return Tombstone(
        item_id=tombstone_row.item_id,
        request_id=request.id,
        sha256=tombstone_row.sha256,
        blob_name=tombstone_row.blob_name,
        requested_by=request.requested_by,
        requested_at=request.requested_at,
        approved_by=tombstone_row.approved_by,
        deleted_at=tombstone_row.deleted_at,
        ledger_index=tombstone_row.ledger_index,
        reference=request.reference if disclose else None,
        grounds=request.grounds if disclose else None,
    )


def tombstone(session: Session, item_id: str, *, disclose: bool = False) -> Tombstone | None:
    """The item's tombstone, or ``None`` if it was not deleted; the reference and grounds
    only if ``disclose``."""
    found = session.execute(
        select(VaultTombstone, VaultDeletionRequest)
        .join(VaultDeletionRequest, VaultDeletionRequest.id == VaultTombstone.request_id)
        .where(VaultTombstone.item_id == item_id)
    ).first()
    if found is None:
        return None
    return _view(found[0], found[1], disclose=disclose)


def deleted_message(gone: Tombstone) -> str:
    moment = gone.deleted_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Item {gone.item_id} was deleted on {moment} under legal process request "
        f"#{gone.request_id}"
    )


def refuse_deleted(session: Session, item: VaultItem, consequence: str) -> None:
    """Raise :class:`Conflict` naming the tombstone if ``item`` was deleted."""
    gone = tombstone(session, item.id)
    if gone is not None:
        raise Conflict(
            f"{deleted_message(gone)}; {consequence}. Its tombstone keeps its SHA-256 "
            f"{gone.sha256}.",
            fields={"item": "deleted"},
        )


def _open_request(session: Session, item_id: str) -> VaultDeletionRequest | None:
    return session.scalars(
        select(VaultDeletionRequest)
        .outerjoin(VaultTombstone, VaultTombstone.request_id == VaultDeletionRequest.id)
        .outerjoin(VaultDeletionClosure, VaultDeletionClosure.request_id == VaultDeletionRequest.id)
        .where(
            VaultDeletionRequest.item_id == item_id,
            VaultTombstone.item_id.is_(None),
            VaultDeletionClosure.request_id.is_(None),
        )
    ).first()


def _refuse_state(session: Session, item: VaultItem) -> None:
    refuse_deleted(session, item, "there is nothing left to delete")
    pending = _open_request(session, item.id)
    if pending is not None:
        raise Conflict(
            f"Item {item.id} already has an open deletion request, #{pending.id}; approve, "
            "reject or withdraw it rather than making another.",
            fields={"item": "requested"},
        )


def request_deletion(
    node: Node, actor: Actor, item_id: str, grounds: str, reference: str
) -> VaultDeletionRequest:
    """Record a request to delete ``item_id`` under a legal process (see the module
    docstring); another person must approve it."""
    require_recorded(node, actor, Permission.EVIDENCE_DELETE, "evidence.deletion_request", item_id)
    grounds = check_text("grounds", grounds.strip(), max_length=MAX_GROUNDS_LENGTH, multiline=True)
    reference = check_text("reference", reference.strip(), max_length=MAX_REFERENCE_LENGTH)
    for what, value in (("grounds", grounds), ("reference", reference)):
        if not value:
            raise ValidationError(
                f"Give the {what} of the deletion: the legal basis, and the reference of the "
                "order or decision that requires it.",
                fields={what: "missing"},
            )
    with node.uow() as uow:
        session = uow.session
        item = session.get(VaultItem, item_id)
        if item is None:
            raise NotFound(f"No evidence item has the id {item_id!r}.")
        event = record_event(
            session,
            actor,
            "evidence.deletion_requested",
            subject_type="vault_item",
            subject_id=item.id,
            digests={"sha256": item.sha256},
            personal={"grounds": grounds, "reference": reference},
        )
        # Checked under the ledger's lock, which every change to an item takes.
        _refuse_state(session, item)
        request = VaultDeletionRequest(
            item_id=item.id,
            grounds=grounds,
            reference=reference,
            requested_by=person(actor),
            ledger_index=event.index,
        )
        session.add(request)
        session.flush()
        session.add(
            VaultCustody(
                item_id=item.id,
                action="deletion_requested",
                actor=actor.label[:100],
                ledger_index=event.index,
                detail={"request": request.id},
            )
        )
        record(
            session,
            actor,
            "evidence.deletion_request",
            target_type="vault_item",
            target_id=item.id,
            detail={"request": request.id, "ledger": event.index},
        )
        uow.commit()
    return request


def _finish(node: Node, actor: Actor, found: DeletionRequest, done: VaultTombstone) -> Approved:
    """An approved request: remove its blob if a stopped approval left it behind."""
    store = blob_store(node)
    left_over = store.exists(done.blob_name)
    if left_over:
        store.delete(done.blob_name)
        with node.uow() as uow:
            record(
                uow.session,
                actor,
                "evidence.deletion_approve",
                target_type="vault_item",
                target_id=done.item_id,
                detail={"request": found.request.id, "repeat": True, "blob_removed": True},
            )
            uow.commit()
    return Approved.of(done, already=True, blob_removed=left_over)


def _record_tombstone(
    session: Session, actor: Actor, item: VaultItem, request_id: int, ledger_index: int
) -> VaultTombstone:
    done = VaultTombstone(
        item_id=item.id,
        request_id=request_id,
        sha256=item.sha256,
        blob_name=item.blob_name,
        approved_by=person(actor),
        ledger_index=ledger_index,
    )
    session.add(done)
    session.add(
        VaultCustody(
            item_id=item.id,
            action="deleted",
            actor=actor.label[:100],
            ledger_index=ledger_index,
            detail={"request": request_id},
        )
    )
    record(
        session,
        actor,
        "evidence.deletion_approve",
        target_type="vault_item",
        target_id=item.id,
        detail={"request": request_id, "sha256": item.sha256, "ledger": ledger_index},
    )
    session.flush()
    return done


def approve_deletion(node: Node, actor: Actor, request_id: int) -> Approved:
    """Approve request ``request_id`` by a person other than its requester: record the
    tombstone, then remove the blob (see the module docstring). Approving a request
    already approved only removes a blob left behind."""
    require_recorded(node, actor, Permission.EVIDENCE_DELETE, "evidence.deletion_approve")
    with node.uow() as uow:
        found = find_request(uow.session, request_id)
    if found.tombstone is not None:
        return _finish(node, actor, found, found.tombstone)
    refuse_closed(found, "it cannot be approved")
    item = found.item
    if person(actor) == found.request.requested_by:
        record_refusal(
            node.sessions,
            actor,
            "evidence.deletion_approve",
            target_type="vault_item",
            target_id=item.id,
            detail={"request": request_id, "reason": "same_person"},
        )
        raise PermissionDenied(
            f"You made deletion request #{request_id}; another person holding "
            "'evidence:delete' must approve it."
        )
    with node.uow() as uow:
        session = uow.session
        event = record_event(
            session,
            actor,
            "evidence.deleted",
            subject_type="vault_item",
            subject_id=item.id,
            digests={"sha256": item.sha256, "blob_sha256": item.blob_name.removeprefix("sha256/")},
            data={"request": request_id, "request_index": found.request.ledger_index},
        )
        # Under the ledger's lock, which every change to an item takes: an approval,
        # withdrawal or rejection committed since the request was read is seen here.
        refuse_closed(find_request(session, request_id), "it cannot be approved")
        earlier = session.get(VaultTombstone, item.id)
        if earlier is None:
            done = _record_tombstone(session, actor, item, request_id, event.index)
            uow.commit()
        elif earlier.request_id != request_id:
            refuse_deleted(session, item, f"request #{request_id} cannot be approved")
    if earlier is not None:
        # Approved by another process in the meantime: nothing new is recorded.
        return _finish(node, actor, found, earlier)
    # Only now, once the tombstone is committed: a blob is never removed without one.
    blob_store(node).delete(item.blob_name)
    return Approved.of(done, already=False, blob_removed=True)
