"""What envelopes need from the trust list: who may send to this node, with which keys
(:func:`sender_keys`, the :class:`~comity.exchange.envelope.SenderKeys` that
:func:`~comity.exchange.envelope.open_envelope` asks), and which key to encrypt to for
each recipient (:func:`recipient_keys`). Read in the caller's session, so that a peer
revoked in one transaction is refused by the next."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.errors import Conflict, NotFound
from comity.exchange.envelope import UNKNOWN_SENDER, Sender, SenderKeys, SenderStatus, SigningKey
from comity.exchange.models import ExchangePeer, ExchangePeerKey, PeerStatus

_KeyRow = tuple[bytes, dt.datetime, dt.datetime | None]


def _keys(session: Session, node_id: str, use: str) -> list[_KeyRow]:
    """The peer's keys of ``use`` (raw public key, valid from, valid until), read now."""
    rows = session.execute(
        select(ExchangePeerKey.public, ExchangePeerKey.valid_from, ExchangePeerKey.valid_until)
        .where(ExchangePeerKey.node_id == node_id, ExchangePeerKey.use == use)
        .order_by(ExchangePeerKey.valid_from, ExchangePeerKey.id)
    )
    return [(public, valid_from, valid_until) for public, valid_from, valid_until in rows]


@functools.lru_cache(maxsize=1024)
def _signing_public(raw: bytes) -> Ed25519PublicKey:
    """The key object for raw public bytes, built once per process: a function of the
    bytes alone, so the trust list itself is still read at every call."""
    return Ed25519PublicKey.from_public_bytes(raw)


@functools.lru_cache(maxsize=1024)
def _encryption_public(raw: bytes) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(raw)


def sender_keys(session: Session) -> SenderKeys:
    """The trust list as :func:`open_envelope` reads it: each peer's status and every
    signing key it ever listed, with their validity; a node not on it is unknown."""

    def lookup(node_id: str, /) -> Sender:
        status = session.scalars(
            select(ExchangePeer.status).where(ExchangePeer.node_id == node_id)
        ).first()
        if status is None:
            return UNKNOWN_SENDER
        return Sender(
            SenderStatus(status),
            tuple(
                SigningKey(_signing_public(public), valid_from, valid_until)
                for public, valid_from, valid_until in _keys(session, node_id, "signing")
            ),
        )

    return lookup


def recipient_keys(
    session: Session, node_ids: Iterable[str], *, now: dt.datetime
) -> dict[str, X25519PublicKey]:
    """The encryption key to seal to for each of ``node_ids``, all confirmed peers: the
    one valid ``now`` that the peer listed last. Refused (nothing sealed) if any is not
    a peer, is not confirmed, or has no valid encryption key."""
    chosen: dict[str, X25519PublicKey] = {}
    for node_id in node_ids:
        peer = session.get(ExchangePeer, node_id)
        if peer is None:
            raise NotFound(f"{node_id!r} is not a peer of this node; 'comity peers list'.")
        if peer.status != PeerStatus.CONFIRMED:
            raise Conflict(
                f"The peer {node_id} is {peer.status}; messages go only to confirmed peers."
            )
        valid = [
            public
            for public, valid_from, valid_until in _keys(session, node_id, "encryption")
            if valid_from <= now and (valid_until is None or now < valid_until)
        ]
        if not valid:
            raise Conflict(
                f"The peer {node_id} has no encryption key valid now; ask it for a current "
                "descriptor ('comity peers update')."
            )
        chosen[node_id] = _encryption_public(valid[-1])
    return chosen
