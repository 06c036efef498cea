"""The trust list: the peer nodes this node knows (its own descriptor is
:mod:`comity.exchange.own_node`).

A peer is added from its signed descriptor (:mod:`comity.exchange.descriptor`) and stays
``pending`` until an administrator has compared its fingerprint with the peer's
administrator by a channel both trust and typed it in: only then is it ``confirmed``.
A peer can be suspended and resumed, and revoked for good. A newer descriptor from a peer
(new endpoints, a new key) is taken only when it is signed by a key this node already
holds for that peer; keys it no longer lists are kept, so that old messages still verify.

Every change is authorised (``organisations:manage``), audited, and an event on the
ledger with the descriptor's digest and fingerprint.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from comity.audit.services import record
from comity.db import UnitOfWork, utcnow
from comity.errors import Conflict, NotFound, ValidationError
from comity.exchange.descriptor import (
    Descriptor,
    DescriptorError,
    SignedDescriptor,
    parse_descriptor,
)
from comity.exchange.models import ExchangePeer, ExchangePeerKey, PeerStatus
from comity.identity.models import Organisation
from comity.identity.organisations import local_organisation
from comity.identity.permissions import Actor, Permission, require
from comity.ledger.events import record_event


@dataclass(frozen=True)
class Peer:
    """A peer with its organisation and every key it ever listed."""

    row: ExchangePeer
    organisation: Organisation
    keys: tuple[ExchangePeerKey, ...]

    @property
    def node_id(self) -> str:
        return self.row.node_id

    @property
    def status(self) -> str:
        return self.row.status


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _normalise_fingerprint(value: str) -> str:
    return "".join(value.split()).lower()


def _peer(session: Session, node_id: str) -> Peer:
    found = session.execute(
        select(ExchangePeer, Organisation)
        .join(Organisation, Organisation.id == ExchangePeer.organisation_id)
        .where(ExchangePeer.node_id == node_id.strip())
    ).first()
    if found is None:
        raise NotFound(f"This node knows no peer {node_id!r}; 'comity peers list' lists them.")
    row, organisation = found
    keys = session.scalars(
        select(ExchangePeerKey)
        .where(ExchangePeerKey.node_id == row.node_id)
        .order_by(ExchangePeerKey.valid_from, ExchangePeerKey.id)
    ).all()
    return Peer(row=row, organisation=organisation, keys=tuple(keys))


def _parse(data: bytes, *, now: dt.datetime) -> SignedDescriptor:
    signed = parse_descriptor(data)
    if signed.descriptor.expires_at <= now:
        raise DescriptorError(
            f"The descriptor expired on {signed.descriptor.expires_at:%Y-%m-%d}; ask the "
            "peer for a current one ('comity node descriptor' on their node)."
        )
    if signed.descriptor.issued_at > now + dt.timedelta(minutes=5):
        raise DescriptorError(
            "The descriptor is issued in the future; check the clocks of both nodes."
        )
    return signed


def _organisation_for(session: Session, descriptor: Descriptor) -> Organisation:
    """The organisation row of the peer: the one with its node id if this node made one,
    else one registered by hand under the same name and not yet a peer, else a new one."""
    found = session.get(Organisation, descriptor.node)
    if found is None:
        found = session.scalars(
            select(Organisation)
            .where(func.lower(Organisation.name) == descriptor.name.lower())
            .where(Organisation.is_local.is_(False))
            .where(
                ~select(ExchangePeer.node_id)
                .where(ExchangePeer.organisation_id == Organisation.id)
                .exists()
            )
        ).first()
    if found is None:
        if session.scalars(
            select(Organisation.id).where(func.lower(Organisation.name) == descriptor.name.lower())
        ).first():
            raise Conflict(
                f"Another organisation is already named '{descriptor.name}'; rename it "
                "before adding this peer."
            )
        found = Organisation(
            id=descriptor.node,
            name=descriptor.name,
            kind=descriptor.kind,
            country=descriptor.country,
            is_local=False,
        )
        session.add(found)
        session.flush()
    return found


def _merge_keys(session: Session, node_id: str, descriptor: Descriptor) -> list[str]:
    """Add the keys the descriptor lists that this node did not hold; end the validity of
    those it now ends. A key's end is never moved later. The ids of keys added."""
    held = {
        key.key_id: key
        for key in session.scalars(
            select(ExchangePeerKey).where(ExchangePeerKey.node_id == node_id)
        ).all()
    }
    added: list[str] = []
    for key in descriptor.keys:
        known = held.get(key.id)
        if known is None:
            session.add(
                ExchangePeerKey(
                    node_id=node_id,
                    key_id=key.id,
                    use=key.use,
                    public=key.raw,
                    valid_from=key.valid_from,
                    valid_until=key.valid_until,
                )
            )
            added.append(key.id)
        elif key.valid_until is not None and (
            known.valid_until is None or key.valid_until < known.valid_until
        ):
            known.valid_until = key.valid_until
    return added


