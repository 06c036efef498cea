"""The trust list as envelopes use it, between two real nodes: a message sealed by one to
the other opens only while the sender is a confirmed peer there, and a node seals only to
confirmed peers."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from comity.db import utcnow
from comity.errors import Conflict, NotFound
from comity.exchange import own_node, peers
from comity.exchange.envelope import Opened, open_envelope, seal
from comity.exchange.errors import EnvelopeRejected, RejectReason
from comity.exchange.trust import recipient_keys, sender_keys
from comity.node import InitReport, Node, local_operator

OPERATOR = local_operator()


def node_id(node: Node) -> str:
    with node.uow() as uow:
        return own_node.local_descriptor(uow.session, node.settings, node.keys).descriptor.node


def add(node: Node, other: Node, *, confirm: bool) -> None:
    with other.uow() as uow:
        signed = own_node.local_descriptor(uow.session, other.settings, other.keys)
    with node.uow() as uow:
        peers.add_peer(uow, OPERATOR, signed.raw)
    if confirm:
        with node.uow() as uow:
            peers.confirm_peer(uow, OPERATOR, signed.descriptor.node, signed.fingerprint)


def sealed_by(sender: Node, to: Node) -> bytes:
    now = utcnow()
    with sender.uow() as uow:
        keys = recipient_keys(uow.session, [node_id(to)], now=now)
    return seal(
        sender=node_id(sender),
        signing_key=sender.keys.signing_key(),
        recipients=keys,
        conversation_id=str(uuid.uuid4()),
        sequence=1,
        message_type="referral.request",
        body=b"A client needs counsel in Helgar; details in the case file.",
        sent_at=now,
        expires_at=now + dt.timedelta(days=1),
    )


def opened_by(receiver: Node, data: bytes) -> Opened:
    with receiver.uow() as uow:
        return open_envelope(
            data,
            me=node_id(receiver),
            identities=[receiver.keys.encryption_key()],
            sender_keys=sender_keys(uow.session),
            now=utcnow(),
        )


def test_a_message_opens_only_while_its_sender_is_confirmed(
    node: Node, partner: tuple[Node, InitReport]
) -> None:
    other, _ = partner
    add(other, node, confirm=True)
    data = sealed_by(other, node)

    with pytest.raises(EnvelopeRejected) as unknown:
        opened_by(node, data)
    assert unknown.value.reason is RejectReason.UNKNOWN_SENDER

    add(node, other, confirm=False)
    with pytest.raises(EnvelopeRejected) as pending:
        opened_by(node, data)
    assert pending.value.reason is RejectReason.SENDER_NOT_CONFIRMED

    with node.uow() as uow:
        peers.confirm_peer(uow, OPERATOR, node_id(other), partner[1].fingerprint)
    opened = opened_by(node, data)
    assert opened.header.sender == node_id(other)
    assert opened.message.body.startswith(b"A client needs counsel")

    with node.uow() as uow:
        peers.suspend_peer(uow, OPERATOR, node_id(other))
    with pytest.raises(EnvelopeRejected) as suspended:
        opened_by(node, data)
    assert suspended.value.reason is RejectReason.SENDER_NOT_CONFIRMED

    with node.uow() as uow:
        peers.revoke_peer(uow, OPERATOR, node_id(other))
    with pytest.raises(EnvelopeRejected) as revoked:
        opened_by(node, data)
    assert revoked.value.reason is RejectReason.REVOKED_SENDER


def test_a_node_seals_only_to_confirmed_peers(node: Node, partner: tuple[Node, InitReport]) -> None:
    other, _ = partner
    with node.uow() as uow, pytest.raises(NotFound, match="not a peer"):
        recipient_keys(uow.session, [node_id(other)], now=utcnow())
    add(node, other, confirm=False)
    with node.uow() as uow, pytest.raises(Conflict, match="is pending"):
        recipient_keys(uow.session, [node_id(other)], now=utcnow())
    with node.uow() as uow:
        peers.confirm_peer(uow, OPERATOR, node_id(other), partner[1].fingerprint)
    with node.uow() as uow:
        keys = recipient_keys(uow.session, [node_id(other)], now=utcnow())
    assert keys[node_id(other)].public_bytes_raw() == (
        other.keys.encryption_key().public_key().public_bytes_raw()
    )
    with node.uow() as uow, pytest.raises(Conflict, match="no encryption key valid now"):
        recipient_keys(uow.session, [node_id(other)], now=utcnow() - dt.timedelta(days=3650))
