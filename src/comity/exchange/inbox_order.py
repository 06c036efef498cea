"""Keeping each conversation of the inbox in order, and the receipts this node issues as
a receiver. Helpers of :mod:`comity.exchange.inbox` (and of reading and delivery rounds)
that take a ``Session`` and never commit.

Each sender's messages in a conversation are numbered 1, 2, 3 …; per (conversation,
sender) this node remembers the next number it expects (``exchange_sequences``). A
message ahead of it is ``held``; when the expected one comes, it is delivered with the
held ones after it, in order (:func:`release`), each with a signed delivery receipt
(:func:`issue_receipt`). A number taken or passed already is refused (:class:`Refused`),
and so is a sender that does not take part in the conversation.

A held message waits at most :data:`STALE_AFTER` after it was sent for the ones before
it: every envelope expires at most 30 days after it was sent, and a sender's outbox
numbers its messages in the order it seals them, so a missing one can no longer come
after that. :func:`release_stale_holds`, run with each delivery round, then moves the
conversation on past the gap, on the ledger with the numbers skipped.

A peer's ``receipt.retrieval`` messages (sent when a person there opened one of ours,
:mod:`comity.exchange.reading`) are applied to our outbox as they are delivered.
"""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.audit.models import Outcome
from comity.audit.services import record
from comity.db import utcnow
from comity.exchange.envelope import DEFAULT_CLOCK_SKEW, Opened
from comity.exchange.envelope_format import MAX_LIFETIME, Message
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
    record_change,
)
from comity.exchange.outbox import RETRIEVAL_RECEIPT_TYPE
from comity.exchange.outbox_receipts import apply_receipt
from comity.exchange.receipts import ReceiptInvalid, ReceiptKind, issue
from comity.identity.permissions import Actor
from comity.node import Node

NOT_A_PARTICIPANT = "not_a_participant"
SEQUENCE_REUSED = "sequence_reused"
SEQUENCE_PASSED = "sequence_passed"

STALE_AFTER = MAX_LIFETIME + DEFAULT_CLOCK_SKEW
"""A held message waits at most this long after it was sent for the ones before it."""


class Refused(Exception):
    """A message refused for what this node remembers of its conversation."""

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


def release(
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


def conversation_state(session: Session, opened: Opened, me: str) -> ExchangeSequence:
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
        raise Refused(
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


def check_order(session: Session, state: ExchangeSequence, message: Message) -> None:
    if message.sequence < state.next_expected:
        raise Refused(
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
        raise Refused(
            SEQUENCE_REUSED,
            f"Message {message.sequence} of {state.sender} in the conversation "
            f"{state.conversation_id} is already held here, as {taken}.",
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
            release(session, node, signer, actor, state, me=me, now=moment)
            moved += 1
        uow.commit()
    return moved