def _event(session: Session, actor: Actor, kind: str, peer: ExchangePeer, **data: str) -> None:
    detail = {"node": peer.node_id, "fingerprint": peer.fingerprint, **data}
    record(session, actor, kind, target_type="peer", target_id=peer.node_id, detail=detail)
    record_event(
        session,
        actor,
        kind,
        subject_type="peer",
        subject_id=peer.node_id,
        digests={"descriptor": _digest(peer.descriptor)},
        data=detail,
    )


def add_peer(uow: UnitOfWork, actor: Actor, data: bytes, *, now: dt.datetime | None = None) -> Peer:
    """Add the node whose signed descriptor is ``data``, as ``pending``.

    Refused: a descriptor that does not parse or verify, has expired, is this node's own,
    or names a node already on the list (use :func:`update_peer` for a newer descriptor).
    """
    require(actor, Permission.ORGANISATIONS_MANAGE)
    moment = now or utcnow()
    signed = _parse(data, now=moment)
    descriptor = signed.descriptor
    session = uow.session
    if descriptor.node == local_organisation(session).id:
        raise ValidationError("That is this node's own descriptor; a node is not its own peer.")
    if session.get(ExchangePeer, descriptor.node) is not None:
        raise Conflict(
            f"The node {descriptor.node} is already a peer; 'comity peers update' takes a "
            "newer descriptor from it."
        )
    organisation = _organisation_for(session, descriptor)
    row = ExchangePeer(
        node_id=descriptor.node,
        organisation_id=organisation.id,
        status=PeerStatus.PENDING,
        status_reason="",
        descriptor=signed.raw,
        fingerprint=signed.fingerprint,
        endpoint=descriptor.endpoints[0],
        issued_at=descriptor.issued_at,
        expires_at=descriptor.expires_at,
        added_at=moment,
        updated_at=moment,
    )
    session.add(row)
    session.flush()
    _merge_keys(session, row.node_id, descriptor)
    _event(session, actor, "peer.add", row, name=descriptor.name, endpoint=row.endpoint)
    uow.commit()
    return _peer(session, row.node_id)


def confirm_peer(uow: UnitOfWork, actor: Actor, node_id: str, fingerprint: str) -> Peer:
    """Trust a pending peer once ``fingerprint``, read out by its administrator, matches.

    A mismatch changes nothing but is audited: it means that the descriptor was altered
    on its way, or that the two administrators are not looking at the same node.
    """
    require(actor, Permission.ORGANISATIONS_MANAGE)
    session = uow.session
    peer = _peer(session, node_id).row
    if peer.status != PeerStatus.PENDING:
        raise Conflict(
            f"The peer {peer.node_id} is {peer.status}; only a pending peer is confirmed."
        )
    if _normalise_fingerprint(fingerprint) != _normalise_fingerprint(peer.fingerprint):
        record(
            session,
            actor,
            "peer.confirm_mismatch",
            target_type="peer",
            target_id=peer.node_id,
            detail={"expected": peer.fingerprint, "given": fingerprint.strip()[:100]},
        )
        uow.commit()
        raise ValidationError(
            "That fingerprint does not match the descriptor's. Do not confirm this peer: "
            "the descriptor may have been altered on its way. Ask its administrator for the "
            "descriptor again by another channel.",
            fields={"fingerprint": "mismatch"},
        )
    peer.status = PeerStatus.CONFIRMED
    peer.confirmed_at = peer.updated_at = utcnow()
    _event(session, actor, "peer.confirm", peer)
    uow.commit()
    return _peer(session, peer.node_id)


def _change_status(
    uow: UnitOfWork,
    actor: Actor,
    node_id: str,
    *,
    allowed: set[PeerStatus],
    to: PeerStatus,
    kind: str,
    reason: str,
) -> Peer:
    require(actor, Permission.ORGANISATIONS_MANAGE)
    reason = reason.strip()
    if len(reason) > 1000:
        raise ValidationError("A reason has at most 1,000 characters.", fields={"reason": "long"})
    session = uow.session
    peer = _peer(session, node_id).row
    if peer.status not in allowed:
        raise Conflict(
            f"The peer {peer.node_id} is {peer.status}; it cannot be {kind.split('.')[1]}d."
        )
    peer.status = to
    peer.status_reason = reason
    peer.updated_at = utcnow()
    _event(session, actor, kind, peer, reason=reason)
    uow.commit()
    return _peer(session, peer.node_id)


