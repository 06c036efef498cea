"""Reading received messages: :func:`read_message` decrypts a delivered message for a
person holding ``messages:read``. Every reading is audited. The first is recorded on the
message and signed as a **retrieval receipt**, which is kept and sent to the sender as a
small message of its own (type ``receipt.retrieval``, its body the receipt document)
through the outbox, with the outbox's retries, so that it survives either node stopping.
Each such receipt is a conversation of one message, so that it never waits behind, nor
holds up, the sender's other messages. The sender applies it as it arrives
(:mod:`comity.exchange.inbox`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.audit.services import record
from comity.db import utcnow
from comity.errors import ComityError, Conflict, NotFound
from comity.exchange.envelope_format import Message
from comity.exchange.inbox_order import issue_receipt
from comity.exchange.message_models import ExchangeInboxMessage, InboxState
from comity.exchange.messaging import (
    StoredEnvelopeDamaged,
    add_conversation,
    local_node_id,
    open_stored,
)
from comity.exchange.outbox import RECEIPT_TYPES, RETRIEVAL_RECEIPT_TYPE, queue_message
from comity.exchange.receipts import ReceiptKind, envelope_digest
from comity.exchange.trust import recipient_keys
from comity.identity.permissions import Actor, Permission, require
from comity.node import Node


@dataclass(frozen=True)
class ReadMessage:
    row: ExchangeInboxMessage
    message: Message
    first_reading: bool
    receipt_sent: bool
    """False when the first reading's receipt could not be queued: the sender is no
    longer a confirmed peer (the receipt is kept here all the same)."""


def received_message(session: Session, message_id: str) -> ExchangeInboxMessage:
    """The received message with that id (message ids are random, so one sender's)."""
    rows = session.scalars(
        select(ExchangeInboxMessage).where(
            ExchangeInboxMessage.message_id == message_id.strip().lower()
        )
    ).all()
    if not rows:
        raise NotFound(f"This node received no message {message_id!r}.")
    if len(rows) > 1:
        raise Conflict(f"Several senders used the message id {message_id}; refusing to guess.")
    return rows[0]


def _send_retrieval_receipt(
    session: Session, node: Node, actor: Actor, receipt: bytes, *, to: str, now: dt.datetime
) -> bool:
    try:
        recipient_keys(session, [to], now=now)
    except ComityError:
        return False
    conversation = add_conversation(
        session, str(uuid.uuid4()), participants=[to], started_by=local_node_id(session)
    )
    conversation.next_sequence = 2
    queue_message(
        session,
        node,
        actor,
        to=[to],
        conversation_id=conversation.id,
        sequence=1,
        message_type=RETRIEVAL_RECEIPT_TYPE,
        body=receipt,
        now=now,
    )
    return True


def read_message(
    node: Node, actor: Actor, message_id: str, *, now: dt.datetime | None = None
) -> ReadMessage:
    """Open a delivered message for ``actor`` (see the module)."""
    require(actor, Permission.MESSAGES_READ)
    moment = now or utcnow()
    with node.uow() as uow:
        session = uow.session
        row = received_message(session, message_id)
        if row.state == InboxState.HELD:
            raise Conflict(
                f"Message {row.message_id} is number {row.sequence} of {row.sender} in its "
                "conversation; it is held until the messages before it arrive."
            )
        if envelope_digest(row.envelope) != row.envelope_sha256:
            raise StoredEnvelopeDamaged(
                f"The stored envelope of {row.message_id} no longer matches its SHA-256."
            )
        message = open_stored(row.envelope, node.keys.encryption_key())
        first = row.retrieved_at is None and not row.message_type.startswith(RECEIPT_TYPES)
        sent = False
        if first:
            row.retrieved_at = moment
            row.retrieved_by = actor.label[:100]
            receipt = issue_receipt(
                session,
                node.keys.signing_key(),
                actor,
                ReceiptKind.RETRIEVAL,
                row,
                me=local_node_id(session),
                now=moment,
            )
            sent = _send_retrieval_receipt(session, node, actor, receipt, to=row.sender, now=moment)
        record(
            session,
            actor,
            "messages.read",
            target_type="message",
            target_id=row.message_id,
            detail={"sender": row.sender, "first": first, "receipt_sent": sent},
        )
        uow.commit()
    return ReadMessage(row, message, first, sent)
