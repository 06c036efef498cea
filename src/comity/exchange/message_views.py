"""What operators and readers see of messages, never their content: each peer with its
reachability and queues, the outbox per recipient, the inbox, the dead letters (failed
deliveries not yet sent anew), and one message with its receipts. Read-only; each view
needs ``messages:read`` or ``messages:manage``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session, aliased

from comity.errors import NotFound
from comity.exchange.message_models import (
    DeliveryState,
    ExchangeDelivery,
    ExchangeInboxMessage,
    ExchangeOutboxMessage,
    ExchangeReceipt,
    InboxState,
)
from comity.exchange.messaging import local_node_id, require_any
from comity.exchange.models import ExchangePeer
from comity.exchange.outbox import RECEIPT_TYPES
from comity.exchange.receipts import parse_receipt
from comity.identity.models import Organisation
from comity.identity.permissions import Actor, Permission
from comity.node import Node

MAX_ROWS = 500
_VIEW = (Permission.MESSAGES_READ, Permission.MESSAGES_MANAGE)


@dataclass(frozen=True)
class PeerQueues:
    """A peer as message delivery sees it. ``reachable`` is what the latest post to it
    showed (``None`` before any)."""

    node_id: str
    name: str
    status: str
    endpoint: str
    queued: int
    accepted: int
    delivered: int
    failed: int
    held_here: int
    last_attempt_at: dt.datetime | None
    reachable: bool | None
    last_error: str
    last_received_at: dt.datetime | None


@dataclass(frozen=True)
class OutboxEntry:
    message: ExchangeOutboxMessage
    delivery: ExchangeDelivery


@dataclass(frozen=True)
class ReceiptView:
    kind: str
    direction: str
    time: dt.datetime
    sha256: str
    reason: str
    detail: str


@dataclass(frozen=True)
class MessageView:
    """One message, sent (``outbox`` with its deliveries) or received (``inbox``)."""

    message_id: str
    direction: str
    sender: str
    conversation_id: str
    sequence: int
    message_type: str
    envelope_sha256: str
    created_at: dt.datetime
    expires_at: dt.datetime
    sent: ExchangeOutboxMessage | None
    deliveries: tuple[ExchangeDelivery, ...]
    received: ExchangeInboxMessage | None
    receipts: tuple[ReceiptView, ...]


def _names(session: Session) -> dict[str, str]:
    return dict(
        session.execute(
            select(ExchangePeer.node_id, Organisation.name).join(
                Organisation, Organisation.id == ExchangePeer.organisation_id
            )
        ).all()
    )


def peer_names(node: Node, actor: Actor) -> dict[str, str]:
    """The organisation name of every peer, by node id, to show people."""
    require_any(actor, *_VIEW)
    with node.uow() as uow:
        return _names(uow.session)


def peer_queues(node: Node, actor: Actor) -> list[PeerQueues]:
    """Every peer with its deliveries by state, messages held here from it, and how the
    latest post to it went (counted in the database, not loaded)."""
    require_any(actor, *_VIEW)
    with node.uow() as uow:
        session = uow.session
        names = _names(session)
        states: dict[str, Counter[str]] = defaultdict(Counter)
        for recipient, state, count in session.execute(
            select(ExchangeDelivery.recipient, ExchangeDelivery.state, func.count()).group_by(
                ExchangeDelivery.recipient, ExchangeDelivery.state
            )
        ).all():
            states[recipient][state] = count
        received = {
            sender: (held or 0, last)
            for sender, held, last in session.execute(
                select(
                    ExchangeInboxMessage.sender,
                    func.sum(case((ExchangeInboxMessage.state == InboxState.HELD, 1), else_=0)),
                    func.max(ExchangeInboxMessage.received_at),
                ).group_by(ExchangeInboxMessage.sender)
            ).all()
        }
        found: list[PeerQueues] = []
        for peer in session.scalars(select(ExchangePeer).order_by(ExchangePeer.node_id)):
            latest = session.scalars(
                select(ExchangeDelivery)
                .where(
                    ExchangeDelivery.recipient == peer.node_id,
                    ExchangeDelivery.last_attempt_at.is_not(None),
                )
                .order_by(ExchangeDelivery.last_attempt_at.desc(), ExchangeDelivery.id.desc())
                .limit(1)
            ).first()
            counts = states[peer.node_id]
            held, last_received = received.get(peer.node_id, (0, None))
            found.append(
                PeerQueues(
                    node_id=peer.node_id,
                    name=names[peer.node_id],
                    status=peer.status,
                    endpoint=peer.endpoint,
                    queued=counts[DeliveryState.QUEUED],
                    accepted=counts[DeliveryState.ACCEPTED],
                    delivered=counts[DeliveryState.DELIVERED] + counts[DeliveryState.RETRIEVED],
                    failed=counts[DeliveryState.FAILED],
                    held_here=int(held),
                    last_attempt_at=latest.last_attempt_at if latest else None,
                    reachable=None if latest is None else not latest.last_error,
                    last_error=latest.last_error if latest else "",
                    last_received_at=last_received,
                )
            )
        return found


def outbox(
    node: Node, actor: Actor, *, states: Sequence[str] = (), limit: int = 100
) -> list[OutboxEntry]:
    """Deliveries, newest message first, optionally only in ``states``."""
    require_any(actor, *_VIEW)
    query = (
        select(ExchangeOutboxMessage, ExchangeDelivery)
        .join(ExchangeDelivery, ExchangeDelivery.message_id == ExchangeOutboxMessage.message_id)
        .order_by(ExchangeOutboxMessage.created_at.desc(), ExchangeDelivery.recipient)
        .limit(min(limit, MAX_ROWS))
    )
    if states:
        query = query.where(ExchangeDelivery.state.in_(list(states)))
    with node.uow() as uow:
        return [OutboxEntry(m, d) for m, d in uow.session.execute(query).all()]


def _not_sent_anew() -> ColumnElement[bool]:
    """A failed delivery that was not sent anew to its recipient."""
    resent = aliased(ExchangeOutboxMessage)
    again = aliased(ExchangeDelivery)
    newer = (
        select(resent.message_id)
        .join(again, again.message_id == resent.message_id)
        .where(
            resent.resent_from == ExchangeDelivery.message_id,
            again.recipient == ExchangeDelivery.recipient,
        )
        .exists()
    )
    return and_(ExchangeDelivery.state == DeliveryState.FAILED, ~newer)


def dead_letters(node: Node, actor: Actor, *, limit: int = 100) -> list[OutboxEntry]:
    """Failed deliveries that were not sent anew to their recipient, newest first."""
    require_any(actor, *_VIEW)
    query = (
        select(ExchangeOutboxMessage, ExchangeDelivery)
        .join(ExchangeDelivery, ExchangeDelivery.message_id == ExchangeOutboxMessage.message_id)
        .where(_not_sent_anew())
        .order_by(ExchangeDelivery.failed_at.desc(), ExchangeDelivery.id.desc())
        .limit(min(limit, MAX_ROWS))
    )
    with node.uow() as uow:
        return [OutboxEntry(m, d) for m, d in uow.session.execute(query).all()]


def count_dead_letters(session: Session, actor: Actor) -> int:
    """How many deliveries :func:`dead_letters` lists, in the caller's session (for the
    home page's alert)."""
    require_any(actor, *_VIEW)
    query = select(func.count(ExchangeDelivery.id)).where(_not_sent_anew())
    return session.scalar(query) or 0


