"""The trust list, between two real nodes (each its own keys and database): adding a peer
from its descriptor, confirming it by fingerprint, suspending, resuming, revoking, taking
a newer descriptor after a key rotation; every refusal changing nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import select

from comity.db import utcnow
from comity.errors import Conflict, NotFound, PermissionDenied, ValidationError
from comity.exchange import own_node, peers
from comity.exchange.descriptor import (
    DescriptorError,
    DescriptorKey,
    SignedDescriptor,
    parse_descriptor,
    sign_descriptor,
)
from comity.exchange.key_ids import key_id
from comity.exchange.models import ExchangePeer, ExchangePeerKey
from comity.identity.models import Organisation
from comity.identity.organisations import add_peer as add_organisation
from comity.identity.permissions import Actor, Permission
from comity.ledger.models import LedgerEntry
from comity.node import InitReport, Node, local_operator
from comity.web.app import create_app
from factories import audit_events

OPERATOR = local_operator()


def descriptor_of(node: Node, **settings: object) -> SignedDescriptor:
    configured = node.settings.model_copy(update=settings)
    with node.uow() as uow:
        return own_node.local_descriptor(uow.session, configured, node.keys)


def added(node: Node, partner: Node) -> peers.Peer:
    with node.uow() as uow:
        return peers.add_peer(uow, OPERATOR, descriptor_of(partner).raw)


def state(node: Node) -> tuple[object, ...]:
    """The trust list and the ledger's size: what a refusal must leave alone."""
    with node.uow() as uow:
        rows = uow.session.scalars(select(ExchangePeer).order_by(ExchangePeer.node_id)).all()
        keys = uow.session.scalars(select(ExchangePeerKey).order_by(ExchangePeerKey.id)).all()
        entries = len(uow.session.scalars(select(LedgerEntry.idx)).all())
        return (
            [(r.node_id, r.status, r.fingerprint, r.descriptor, r.endpoint) for r in rows],
            [(k.key_id, k.valid_from, k.valid_until) for k in keys],
            entries,
        )


def ledger_kinds(node: Node) -> list[str]:
    with node.uow() as uow:
        return list(
            uow.session.scalars(
                select(LedgerEntry.kind)
                .where(LedgerEntry.kind.like("peer.%"))
                .order_by(LedgerEntry.idx)
            )
        )


def test_the_local_descriptor_names_this_node_and_its_keys(
    node: Node, initialised: tuple[Node, InitReport]
) -> None:
    signed = descriptor_of(node, public_url="https://comity.varesh.example")
    descriptor = signed.descriptor
    with node.uow() as uow:
        organisation = uow.session.scalars(
            select(Organisation).where(Organisation.is_local.is_(True))
        ).one()
    assert descriptor.node == organisation.id
    assert descriptor.name == "Varesh Monitoring Network"
    assert descriptor.endpoints == ("https://comity.varesh.example",)
    assert descriptor.log_origin == f"comity/{organisation.id}"
    assert signed.fingerprint == initialised[1].fingerprint
    assert descriptor_of(node).descriptor.endpoints == (node.settings.listen_url,)


def test_a_peer_is_pending_until_its_fingerprint_is_confirmed(
    node: Node, partner: tuple[Node, InitReport]
) -> None:
    other, report = partner
    peer = added(node, other)
    assert peer.status == "pending"
    assert peer.row.fingerprint == report.fingerprint
    assert peer.organisation.name == "Helgar Legal Aid Collective"
    assert peer.organisation.id == peer.node_id
    assert {key.use for key in peer.keys} == {"signing", "encryption"}

    before = state(node)
    with node.uow() as uow, pytest.raises(ValidationError, match="does not match"):
        peers.confirm_peer(uow, OPERATOR, peer.node_id, "0000 " * 8)
    assert state(node) == before
    assert [e.detail["given"] for e in audit_events(node, "peer.confirm_mismatch")] == [
        "0000 " * 7 + "0000"
    ]

    spoken = report.fingerprint.replace(" ", "").upper()
    with node.uow() as uow:
        confirmed = peers.confirm_peer(uow, OPERATOR, peer.node_id, spoken)
    assert confirmed.status == "confirmed"
    assert confirmed.row.confirmed_at is not None
    assert ledger_kinds(node) == ["peer.add", "peer.confirm"]
    assert [e.target_id for e in audit_events(node, "peer.confirm")] == [peer.node_id]


