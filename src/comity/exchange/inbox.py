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

A message held because one before it never comes is released when the missing one can no
longer arrive (:func:`release_stale_holds`): every envelope expires at most 30 days
after it was sent, and the outbox numbers messages in the order it seals them.

A peer's ``receipt.retrieval`` messages (sent when a person there opened one of ours,
:mod:`comity.exchange.reading`) are applied to our outbox as they are delivered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from comity.audit.models import Outcome
from comity.audit.services import record, record_refusal
from comity.db import utcnow
from comity.exchange.envelope import (
    DEFAULT_CLOCK_SKEW,
    Opened,
    SenderStatus,
    open_envelope,
    peek_header,
)
from comity.exchange.envelope_format import MAX_LIFETIME, Message, parse_document
from comity.exchange.errors import EnvelopeRejected, RejectReason
from comity.exchange.message_models import (
    ExchangeConversation,
    ExchangeInboxMessage,
    ExchangeReceipt,
    ExchangeSequence,
    InboxState,
    ReceiptDirection,
)
from comity.exchange.messaging import (
    add_conversation,
    local_node_id,
    open_stored,
    participants_of,
    peer_actor,
    record_change,
)
from comity.exchange.outbox import RETRIEVAL_RECEIPT_TYPE, apply_receipt
from comity.exchange.receipts import ReceiptInvalid, ReceiptKind, envelope_digest, issue
from comity.exchange.trust import sender_keys
from comity.identity.permissions import Actor
from comity.node import Node

MESSAGE_ID_REUSED = "message_id_reused"
NOT_A_PARTICIPANT = "not_a_participant"
SEQUENCE_REUSED = "sequence_reused"
SEQUENCE_PASSED = "sequence_passed"
_AFTER_SIGNATURE = frozenset(
    {
        RejectReason.MISADDRESSED,
        RejectReason.EXPIRED,
        RejectReason.FROM_THE_FUTURE,
        RejectReason.UNDECRYPTABLE,
        RejectReason.INNER_MISMATCH,
    }
)
STALE_AFTER = MAX_LIFETIME + DEFAULT_CLOCK_SKEW
"""A held message waits at most this long after it was sent for the ones before it."""


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


