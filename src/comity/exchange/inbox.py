"""The inbox: envelopes that peers deliver to this node, kept in order per conversation.

:func:`receive_envelope` is what ``POST /api/v1/exchange/envelopes`` calls. It needs no
permission: the envelope's signature, checked against the trust list, is the
authentication. In this order:

1. **A retry.** The exact bytes of a message already accepted from a sender that is still
   confirmed: the receipts given then are given again, and nothing changes (a sender that
   stopped between posting and storing our answer just posts again).
2. **The envelope is opened** (:func:`~comity.exchange.envelope.open_envelope`): form,
   trust, signature, addressing, times, decryption.
3. **Memory of earlier messages**: refused if that sender's message id was taken before
   with other bytes (``message_id_reused``), if the sender does not take part in the
   conversation (``not_a_participant``), or if its sequence number was taken
   (``sequence_reused``) or passed (``sequence_passed``) already.
4. **Stored and acknowledged**: the envelope is kept as it came (still encrypted to this
   node), ``held``, with a signed acceptance receipt. If it is its turn in the
   conversation, it is ``delivered`` with the messages held after it, in order, each
   with a signed delivery receipt. All in one commit, before the answer leaves.

A refusal stores nothing in the message tables and nothing on the ledger; it is written
to the audit trail in a transaction of its own. The sender gets a **signed rejection
receipt** only when its signature verified (reasons from ``misaddressed`` on, and the
refusals of step 3): a node that signs statements for anyone who posts bytes would be a
signing oracle, and unsigned callers get a plain error naming the reason instead.

Keeping conversations in order, releasing what waits for a message that can no longer
come, and the receipts this node signs: :mod:`comity.exchange.inbox_order`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from comity.audit.models import Outcome
from comity.audit.services import record_refusal
from comity.db import utcnow
from comity.exchange.envelope import (
    SenderStatus,
    open_envelope,
    peek_header,
)
from comity.exchange.envelope_format import parse_document
from comity.exchange.errors import EnvelopeRejected, RejectReason
from comity.exchange.inbox_order import (
    Refused,
    check_order,
    conversation_state,
    issue_receipt,
    release,
)
from comity.exchange.message_models import (
    ExchangeInboxMessage,
    ExchangeReceipt,
    InboxState,
    ReceiptDirection,
)
from comity.exchange.messaging import (
    local_node_id,
    peer_actor,
)
from comity.exchange.receipts import ReceiptKind, envelope_digest, issue
from comity.exchange.transport import PostAnswer
from comity.exchange.trust import sender_keys
from comity.node import Node

MESSAGE_ID_REUSED = "message_id_reused"
_AFTER_SIGNATURE = frozenset(
    {
        RejectReason.MISADDRESSED,
        RejectReason.EXPIRED,
        RejectReason.FROM_THE_FUTURE,
        RejectReason.UNDECRYPTABLE,
        RejectReason.INNER_MISMATCH,
    }
)


class ReceiveOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Received:
    """The answer to an envelope: the outcome, the signed receipts (each the exact bytes
    of one receipt document), and for a refusal its reason and explanation."""

    outcome: ReceiveOutcome
    receipts: tuple[bytes, ...]
    message_id: str = ""
    reason: str = ""
    message: str = ""


_STATUS = {
    ReceiveOutcome.ACCEPTED: 201,
    ReceiveOutcome.DUPLICATE: 200,
    ReceiveOutcome.REJECTED: 422,
}


def as_answer(received: Received) -> PostAnswer:
    """The answer to the sender: the HTTP status and JSON body of the envelope route,
    and the same in a reply bundle (:mod:`comity.exchange.bundles`)."""
    body: dict[str, Any] = {
        "message_id": received.message_id,
        "outcome": received.outcome.value,
        "receipts": [receipt.decode("utf-8") for receipt in received.receipts],
    }
    if received.outcome is ReceiveOutcome.REJECTED:
        body |= {
            "error": "envelope_rejected",
            "message": received.message,
            "fields": {"reason": received.reason},
        }
    return PostAnswer(_STATUS[received.outcome], body)


def _issued(session: Session, row: ExchangeInboxMessage) -> tuple[bytes, ...]:
    return tuple(
        session.scalars(
            select(ExchangeReceipt.document)
            .where(
                ExchangeReceipt.message_id == row.message_id,
                ExchangeReceipt.sender == row.sender,
                ExchangeReceipt.direction == ReceiptDirection.ISSUED,
                ExchangeReceipt.kind.in_([ReceiptKind.ACCEPTANCE, ReceiptKind.DELIVERY]),
            )
            .order_by(ExchangeReceipt.id)
        )
    )


def _stored(session: Session, sender: str, message_id: str) -> ExchangeInboxMessage | None:
    return session.scalars(
        select(ExchangeInboxMessage).where(
            ExchangeInboxMessage.sender == sender, ExchangeInboxMessage.message_id == message_id
        )
    ).first()


@dataclass(frozen=True)
class _Earlier:
    """What :func:`_retry` found: the message stored under the envelope's (unverified)
    sender and message id, if any, for the checks after opening it."""

    sender: str
    message_id: str
    row: ExchangeInboxMessage | None


def _retry(session: Session, data: bytes) -> Received | _Earlier | None:
    """The answer to bytes already accepted from a sender still confirmed; else what is
    stored under the ids the envelope names, or None if its header does not parse."""
    try:
        header = peek_header(data)
    except EnvelopeRejected:
        return None
    row = _stored(session, header.sender, header.message_id)
    earlier = _Earlier(header.sender, header.message_id, row)
    if row is None or row.envelope_sha256 != envelope_digest(data):
        return earlier
    if sender_keys(session)(header.sender).status is not SenderStatus.CONFIRMED:
        return earlier
    return Received(ReceiveOutcome.DUPLICATE, _issued(session, row), header.message_id)


def _accept(
    node: Node, data: bytes, *, ip: str | None, user_agent: str | None, now: dt.datetime
) -> Received:
    with node.uow() as uow:
        session = uow.session
        retry = _retry(session, data)
        if isinstance(retry, Received):
            return retry
        me = local_node_id(session)
        opened = open_envelope(
            data,
            me=me,
            identities=[node.keys.encryption_key()],
            sender_keys=sender_keys(session),
            now=now,
        )
        header, message = opened.header, opened.message
        if retry is not None and (retry.sender, retry.message_id) == (
            header.sender,
            header.message_id,
        ):
            earlier = retry.row  # read above in this transaction; nothing written since
        else:
            earlier = _stored(session, header.sender, header.message_id)
        if earlier is not None:
            raise Refused(
                MESSAGE_ID_REUSED,
                f"{header.sender} already sent a message {header.message_id}, with other bytes.",
            )
        state = conversation_state(session, opened, me)
        check_order(session, state, message)
        actor = peer_actor(header.sender, ip=ip, user_agent=user_agent)
        signer = node.keys.signing_key()
        row = ExchangeInboxMessage(
            message_id=header.message_id,
            sender=header.sender,
            conversation_id=message.conversation_id,
            sequence=message.sequence,
            message_type=message.message_type,
            envelope=data,
            envelope_sha256=envelope_digest(data),
            sent_at=header.sent_at,
            expires_at=header.expires_at,
            received_at=now,
            state=InboxState.HELD,
            retrieved_by="",
        )
        session.add(row)
        session.flush()
        receipts = [
            issue_receipt(session, signer, actor, ReceiptKind.ACCEPTANCE, row, me=me, now=now)
        ]
        receipts += release(session, node, signer, actor, state, me=me, now=now)
        uow.commit()
    return Received(ReceiveOutcome.ACCEPTED, tuple(receipts), header.message_id)


def _signed_by_sender(data: bytes, reason: RejectReason) -> bool:
    """Whether :func:`open_envelope` refused after the sender's signature verified."""
    if reason is RejectReason.MALFORMED:
        # Malformed after opening means the decrypted part; before, the document.
        try:
            parse_document(data)
        except EnvelopeRejected:
            return False
        return True
    return reason in _AFTER_SIGNATURE