def test_what_cannot_be_added_is_refused_and_changes_nothing(
    node: Node, partner: tuple[Node, InitReport]
) -> None:
    other, _ = partner
    before = state(node)
    with node.uow() as uow, pytest.raises(ValidationError, match="own descriptor"):
        peers.add_peer(uow, OPERATOR, descriptor_of(node).raw)
    raw = descriptor_of(other).raw
    with node.uow() as uow, pytest.raises(DescriptorError, match="expired"):
        peers.add_peer(uow, OPERATOR, raw, now=utcnow() + dt.timedelta(days=400))
    with node.uow() as uow, pytest.raises(DescriptorError, match="signature does not match"):
        peers.add_peer(uow, OPERATOR, raw.replace(b"Helgar", b"Hel9ar"))
    with node.uow() as uow, pytest.raises(DescriptorError, match="issued in the future"):
        peers.add_peer(uow, OPERATOR, raw, now=utcnow() - dt.timedelta(hours=1))
    reader = Actor(
        label="reader", via="test", permissions=frozenset({Permission.ORGANISATIONS_READ})
    )
    with node.uow() as uow, pytest.raises(PermissionDenied):
        peers.add_peer(uow, reader, raw)
    assert state(node) == before
    added(node, other)
    with node.uow() as uow, pytest.raises(Conflict, match="already a peer"):
        peers.add_peer(uow, OPERATOR, raw)


def test_suspend_resume_and_revoke(node: Node, partner: tuple[Node, InitReport]) -> None:
    other, report = partner
    peer = added(node, other)
    with node.uow() as uow:
        peers.suspend_peer(uow, OPERATOR, peer.node_id, reason="checking a report")
    with node.uow() as uow:
        assert peers.resume_peer(uow, OPERATOR, peer.node_id).status == "pending"
    with node.uow() as uow:
        peers.confirm_peer(uow, OPERATOR, peer.node_id, report.fingerprint)
    with node.uow() as uow:
        suspended = peers.suspend_peer(uow, OPERATOR, peer.node_id, reason="key exposed?")
    assert (suspended.status, suspended.row.status_reason) == ("suspended", "key exposed?")
    with node.uow() as uow:
        assert peers.resume_peer(uow, OPERATOR, peer.node_id).status == "confirmed"
    with node.uow() as uow:
        assert peers.revoke_peer(uow, OPERATOR, peer.node_id, reason="stolen").status == "revoked"
    before = state(node)
    for change in (peers.resume_peer, peers.suspend_peer, peers.revoke_peer):
        with node.uow() as uow, pytest.raises(Conflict, match="is revoked"):
            change(uow, OPERATOR, peer.node_id)
    with node.uow() as uow, pytest.raises(Conflict, match="is revoked"):
        peers.update_peer(uow, OPERATOR, descriptor_of(other, public_url="https://new.example").raw)
    with node.uow() as uow, pytest.raises(NotFound):
        peers.suspend_peer(uow, OPERATOR, "no-such-node")
    assert state(node) == before
    assert ledger_kinds(node) == [
        "peer.add",
        "peer.suspend",
        "peer.resume",
        "peer.confirm",
        "peer.suspend",
        "peer.resume",
        "peer.revoke",
    ]


