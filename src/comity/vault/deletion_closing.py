"""Closing a deletion request without deleting: withdrawn by its requester, or rejected.

A request made in error, or one the legal process turned down, must not stay open for
ever: while it is open no other request can be made for the item. :func:`withdraw_deletion`
(the requester) and :func:`reject_deletion` (any other holder of ``evidence:delete``)
close it with a reason, in one unit of work: the closure row, the ledger event
``evidence.deletion_withdrawn`` or ``evidence.deletion_rejected`` (the item's SHA-256 and
the request; the reason, which can name people, only as a salted commitment), the custody
row of the same name and an audit record. Closing needs no second person: it keeps the
evidence, which is the safe direction. A closed request can no longer be approved, and the
item can then be the subject of a new request. Closing a request again changes nothing; a
request already approved cannot be closed, since its item is gone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from comity.audit.services import record, record_refusal
from comity.errors import Conflict, PermissionDenied, ValidationError
from comity.identity.permissions import Actor, Permission
from comity.ledger.events import record_event
from comity.node import Node
from comity.vault.access import check_text, require_recorded
from comity.vault.deletion import MAX_GROUNDS_LENGTH, person
from comity.vault.deletion_requests import DeletionRequest, find_request
from comity.vault.models import VaultCustody, VaultDeletionClosure

WITHDRAWN = "withdrawn"
REJECTED = "rejected"


@dataclass(frozen=True)
class Closed:
    """The outcome of closing a request; ``already`` when it had been closed before (then
    nothing new is recorded, and the fields are those of the first closure)."""

    request_id: int
    item_id: str
    outcome: str
    closed_by: str
    closed_at: dt.datetime
    ledger_index: int
    already: bool

    @classmethod
    def of(cls, found: DeletionRequest, closure: VaultDeletionClosure, *, already: bool) -> Closed:
        return cls(
            found.request.id,
            found.item.id,
            closure.outcome,
            closure.closed_by,
            closure.closed_at,
            closure.ledger_index,
            already=already,
        )


def withdraw_deletion(node: Node, actor: Actor, request_id: int, reason: str) -> Closed:
    """Withdraw request ``request_id``, which ``actor`` made (see the module docstring)."""
    return _close(node, actor, request_id, reason, WITHDRAWN)


def reject_deletion(node: Node, actor: Actor, request_id: int, reason: str) -> Closed:
    """Reject request ``request_id``, which another person made (see the module
    docstring)."""
    return _close(node, actor, request_id, reason, REJECTED)


def _close(node: Node, actor: Actor, request_id: int, reason: str, outcome: str) -> Closed:
    action = "evidence.deletion_withdraw" if outcome == WITHDRAWN else "evidence.deletion_reject"
    require_recorded(node, actor, Permission.EVIDENCE_DELETE, action)
    with node.uow() as uow:
        found = find_request(uow.session, request_id)
    if found.closure is not None:
        return Closed.of(found, found.closure, already=True)
    _refuse_approved(found)
    _refuse_wrong_person(node, actor, found, outcome, action)
    reason = check_text("reason", reason.strip(), max_length=MAX_GROUNDS_LENGTH, multiline=True)
    if not reason:
        raise ValidationError(
            f"Give the reason the request is {outcome}: it is kept with the request.",
            fields={"reason": "missing"},
        )
    with node.uow() as uow:
        session = uow.session
        event = record_event(
            session,
            actor,
            f"evidence.deletion_{outcome}",
            subject_type="vault_item",
            subject_id=found.item.id,
            digests={"sha256": found.item.sha256},
            data={"request": request_id, "request_index": found.request.ledger_index},
            personal={"reason": reason},
        )
        # Under the ledger's lock, which every change to an item takes: an approval or a
        # closure committed since the request was read is seen here.
        now = find_request(session, request_id)
        if now.closure is not None:
            return Closed.of(now, now.closure, already=True)  # the event is rolled back
        _refuse_approved(now)
        closure = VaultDeletionClosure(
            request_id=request_id,
            outcome=outcome,
            reason=reason,
            closed_by=person(actor),
            ledger_index=event.index,
        )
        session.add(closure)
        session.add(
            VaultCustody(
                item_id=found.item.id,
                action=f"deletion_{outcome}",
                actor=actor.label[:100],
                ledger_index=event.index,
                detail={"request": request_id},
            )
        )
        record(
            session,
            actor,
            action,
            target_type="vault_item",
            target_id=found.item.id,
            detail={"request": request_id, "ledger": event.index},
        )
        session.flush()
        uow.commit()
        return Closed.of(now, closure, already=False)


def _refuse_approved(found: DeletionRequest) -> None:
    if found.tombstone is not None:
        raise Conflict(
            f"Deletion request #{found.request.id} was approved on "
            f"{found.tombstone.deleted_at:%Y-%m-%d %H:%M} UTC: item {found.item.id} is "
            "deleted, and closing the request cannot bring it back.",
            fields={"request": "approved"},
        )


def _refuse_wrong_person(
    node: Node, actor: Actor, found: DeletionRequest, outcome: str, action: str
) -> None:
    """Only the requester withdraws; only someone else rejects."""
    own = person(actor) == found.request.requested_by
    if own == (outcome == WITHDRAWN):
        return
    record_refusal(
        node.sessions,
        actor,
        action,
        target_type="vault_item",
        target_id=found.item.id,
        detail={"request": found.request.id, "reason": "own" if own else "not_own"},
    )
    number = found.request.id
    if own:
        raise PermissionDenied(
            f"You made deletion request #{number}: withdraw it (comity evidence deletion "
            f"withdraw {number}) rather than rejecting it."
        )
    raise PermissionDenied(
        f"Deletion request #{number} was made by {found.request.requested_by}: only they can "
        f"withdraw it; you can reject it (comity evidence deletion reject {number})."
    )