def inbox(
    node: Node, actor: Actor, *, receipts: bool = False, limit: int = 100
) -> list[ExchangeInboxMessage]:
    """Messages received, newest first; the receipts peers sent as messages only with
    ``receipts``."""
    require_any(actor, *_VIEW)
    query = (
        select(ExchangeInboxMessage)
        .order_by(ExchangeInboxMessage.received_at.desc(), ExchangeInboxMessage.id.desc())
        .limit(min(limit, MAX_ROWS))
    )
    if not receipts:
        query = query.where(~ExchangeInboxMessage.message_type.startswith(RECEIPT_TYPES))
    with node.uow() as uow:
        return list(uow.session.scalars(query))


def _receipts(rows: Sequence[ExchangeReceipt]) -> tuple[ReceiptView, ...]:
    views = []
    for row in rows:
        receipt = parse_receipt(row.document).receipt
        views.append(
            ReceiptView(
                kind=row.kind,
                direction=row.direction,
                time=row.issued_at,
                sha256=row.sha256,
                reason=receipt.reason,
                detail=receipt.detail,
            )
        )
    return tuple(views)


def show_message(node: Node, actor: Actor, message_id: str) -> MessageView:
    """A message this node sent or received, with its deliveries or state and every
    receipt about it; never its content."""
    require_any(actor, *_VIEW)
    wanted = message_id.strip().lower()
    with node.uow() as uow:
        session = uow.session
        receipts = session.scalars(
            select(ExchangeReceipt)
            .where(ExchangeReceipt.message_id == wanted)
            .order_by(ExchangeReceipt.id)
        ).all()
        sent = session.get(ExchangeOutboxMessage, wanted)
        if sent is not None:
            deliveries = session.scalars(
                select(ExchangeDelivery)
                .where(ExchangeDelivery.message_id == wanted)
                .order_by(ExchangeDelivery.recipient)
            ).all()
            return MessageView(
                message_id=sent.message_id,
                direction="sent",
                sender=local_node_id(session),
                conversation_id=sent.conversation_id,
                sequence=sent.sequence,
                message_type=sent.message_type,
                envelope_sha256=sent.envelope_sha256,
                created_at=sent.created_at,
                expires_at=sent.expires_at,
                sent=sent,
                deliveries=tuple(deliveries),
                received=None,
                receipts=_receipts(receipts),
            )
        row = session.scalars(
            select(ExchangeInboxMessage).where(ExchangeInboxMessage.message_id == wanted)
        ).first()
        if row is None:
            raise NotFound(f"This node sent or received no message {message_id!r}.")
        return MessageView(
            message_id=row.message_id,
            direction="received",
            sender=row.sender,
            conversation_id=row.conversation_id,
            sequence=row.sequence,
            message_type=row.message_type,
            envelope_sha256=row.envelope_sha256,
            created_at=row.sent_at,
            expires_at=row.expires_at,
            sent=None,
            deliveries=(),
            received=row,
            receipts=_receipts(receipts),
        )