def test_a_newer_descriptor_is_taken_only_when_signed_by_a_key_already_held(
    node: Node, partner: tuple[Node, InitReport]
) -> None:
    other, _ = partner
    first = descriptor_of(other)
    with node.uow() as uow:
        peer = peers.add_peer(uow, OPERATOR, first.raw)

    with node.uow() as uow, pytest.raises(Conflict, match="not newer"):
        peers.update_peer(uow, OPERATOR, first.raw)

    # Someone else claims the partner's node id with keys of their own.
    forger = Ed25519PrivateKey.generate()
    forged = dataclasses.replace(
        first.descriptor,
        endpoints=("https://attacker.example",),
        keys=(
            DescriptorKey("signing", forger.public_key(), first.descriptor.issued_at),
            first.descriptor.current("encryption"),
        ),
        issued_at=first.descriptor.issued_at + dt.timedelta(seconds=5),
    )
    before = state(node)
    with node.uow() as uow, pytest.raises(DescriptorError, match="not signed by a key"):
        peers.update_peer(uow, OPERATOR, sign_descriptor(forged, forger).raw)
    assert state(node) == before

    # The partner rotates its signing key, announcing it with the old one.
    old_key = other.keys.signing_key()
    new_key = Ed25519PrivateKey.generate()
    rotation = first.descriptor.issued_at + dt.timedelta(seconds=10)
    old_entry = first.descriptor.current("signing")
    rotated = dataclasses.replace(
        first.descriptor,
        endpoints=("https://comity.helgar.example",),
        keys=(
            DescriptorKey("signing", old_entry.public, old_entry.valid_from, rotation),
            first.descriptor.current("encryption"),
            DescriptorKey("signing", new_key.public_key(), rotation - dt.timedelta(seconds=1)),
        ),
        issued_at=rotation - dt.timedelta(seconds=1),
    )
    with node.uow() as uow:
        updated = peers.update_peer(uow, OPERATOR, sign_descriptor(rotated, old_key).raw)
    assert updated.row.endpoint == "https://comity.helgar.example"
    assert updated.status == "pending"
    held = {key.key_id: key for key in updated.keys}
    assert held[key_id(old_key.public_key())].valid_until == rotation
    assert held[key_id(new_key.public_key())].valid_until is None

    # From now on only the new key speaks for the partner; the old key's end stays put.
    later = dataclasses.replace(
        rotated,
        keys=(
            DescriptorKey("signing", old_entry.public, old_entry.valid_from),
            first.descriptor.current("encryption"),
            DescriptorKey("signing", new_key.public_key(), rotation - dt.timedelta(seconds=1)),
        ),
        issued_at=rotation + dt.timedelta(seconds=5),
    )
    with node.uow() as uow, pytest.raises(DescriptorError, match="not signed by a key"):
        peers.update_peer(uow, OPERATOR, sign_descriptor(later, old_key).raw)
    with node.uow() as uow:
        final = peers.update_peer(uow, OPERATOR, sign_descriptor(later, new_key).raw)
    assert {key.key_id: key.valid_until for key in final.keys}[
        key_id(old_key.public_key())
    ] == rotation
    assert final.row.fingerprint != peer.row.fingerprint
    assert ledger_kinds(node) == ["peer.add", "peer.update", "peer.update"]


def test_a_peer_registered_by_hand_is_linked_not_duplicated(
    node: Node, partner: tuple[Node, InitReport]
) -> None:
    with node.uow() as uow:
        by_hand = add_organisation(
            uow, OPERATOR, name="helgar legal aid collective", kind="legal_aid"
        )
    peer = added(node, partner[0])
    assert peer.organisation.id == by_hand.id
    with node.uow() as uow:
        listed = peers.list_peers(uow, OPERATOR)
    assert [p.node_id for p in listed] == [peer.node_id]


def test_the_descriptor_route_answers_only_where_it_is_published(node: Node) -> None:
    with TestClient(create_app(node)) as client:
        hidden = client.get("/api/v1/node/descriptor")
    assert hidden.status_code == 404
    published = dataclasses.replace(
        node, settings=node.settings.model_copy(update={"publish_descriptor": True})
    )
    with TestClient(create_app(published)) as client:
        shown = client.get("/api/v1/node/descriptor")
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "application/json"
    assert parse_descriptor(shown.content).fingerprint == descriptor_of(node).fingerprint