class _Refused(Exception):
    """A refusal of step 3, after the signature verified."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def issue_receipt(
    session: Session,
    signer: Ed25519PrivateKey,
    actor: Actor,
    kind: ReceiptKind,
    row: ExchangeInboxMessage,
    *,
    me: str,
    now: dt.datetime,
) -> bytes:
    """Sign, keep and record a receipt about a message we hold; its bytes."""
    signed = issue(
        signer,
        kind,
        message_id=row.message_id,
        sender=row.sender,
        receiver=me,
        envelope_sha256=row.envelope_sha256,
        time=now,
    )
    session.add(
        ExchangeReceipt(
            message_id=row.message_id,
            sender=row.sender,
            receiver=me,
            kind=kind.value,
            direction=ReceiptDirection.ISSUED,
            document=signed.raw,
            sha256=signed.sha256,
            issued_at=signed.receipt.time,
            stored_at=now,
        )
    )
    record_change(
        session,
        actor,
        "exchange.receipt.issue",
        message_id=row.message_id,
        digests={"envelope": row.envelope_sha256, "receipt": signed.sha256},
        data={"kind": kind.value, "sender": row.sender},
    )
    return signed.raw


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


def _retry(session: Session, data: bytes) -> Received | None:
    """The answer to bytes already accepted from a sender still confirmed, else None."""
    try:
        header = peek_header(data)
    except EnvelopeRejected:
        return None
    row = _stored(session, header.sender, header.message_id)
    if row is None or row.envelope_sha256 != envelope_digest(data):
        return None
    if sender_keys(session)(header.sender).status is not SenderStatus.CONFIRMED:
        return None
    return Received(ReceiveOutcome.DUPLICATE, _issued(session, row), header.message_id)


def _process_receipt(
    session: Session, node: Node, actor: Actor, row: ExchangeInboxMessage, now: dt.datetime
) -> None:
    """A peer's retrieval receipt for one of our messages, applied to our outbox. A bad
    one is audited; the message that carried it stays accepted."""
    row.retrieved_at = now
    row.retrieved_by = "system"
    body = open_stored(row.envelope, node.keys.encryption_key()).body
    try:
        apply_receipt(session, actor, body, receiver=row.sender, now=now)
    except ReceiptInvalid as exc:
        record(
            session,
            actor,
            "messages.receipt_invalid",
            target_type="message",
            target_id=row.message_id,
            outcome=Outcome.FAILURE,
            detail={"sender": row.sender, "reason": exc.message},
        )


def _release(
    session: Session,
    node: Node,
    signer: Ed25519PrivateKey,
    actor: Actor,
    state: ExchangeSequence,
    *,
    me: str,
    now: dt.datetime,
) -> list[bytes]:
    """Deliver, in order, the held messages of one sender in one conversation from the
    next expected number on; their delivery receipts."""
    receipts: list[bytes] = []
    while True:
        row = session.scalars(
            select(ExchangeInboxMessage).where(
                ExchangeInboxMessage.conversation_id == state.conversation_id,
                ExchangeInboxMessage.sender == state.sender,
                ExchangeInboxMessage.sequence == state.next_expected,
                ExchangeInboxMessage.state == InboxState.HELD,
            )
        ).first()
        if row is None:
            return receipts
        row.state = InboxState.DELIVERED
        row.delivered_at = now
        state.next_expected += 1
        receipts.append(
            issue_receipt(session, signer, actor, ReceiptKind.DELIVERY, row, me=me, now=now)
        )
        if row.message_type == RETRIEVAL_RECEIPT_TYPE:
            _process_receipt(session, node, actor, row, now)


def _conversation_state(session: Session, opened: Opened, me: str) -> ExchangeSequence:
    """The sender's place in the message's conversation (made on its first message),
    refusing a sender that is not one of its participants."""
    header, message = opened.header, opened.message
    conversation = session.get(ExchangeConversation, message.conversation_id)
    if conversation is None:
        conversation = add_conversation(
            session,
            message.conversation_id,
            participants=[name for name in (header.sender, *header.recipients) if name != me],
            started_by=header.sender,
        )
    elif header.sender not in participants_of(conversation):
        raise _Refused(
            NOT_A_PARTICIPANT,
            f"{header.sender} does not take part in the conversation {conversation.id}.",
        )
    state = session.get(ExchangeSequence, (conversation.id, header.sender))
    if state is None:
        state = ExchangeSequence(
            conversation_id=conversation.id, sender=header.sender, next_expected=1
        )
        session.add(state)
        session.flush()
    return state


def _check_order(session: Session, state: ExchangeSequence, message: Message) -> None:
    if message.sequence < state.next_expected:
        raise _Refused(
            SEQUENCE_PASSED,
            f"The conversation {state.conversation_id} is past message {message.sequence} "
            f"of {state.sender}: it expects {state.next_expected}.",
        )
    taken = session.scalars(
        select(ExchangeInboxMessage.message_id).where(
            ExchangeInboxMessage.conversation_id == state.conversation_id,
            ExchangeInboxMessage.sender == state.sender,
            ExchangeInboxMessage.sequence == message.sequence,
        )
    ).first()
    if taken is not None:
        raise _Refused(
            SEQUENCE_REUSED,
            f"Message {message.sequence} of {state.sender} in the conversation "
            f"{state.conversation_id} is already held here, as {taken}.",
        )


def _accept(
    node: Node, data: bytes, *, ip: str | None, user_agent: str | None, now: dt.datetime
) -> Received:
    with node.uow() as uow:
        session = uow.session
        retry = _retry(session, data)
        if retry is not None:
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
        if _stored(session, header.sender, header.message_id) is not None:
            raise _Refused(
                MESSAGE_ID_REUSED,
                f"{header.sender} already sent a message {header.message_id}, with other bytes.",
            )
        state = _conversation_state(session, opened, me)
        _check_order(session, state, message)
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
        receipts += _release(session, node, signer, actor, state, me=me, now=now)
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
    except _Refused as exc:
        signed, reason, explanation = True, exc.reason, exc.message
    return _refuse(
        node, data, reason, explanation, signed=signed, ip=ip, user_agent=user_agent, now=moment
    )


def release_stale_holds(node: Node, actor: Actor, *, now: dt.datetime | None = None) -> int:
    """Deliver held messages whose missing predecessors can no longer arrive (see the
    module); the number of conversations moved on. Each gap is audited and on the
    ledger with the numbers skipped."""
    moment = now or utcnow()
    moved = 0
    with node.uow() as uow:
        session = uow.session
        stale = session.execute(
            select(ExchangeInboxMessage.conversation_id, ExchangeInboxMessage.sender)
            .where(
                ExchangeInboxMessage.state == InboxState.HELD,
                ExchangeInboxMessage.sent_at < moment - STALE_AFTER,
            )
            .distinct()
        ).all()
        if not stale:
            return 0
        me = local_node_id(session)
        signer = node.keys.signing_key()
        for conversation_id, sender in stale:
            state = session.get_one(ExchangeSequence, (conversation_id, sender))
            first = session.scalars(
                select(ExchangeInboxMessage)
                .where(
                    ExchangeInboxMessage.conversation_id == conversation_id,
                    ExchangeInboxMessage.sender == sender,
                    ExchangeInboxMessage.state == InboxState.HELD,
                )
                .order_by(ExchangeInboxMessage.sequence)
            ).first()
            if first is None or first.sent_at >= moment - STALE_AFTER:
                continue
            record_change(
                session,
                actor,
                "exchange.conversation.gap",
                message_id=first.message_id,
                digests={"envelope": first.envelope_sha256},
                data={
                    "sender": sender,
                    "missing_from": state.next_expected,
                    "missing_to": first.sequence - 1,
                },
            )
            state.next_expected = first.sequence
            _release(session, node, signer, actor, state, me=me, now=moment)
            moved += 1
        uow.commit()
    return moved
