"""The outbox: the messages this node sends and where each delivery stands.

:func:`send_message` seals a message once, to all its recipients (a group message is one
envelope with a stanza for each), and stores it with one delivery per recipient, all in
one commit, before anything goes on the network: a node that stops at any moment loses
nothing, and the next delivery round (:mod:`comity.exchange.delivery`) takes it up.

A delivery goes ``queued`` → ``accepted`` → ``delivered`` → ``retrieved`` as the
recipient's signed receipts come back
(:func:`~comity.exchange.outbox_receipts.apply_receipt`), or ends ``failed``: on a
signed rejection, when no acceptance came before the receipt timeout or the envelope's
expiry (:func:`fail_delivery`), or when the recipient was revoked. **A failure is final**:
the failed delivery is never tried again. :func:`resend_message` sends the same content
to that recipient as a *new* message (new id, new envelope, new receipts) with the
original's conversation and sequence number, which fills the gap the failure left in the
recipient's conversation.

Every change is audited and on the ledger with the digests of the envelope and of the
receipt, never the content.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.db import utcnow
from comity.errors import Conflict, NotFound, ValidationError
from comity.exchange.envelope import peek_header, seal
from comity.exchange.envelope_format import Attachment, Message, encode_inner
from comity.exchange.message_models import (
    DeliveryState,
    ExchangeDelivery,
    ExchangeOutboxMessage,
)
from comity.exchange.messaging import (
    add_conversation,
    conversation_for_update,
    local_node_id,
    open_stored_inner,
    participants_of,
    record_change,
)
from comity.exchange.outbox_receipts import find_delivery
from comity.exchange.receipts import (
    envelope_digest,
)
from comity.exchange.trust import recipient_keys
from comity.identity.permissions import Actor, Permission, require
from comity.ledger.events import JsonValue
from comity.node import Node
from comity.vault.age import encrypt_bytes
from comity.vault.age_keys import X25519Recipient

RECEIPT_TYPES = "receipt."
"""Message types under this prefix are receipts this node sends by itself."""
RETRIEVAL_RECEIPT_TYPE = "receipt.retrieval"


@dataclass(frozen=True)
class SentMessage:
    message: ExchangeOutboxMessage
    deliveries: tuple[ExchangeDelivery, ...]


def _own_copy(envelope: bytes, message: Message, identity: X25519PrivateKey) -> bytes:
    """The inner part, encrypted to this node's own key (age, like the envelope)."""
    inner = encode_inner(peek_header(envelope), message)
    return encrypt_bytes(inner, [X25519Recipient(identity.public_key().public_bytes_raw())])


def queue_message(
    session: Session,
    node: Node,
    actor: Actor,
    *,
    to: Sequence[str],
    conversation_id: str,
    sequence: int,
    message_type: str,
    body: bytes,
    attachments: Sequence[Attachment] = (),
    now: dt.datetime,
    resent_from: str | None = None,
) -> SentMessage:
    """Seal a message to ``to`` (confirmed peers only) and store it with its deliveries,
    in the caller's transaction; the caller has checked permissions and numbered it."""
    me = local_node_id(session)
    settings = node.settings
    expires_at = now + dt.timedelta(hours=settings.exchange_message_hours)
    message = Message(
        conversation_id=conversation_id,
        sequence=sequence,
        message_type=message_type,
        body=body,
        attachments=tuple(attachments),
    )
    envelope = seal(
        sender=me,
        signing_key=node.keys.signing_key(),
        recipients=recipient_keys(session, to, now=now),
        conversation_id=conversation_id,
        sequence=sequence,
        message_type=message_type,
        body=body,
        attachments=attachments,
        sent_at=now,
        expires_at=expires_at,
    )
    header = peek_header(envelope)
    row = ExchangeOutboxMessage(
        message_id=header.message_id,
        conversation_id=conversation_id,
        sequence=sequence,
        message_type=message_type,
        envelope=envelope,
        envelope_sha256=envelope_digest(envelope),
        own_copy=_own_copy(envelope, message, node.keys.encryption_key()),
        sent_by=actor.label[:100],
        resent_from=resent_from,
        created_at=header.sent_at,
        expires_at=header.expires_at,
    )
    session.add(row)
    session.flush()  # before its deliveries: the tables are related by foreign keys only
    deadline = min(
        header.sent_at + dt.timedelta(hours=settings.exchange_receipt_timeout_hours),
        header.expires_at,
    )
    deliveries = [
        ExchangeDelivery(
            message_id=row.message_id,
            recipient=recipient,
            state=DeliveryState.QUEUED,
            attempts=0,
            next_attempt_at=header.sent_at,
            deadline=deadline,
            last_error="",
            failure="",
        )
        for recipient in header.recipients
    ]
    session.add_all(deliveries)
    session.flush()
    data: dict[str, JsonValue] = {"recipients": list(header.recipients)}
    if resent_from is not None:
        data["resent_from"] = resent_from
    record_change(
        session,
        actor,
        "exchange.message.send",
        message_id=row.message_id,
        digests={"envelope": row.envelope_sha256},
        data=data,
    )
    return SentMessage(row, tuple(deliveries))


