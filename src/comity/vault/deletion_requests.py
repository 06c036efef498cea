"""Reading deletion requests (:mod:`comity.vault.deletion`): each with its item, its
tombstone once approved and its closure once withdrawn or rejected
(:mod:`comity.vault.deletion_closing`); and the refusal to act on a closed one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from comity.errors import Conflict, NotFound
from comity.identity.permissions import Actor, Permission
from comity.node import Node
from comity.vault.access import require_recorded
from comity.vault.models import (
    VaultDeletionClosure,
    VaultDeletionRequest,
    VaultItem,
    VaultTombstone,
)


@dataclass(frozen=True)
class DeletionRequest:
    """A request with its item, its tombstone once approved, and its closure once
    withdrawn or rejected (both ``None`` while it is open)."""

    request: VaultDeletionRequest
    item: VaultItem
    tombstone: VaultTombstone | None
    closure: VaultDeletionClosure | None

    @property
    def open(self) -> bool:
        return self.status == "open"

    @property
    def status(self) -> str:
        """``open``, ``approved``, ``withdrawn`` or ``rejected``."""
        if self.tombstone is not None:
            return "approved"
        return "open" if self.closure is None else self.closure.outcome


def _requests() -> Select[VaultDeletionRequest, VaultItem, VaultTombstone, VaultDeletionClosure]:
    return (
        select(VaultDeletionRequest, VaultItem, VaultTombstone, VaultDeletionClosure)
        .join(VaultItem, VaultItem.id == VaultDeletionRequest.item_id)
        .outerjoin(VaultTombstone, VaultTombstone.request_id == VaultDeletionRequest.id)
        .outerjoin(VaultDeletionClosure, VaultDeletionClosure.request_id == VaultDeletionRequest.id)
    )


def find_request(session: Session, request_id: int) -> DeletionRequest:
    """Request ``request_id`` as it stands in ``session``; :class:`NotFound` if none."""
    found = session.execute(_requests().where(VaultDeletionRequest.id == request_id)).first()
    if found is None:
        raise NotFound(f"No deletion request has the number {request_id}.")
    return DeletionRequest(*found)


def get_deletion_request(node: Node, actor: Actor, request_id: int) -> DeletionRequest:
    """One request with its item and, once approved, its tombstone."""
    require_recorded(node, actor, Permission.EVIDENCE_DELETE, "evidence.deletion_show")
    with node.uow() as uow:
        return find_request(uow.session, request_id)


def list_deletion_requests(node: Node, actor: Actor) -> Sequence[DeletionRequest]:
    """Every deletion request, open and decided, oldest first."""
    require_recorded(node, actor, Permission.EVIDENCE_DELETE, "evidence.deletion_list")
    with node.uow() as uow:
        rows = uow.session.execute(_requests().order_by(VaultDeletionRequest.id)).all()
    return [DeletionRequest(*row) for row in rows]


def refuse_closed(found: DeletionRequest, consequence: str) -> None:
    """Raise :class:`Conflict` if the request was withdrawn or rejected."""
    closure = found.closure
    if closure is not None:
        raise Conflict(
            f"Deletion request #{found.request.id} was {closure.outcome} by "
            f"{closure.closed_by} on {closure.closed_at:%Y-%m-%d %H:%M} UTC; {consequence}. "
            "If a new decision requires the deletion, make a new request.",
            fields={"request": closure.outcome},
        )
