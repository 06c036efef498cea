"""What envelopes need from the trust list: who may send to this node, with which keys
(:func:`sender_keys`, the :class:`~comity.exchange.envelope.SenderKeys` that
:func:`~comity.exchange.envelope.open_envelope` asks), and which key to encrypt to for
each recipient (:func:`recipient_keys`). Read in the caller's session, so that a peer
revoked in one transaction is refused by the next."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.errors import Conflict, NotFound
from comity.exchange.envelope import UNKNOWN_SENDER, Sender, SenderKeys, SenderStatus, SigningKey
from comity.exchange.models import ExchangePeer, ExchangePeerKey, PeerStatus


def _keys(session: Session, node_id: str, use: str) -> list[ExchangePeerKey]:
    return list(
        session.scalars(
            select(ExchangePeerKey)
            .where(ExchangePeerKey.node_id == node_id, ExchangePeerKey.use == use)
            .order_by(ExchangePeerKey.valid_from, ExchangePeerKey.id)
        )
    )


def sender_keys(session: Session) -> SenderKeys:
    """The trust list as :func:`open_envelope` reads it: each peer's status and every
    signing key it ever listed, with their validity; a node not on it is unknown."""

    def lookup(node_id: str, /) -> Sender:
        peer = session.get(ExchangePeer, node_id)
        if peer is None:
            return UNKNOWN_SENDER
        return Sender(
            SenderStatus(peer.status),
            tuple(
                SigningKey(
                    Ed25519PublicKey.from_public_bytes(key.public), key.valid_from, key.valid_until
                )
                for key in _keys(session, node_id, "signing")
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
            key
            for key in _keys(session, node_id, "encryption")
            if key.valid_from <= now and (key.valid_until is None or now < key.valid_until)
        ]
        if not valid:
            raise Conflict(
                f"The peer {node_id} has no encryption key valid now; ask it for a current "
                "descriptor ('comity peers update')."
            )
        chosen[node_id] = X25519PublicKey.from_public_bytes(valid[-1].public)
    return chosen
