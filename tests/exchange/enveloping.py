"""Helpers of the envelope tests: fixed test nodes and keys (the same as in the worked
example of docs/formats/envelope.md), a trust list, and envelopes altered on purpose."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from comity.exchange.envelope import (
    UNKNOWN_SENDER,
    Opened,
    Sender,
    SenderStatus,
    SigningKey,
    open_envelope,
    seal,
)
from comity.exchange.envelope_format import Document, Header, parse_document, signed_bytes

NGO = "org.example.ngo-1"
PROSECUTOR = "int.example.prosecutor"
LEGAL_AID = "org.example.legal-aid"
OUTSIDER = "org.example.outsider"

T0 = dt.datetime(2025, 6, 1, 9, 30, tzinfo=dt.UTC)
CONVERSATION = "0b6f1d2e-3c4a-4e5f-8a9b-0c1d2e3f4a5b"


def key_seed(label: str) -> bytes:
    """32 bytes derived from ``label``: TEST KEYS ONLY, printed in the format document."""
    return hashlib.sha256(b"comity envelope test key: " + label.encode()).digest()


def signing(label: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(key_seed(label))


def encryption(label: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(key_seed(label))


@dataclass
class TrustList:
    """A fake of the peers' trust list: a :class:`SenderKeys` over a dictionary."""

    senders: dict[str, Sender] = field(default_factory=dict)

    def __call__(self, node_id: str, /) -> Sender:
        return self.senders.get(node_id, UNKNOWN_SENDER)

    def add(
        self,
        node_id: str,
        *keys: SigningKey,
        status: SenderStatus = SenderStatus.CONFIRMED,
    ) -> TrustList:
        self.senders[node_id] = Sender(status, tuple(keys))
        return self


def trusting_ngo(status: SenderStatus = SenderStatus.CONFIRMED) -> TrustList:
    """The prosecutor's trust list: the NGO, with its one signing key since 2025."""
    since = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    return TrustList().add(NGO, SigningKey(signing(NGO).public_key(), since), status=status)


def sealed(**overrides: Any) -> bytes:
    """An envelope from the NGO to the prosecutor, sent at T0 for a day."""
    arguments: dict[str, Any] = {
        "sender": NGO,
        "signing_key": signing(NGO),
        "recipients": {PROSECUTOR: encryption(PROSECUTOR).public_key()},
        "conversation_id": CONVERSATION,
        "sequence": 1,
        "message_type": "mla.request",
        "body": b"Please find the request attached.",
        "sent_at": T0,
        "expires_at": T0 + dt.timedelta(days=1),
    }
    arguments.update(overrides)
    return seal(**arguments)


def opened(data: bytes, **overrides: Any) -> Opened:
    """``data`` opened by the prosecutor a minute after T0."""
    arguments: dict[str, Any] = {
        "me": PROSECUTOR,
        "identities": [encryption(PROSECUTOR)],
        "sender_keys": trusting_ngo(),
        "now": T0 + dt.timedelta(minutes=1),
    }
    arguments.update(overrides)
    return open_envelope(data, **arguments)


def as_json(data: bytes) -> dict[str, Any]:
    value = json.loads(data)
    assert isinstance(value, dict)
    return value


def canonical(value: Mapping[str, Any]) -> bytes:
    """RFC 8785 for JSON whose strings are all ASCII: sorted members, no whitespace."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def rebuilt(data: bytes, **changes: Any) -> bytes:
    """``data`` with header fields or its ciphertext or signature replaced, written in
    canonical form again (so only the signature can notice)."""
    document = parse_document(data)
    header_changes = {k: v for k, v in changes.items() if k in Header.__dataclass_fields__}
    header = replace(document.header, **header_changes)
    return Document(
        header,
        changes.get("ciphertext", document.ciphertext),
        changes.get("signature", document.signature),
    ).encode()


def resigned(header: Header, ciphertext: bytes, key: Ed25519PrivateKey | None = None) -> bytes:
    """An envelope for ``header`` and ``ciphertext``, properly signed by ``key`` (the
    NGO's by default): what a sender, honest or not, can make."""
    key = key or signing(NGO)
    return Document(header, ciphertext, key.sign(signed_bytes(header, ciphertext))).encode()