def send_message(
    node: Node,
    actor: Actor,
    *,
    to: Sequence[str],
    message_type: str,
    body: bytes,
    conversation_id: str | None = None,
    attachments: Sequence[Attachment] = (),
    now: dt.datetime | None = None,
) -> SentMessage:
    """Send a message to confirmed peers: a new conversation with them, or the next
    message of ``conversation_id`` (to all its participants; ``to``, if given, must name
    exactly them). Sealed, stored and queued in one commit; delivered by the next round.
    """
    require(actor, Permission.MESSAGES_SEND)
    moment = now or utcnow()
    if message_type.startswith(RECEIPT_TYPES):
        raise ValidationError(
            f"Message types starting with '{RECEIPT_TYPES}' are kept for the receipts the "
            "node sends by itself.",
            fields={"type": "reserved"},
        )
    targets = sorted({name.strip() for name in to if name.strip()})
    with node.uow() as uow:
        session = uow.session
        me = local_node_id(session)
        if me in targets:
            raise ValidationError("A node does not send messages to itself.", fields={"to": "self"})
        if conversation_id is None:
            if not targets:
                raise ValidationError("Name at least one recipient.", fields={"to": "missing"})
            conversation = add_conversation(
                session, str(uuid.uuid4()), participants=targets, started_by=me
            )
        else:
            found = conversation_for_update(session, conversation_id.strip().lower())
            if found is None:
                raise NotFound(f"This node takes part in no conversation {conversation_id!r}.")
            conversation = found
            participants = participants_of(conversation)
            if targets and targets != participants:
                raise ValidationError(
                    f"The conversation is between this node and {', '.join(participants)}; "
                    "every message in it goes to all of them.",
                    fields={"to": "participants"},
                )
            targets = participants
        sequence = conversation.next_sequence
        conversation.next_sequence = sequence + 1
        sent = queue_message(
            session,
            node,
            actor,
            to=targets,
            conversation_id=conversation.id,
            sequence=sequence,
            message_type=message_type,
            body=body,
            attachments=attachments,
            now=moment,
        )
        uow.commit()
    return sent


def resend_message(
    node: Node, actor: Actor, message_id: str, recipient: str, *, now: dt.datetime | None = None
) -> SentMessage:
    """Send a message whose delivery to ``recipient`` failed once more, as a new message
    to that recipient alone, with the same content, conversation and sequence number.
    The failed delivery stays failed; a failure is sent anew only once."""
    require(actor, Permission.MESSAGES_MANAGE)
    moment = now or utcnow()
    with node.uow() as uow:
        session = uow.session
        delivery = find_delivery(session, message_id.strip().lower(), recipient.strip())
        if delivery is None:
            raise NotFound(f"This node sent no message {message_id!r} to {recipient!r}.")
        if delivery.state != DeliveryState.FAILED:
            raise Conflict(
                f"The delivery to {delivery.recipient} is {delivery.state}; only a failed "
                "delivery is sent anew."
            )
        again = session.scalars(
            select(ExchangeOutboxMessage.message_id)
            .join(ExchangeDelivery, ExchangeDelivery.message_id == ExchangeOutboxMessage.message_id)
            .where(
                ExchangeOutboxMessage.resent_from == delivery.message_id,
                ExchangeDelivery.recipient == delivery.recipient,
            )
        ).first()
        if again is not None:
            raise Conflict(f"It was already sent anew to {delivery.recipient}, as {again}.")
        original = session.get_one(ExchangeOutboxMessage, delivery.message_id)
        message = open_stored_inner(original.own_copy, node.keys.encryption_key())
        sent = queue_message(
            session,
            node,
            actor,
            to=[delivery.recipient],
            conversation_id=original.conversation_id,
            sequence=original.sequence,
            message_type=message.message_type,
            body=message.body,
            attachments=message.attachments,
            now=moment,
            resent_from=original.message_id,
        )
        uow.commit()
    return sent


def fail_delivery(
    session: Session,
    actor: Actor,
    delivery: ExchangeDelivery,
    *,
    failure: str,
    explanation: str,
    now: dt.datetime,
) -> None:
    """End a delivery for good with a negative outcome made here (no receipt in time, a
    revoked recipient), recorded in the caller's transaction."""
    delivery.state = DeliveryState.FAILED
    delivery.failure = failure
    delivery.failed_at = now
    delivery.next_attempt_at = None
    delivery.last_error = explanation
    message = session.get_one(ExchangeOutboxMessage, delivery.message_id)
    record_change(
        session,
        actor,
        "exchange.delivery.fail",
        message_id=delivery.message_id,
        digests={"envelope": message.envelope_sha256},
        data={"recipient": delivery.recipient, "failure": failure},
    )
