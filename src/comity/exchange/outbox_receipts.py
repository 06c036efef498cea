"""The sender's side of receipts: :func:`apply_receipt` checks a receipt a recipient
gave for one of our messages and moves its delivery forward (``queued`` → ``accepted``
→ ``delivered`` → ``retrieved``), or ends it on a signed rejection. Helpers that take a
``Session`` and never commit; the delivery rounds (:mod:`comity.exchange.delivery`) and
the inbox (retrieval receipts, :mod:`comity.exchange.inbox_order`) call them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.exchange.envelope import SenderStatus
from comity.exchange.message_models import (
    DeliveryState,
    ExchangeDelivery,
    ExchangeOutboxMessage,
    ExchangeReceipt,
    ReceiptDirection,
)
from comity.exchange.messaging import local_node_id, record_change
from comity.exchange.receipts import ReceiptInvalid, ReceiptKind, parse_receipt, verify_receipt
from comity.exchange.trust import sender_keys
from comity.identity.permissions import Actor

_RANK = {
    DeliveryState.QUEUED: 0,
    DeliveryState.ACCEPTED: 1,
    DeliveryState.DELIVERED: 2,
    DeliveryState.RETRIEVED: 3,
}
_REACHED = {
    ReceiptKind.ACCEPTANCE: DeliveryState.ACCEPTED,
    ReceiptKind.DELIVERY: DeliveryState.DELIVERED,
    ReceiptKind.RETRIEVAL: DeliveryState.RETRIEVED,
}


def find_delivery(session: Session, message_id: str, recipient: str) -> ExchangeDelivery | None:
    return session.scalars(
        select(ExchangeDelivery).where(
            ExchangeDelivery.message_id == message_id, ExchangeDelivery.recipient == recipient
        )
    ).first()


def apply_receipt(
    session: Session, actor: Actor, raw: bytes, *, receiver: str, now: dt.datetime
) -> ExchangeDelivery:
    """Check a receipt that ``receiver`` gave for one of our messages and record it, in
    the caller's transaction: its form, that it is about a message we sent it and the
    very bytes we sent, and its signature with the receiver's keys on our trust list.
    Raises :class:`ReceiptInvalid` (nothing recorded) otherwise. A receipt already held
    changes nothing; after a failure, a receipt is kept but the failure stays final."""
    signed = parse_receipt(raw)
    receipt = signed.receipt
    me = local_node_id(session)
    if receipt.receiver != receiver or receipt.sender != me:
        raise ReceiptInvalid(
            f"The receipt is about a message from {receipt.sender} to {receipt.receiver}, "
            f"not from this node to {receiver}."
        )
    delivery = find_delivery(session, receipt.message_id, receiver)
    if delivery is None:
        raise ReceiptInvalid(f"This node sent no message {receipt.message_id} to {receiver}.")
    sent_sha256 = session.scalars(
        select(ExchangeOutboxMessage.envelope_sha256).where(
            ExchangeOutboxMessage.message_id == delivery.message_id
        )
    ).one()
    if receipt.envelope_sha256 != sent_sha256:
        raise ReceiptInvalid(
            f"{receiver} acknowledges other envelope bytes than those sent (SHA-256 "
            f"{receipt.envelope_sha256}, sent {sent_sha256})."
        )
    peer = sender_keys(session)(receiver)
    if peer.status not in (SenderStatus.CONFIRMED, SenderStatus.SUSPENDED):
        raise ReceiptInvalid(f"{receiver} is {peer.status.value} here; its receipts are not taken.")
    verify_receipt(signed, peer.keys)
    held = session.scalars(
        select(ExchangeReceipt.id).where(
            ExchangeReceipt.message_id == receipt.message_id,
            ExchangeReceipt.sender == me,
            ExchangeReceipt.receiver == receiver,
            ExchangeReceipt.kind == receipt.kind.value,
        )
    ).first()
    if held is not None:
        return delivery
    session.add(
        ExchangeReceipt(
            message_id=receipt.message_id,
            sender=me,
            receiver=receiver,
            kind=receipt.kind.value,
            direction=ReceiptDirection.RECEIVED,
            document=signed.raw,
            sha256=signed.sha256,
            issued_at=receipt.time,
            stored_at=now,
        )
    )
    _advance(delivery, receipt.kind, receipt.time, reason=receipt.reason, detail=receipt.detail)
    record_change(
        session,
        actor,
        "exchange.receipt.receive",
        message_id=receipt.message_id,
        digests={"envelope": sent_sha256, "receipt": signed.sha256},
        data={"kind": receipt.kind.value, "receiver": receiver, "state": delivery.state},
    )
    return delivery


def _advance(
    delivery: ExchangeDelivery, kind: ReceiptKind, moment: dt.datetime, *, reason: str, detail: str
) -> None:
    """Move a delivery forward to what the receipt says; never back, never out of failed."""
    if delivery.state == DeliveryState.FAILED:
        return
    if kind is ReceiptKind.REJECTION:
        if delivery.state == DeliveryState.QUEUED:
            delivery.state = DeliveryState.FAILED
            delivery.failure = reason
            delivery.failed_at = moment
            delivery.last_error = detail
            delivery.next_attempt_at = None
        return
    if kind is ReceiptKind.ACCEPTANCE:
        delivery.accepted_at = delivery.accepted_at or moment
    elif kind is ReceiptKind.DELIVERY:
        delivery.delivered_at = delivery.delivered_at or moment
        delivery.accepted_at = delivery.accepted_at or moment
    else:  # a retrieval says that it was accepted and delivered too
        delivery.retrieved_at = delivery.retrieved_at or moment
        delivery.delivered_at = delivery.delivered_at or moment
        delivery.accepted_at = delivery.accepted_at or moment
    reached = _REACHED[kind]
    if _RANK[reached] > _RANK[DeliveryState(delivery.state)]:
        delivery.state = reached
    if _RANK[DeliveryState(delivery.state)] >= _RANK[DeliveryState.DELIVERED]:
        delivery.next_attempt_at = None
    delivery.last_error = ""
