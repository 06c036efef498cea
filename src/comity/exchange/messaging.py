"""What the outbox and the inbox share: this node's id, who a peer is when it acts here,
the permission check of message commands, conversations, the record of every change
(audit trail and ledger together), and opening an envelope kept at rest.

**Conversations.** A conversation has a fixed set of participants, set by its first
message. Each node numbers its own messages in it 1, 2, 3 …, and every message goes to
all the other participants, so that each of them sees every number of that sender and
can keep them in order (a message to some of them only would leave a gap the others
wait for). Helpers here take a ``Session`` and never commit.
"""

from __future__ import annotations

import io
import weakref
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from comity.audit.services import record
from comity.errors import ComityError, PermissionDenied
from comity.exchange.envelope_format import Message, decode_inner, parse_document
from comity.exchange.message_models import ExchangeConversation
from comity.identity.organisations import local_organisation
from comity.identity.permissions import Actor, Permission
from comity.ledger.events import JsonValue, record_event
from comity.vault.age import decrypt
from comity.vault.age_keys import X25519Identity

PEER_VIA = "peer"
"""``Actor.via`` of a peer node delivering an envelope: authenticated by its signature,
holding no permission on this node."""


class StoredEnvelopeDamaged(ComityError):
    """An envelope kept in this node's database no longer opens with its key."""

    code = "stored_envelope_damaged"


def peer_actor(node_id: str, *, ip: str | None = None, user_agent: str | None = None) -> Actor:
    return Actor(label=f"peer:{node_id}", via=PEER_VIA, ip=ip, user_agent=user_agent)


_NODE_IDS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
"""This node's id for each database (engine) it was read from: it never changes once made,
and it was read for every envelope and receipt."""


def local_node_id(session: Session) -> str:
    """This node's id in descriptors and envelopes: its organisation's id."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    known = _NODE_IDS.get(engine) if isinstance(engine, Engine) else None
    if known is not None:
        return known
    node_id = local_organisation(session).id
    if isinstance(engine, Engine):
        _NODE_IDS[engine] = node_id
    return node_id


def require_any(actor: Actor, *permissions: Permission) -> None:
    """Refuse unless ``actor`` holds one of ``permissions``."""
    if not any(actor.can(permission) for permission in permissions):
        names = "' or '".join(permissions)
        raise PermissionDenied(f"You do not have the permission '{names}' needed for this.")


def record_change(
    session: Session,
    actor: Actor,
    kind: str,
    *,
    message_id: str,
    digests: Mapping[str, str],
    data: Mapping[str, JsonValue],
) -> None:
    """One change to a message: in the audit trail and on the ledger, in the caller's
    transaction. Only ids, node ids, states and digests: never a message's content."""
    detail = {"message": message_id, **data}
    record(
        session,
        actor,
        "messages." + kind.removeprefix("exchange."),
        target_type="message",
        target_id=message_id,
        detail={**detail, **digests},
    )
    record_event(
        session,
        actor,
        kind,
        subject_type="message",
        subject_id=message_id,
        digests=digests,
        data=detail,
    )


def participants_of(conversation: ExchangeConversation) -> list[str]:
    return conversation.participants.split()


def add_conversation(
    session: Session, conversation_id: str, *, participants: Sequence[str], started_by: str
) -> ExchangeConversation:
    conversation = ExchangeConversation(
        id=conversation_id,
        participants=" ".join(sorted(set(participants))),
        started_by=started_by,
        next_sequence=1,
    )
    session.add(conversation)
    session.flush()
    return conversation


def conversation_for_update(session: Session, conversation_id: str) -> ExchangeConversation | None:
    """The conversation, its row locked until the transaction ends (PostgreSQL; SQLite
    transactions here take the write lock when they begin), so that two messages sent at
    once never get the same sequence number."""
    return session.scalars(
        select(ExchangeConversation)
        .where(ExchangeConversation.id == conversation_id)
        .with_for_update()
    ).first()


def open_stored_inner(ciphertext: bytes, identity: X25519PrivateKey) -> Message:
    """The message in an age ciphertext of an inner part (an envelope's, or the copy the
    outbox keeps of what it sent), decrypted with this node's own key."""
    try:
        out = io.BytesIO()
        decrypt(
            io.BytesIO(ciphertext),
            out,
            [X25519Identity(identity.private_bytes_raw())],
            armored=False,
        )
        return decode_inner(out.getvalue())[2]
    except ComityError as exc:  # age's and the format's errors alike
        raise StoredEnvelopeDamaged(
            f"A message kept here does not open with this node's key: {exc.message}"
        ) from None


def open_stored(envelope: bytes, identity: X25519PrivateKey) -> Message:
    """The message of an envelope this node verified when it came. The sender's trust is
    not asked again: it was checked on arrival, and a peer revoked since does not make
    what it sent before unreadable."""
    try:
        ciphertext = parse_document(envelope).ciphertext
    except ComityError as exc:
        raise StoredEnvelopeDamaged(f"A stored envelope is damaged: {exc.message}") from None
    return open_stored_inner(ciphertext, identity)