def _refuse(
    node: Node,
    data: bytes,
    reason: str,
    explanation: str,
    *,
    signed: bool,
    ip: str | None,
    user_agent: str | None,
    now: dt.datetime,
) -> Received:
    try:
        header = peek_header(data)
        message_id, sender = header.message_id, header.sender
    except EnvelopeRejected:
        message_id, sender = "", ""
    receipts: tuple[bytes, ...] = ()
    if signed:
        with node.uow() as uow:
            me = local_node_id(uow.session)
        rejection = issue(
            node.keys.signing_key(),
            ReceiptKind.REJECTION,
            message_id=message_id,
            sender=sender,
            receiver=me,
            envelope_sha256=envelope_digest(data),
            time=now,
            reason=reason,
            detail=explanation,
        )
        receipts = (rejection.raw,)
    record_refusal(
        node.sessions,
        peer_actor(sender or "unknown", ip=ip, user_agent=user_agent),
        "messages.receive",
        outcome=Outcome.FAILURE,
        target_type="message",
        target_id=message_id,
        detail={
            "reason": reason,
            "sender": sender,
            "sender_verified": signed,
            "envelope": envelope_digest(data),
            "bytes": len(data),
        },
    )
    return Received(ReceiveOutcome.REJECTED, receipts, message_id, reason, explanation)


def receive_envelope(
    node: Node,
    data: bytes,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    now: dt.datetime | None = None,
) -> Received:
    """Take an envelope a peer delivers (see the module for the steps and answers)."""
    moment = now or utcnow()
    try:
        try:
            return _accept(node, data, ip=ip, user_agent=user_agent, now=moment)
        except IntegrityError:
            # The same message (or another of a new conversation) came twice at once and
            # the other request committed first: answered as a retry, or ordered, now.
            return _accept(node, data, ip=ip, user_agent=user_agent, now=moment)
    except EnvelopeRejected as exc:
        signed = _signed_by_sender(data, exc.reason)
        reason, explanation = exc.reason.value, exc.message
    except Refused as exc:
        signed, reason, explanation = True, exc.reason, exc.message
    return _refuse(
        node, data, reason, explanation, signed=signed, ip=ip, user_agent=user_agent, now=moment
    )