def suspend_peer(uow: UnitOfWork, actor: Actor, node_id: str, *, reason: str = "") -> Peer:
    """Stop exchanging with a peer for now: its messages are refused until resumed."""
    return _change_status(
        uow,
        actor,
        node_id,
        allowed={PeerStatus.PENDING, PeerStatus.CONFIRMED},
        to=PeerStatus.SUSPENDED,
        kind="peer.suspend",
        reason=reason,
    )


def resume_peer(uow: UnitOfWork, actor: Actor, node_id: str, *, reason: str = "") -> Peer:
    """Lift a suspension: back to confirmed, or to pending if it never was confirmed."""
    peer = _peer(uow.session, node_id).row
    to = PeerStatus.CONFIRMED if peer.confirmed_at is not None else PeerStatus.PENDING
    return _change_status(
        uow,
        actor,
        node_id,
        allowed={PeerStatus.SUSPENDED},
        to=to,
        kind="peer.resume",
        reason=reason,
    )


def revoke_peer(uow: UnitOfWork, actor: Actor, node_id: str, *, reason: str = "") -> Peer:
    """Distrust a peer for good (a compromised key, an ended partnership). Final: its
    messages are refused from now on and it cannot be resumed or updated."""
    return _change_status(
        uow,
        actor,
        node_id,
        allowed={PeerStatus.PENDING, PeerStatus.CONFIRMED, PeerStatus.SUSPENDED},
        to=PeerStatus.REVOKED,
        kind="peer.revoke",
        reason=reason,
    )


def update_peer(
    uow: UnitOfWork,
    actor: Actor,
    data: bytes,
    *,
    node_id: str | None = None,
    now: dt.datetime | None = None,
) -> Peer:
    """Take a newer descriptor from a known peer (new endpoint, new or retired keys).

    It must be issued after the one held, and signed by a signing key this node already
    holds for the peer and that was valid when the new descriptor was issued: so a
    rotation announced by the peer's old key needs no new comparison of fingerprints,
    while a descriptor signed only by keys never seen is refused. With ``node_id``, a
    descriptor of another node is refused.
    """
    require(actor, Permission.ORGANISATIONS_MANAGE)
    moment = now or utcnow()
    signed = _parse(data, now=moment)
    descriptor = signed.descriptor
    if node_id is not None and descriptor.node != node_id:
        raise DescriptorError(f"This is the descriptor of {descriptor.node}, not of {node_id}.")
    session = uow.session
    peer = _peer(session, descriptor.node)
    row = peer.row
    if row.status == PeerStatus.REVOKED:
        raise Conflict(f"The peer {row.node_id} is revoked; its descriptors are not taken.")
    if descriptor.issued_at <= row.issued_at:
        raise Conflict("This descriptor is not newer than the one this node holds.")
    trusted = {
        key.key_id
        for key in peer.keys
        if key.use == "signing"
        and key.valid_from <= descriptor.issued_at
        and (key.valid_until is None or descriptor.issued_at < key.valid_until)
    }
    if signed.signed_by not in trusted:
        raise DescriptorError(
            "The new descriptor is not signed by a key this node holds for that peer. "
            "If the peer really replaced all its keys, revoke it and add it again, "
            "comparing fingerprints."
        )
    added = _merge_keys(session, row.node_id, descriptor)
    row.descriptor = signed.raw
    row.fingerprint = signed.fingerprint
    row.endpoint = descriptor.endpoints[0]
    row.issued_at = descriptor.issued_at
    row.expires_at = descriptor.expires_at
    row.updated_at = moment
    _event(session, actor, "peer.update", row, endpoint=row.endpoint, keys_added=" ".join(added))
    uow.commit()
    return _peer(session, row.node_id)


def list_peers(uow: UnitOfWork, actor: Actor) -> Sequence[Peer]:
    """Every peer, by organisation name."""
    require(actor, Permission.ORGANISATIONS_READ)
    rows = uow.session.scalars(
        select(ExchangePeer)
        .join(Organisation, Organisation.id == ExchangePeer.organisation_id)
        .order_by(func.lower(Organisation.name), ExchangePeer.node_id)
    ).all()
    return [_peer(uow.session, row.node_id) for row in rows]


def get_peer(uow: UnitOfWork, actor: Actor, node_id: str) -> Peer:
    require(actor, Permission.ORGANISATIONS_READ)
    return _peer(uow.session, node_id)
