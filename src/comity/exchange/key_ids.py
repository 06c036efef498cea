"""Short, stable identifiers for the public keys of nodes.

A key id names one public key in descriptors, trust lists and envelope headers:
``"<algorithm>:" + hex(SHA-256(algorithm || 0x00 || raw public key)[:16])``, for example
``ed25519:3f1c…`` (32 hex digits). The algorithm name is hashed in, so the same 32 bytes
read as an Ed25519 and as an X25519 key never share an id. This module owns the rule;
descriptors, peers and envelopes import it from here.
"""

from __future__ import annotations

import hashlib
import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

ED25519 = "ed25519"
X25519 = "x25519"

KEY_ID_PATTERN = re.compile(r"\A(ed25519|x25519):[0-9a-f]{32}\Z")


def key_id(public_key: Ed25519PublicKey | X25519PublicKey) -> str:
    """The key id of an Ed25519 (signing) or X25519 (encryption) public key."""
    if isinstance(public_key, Ed25519PublicKey):
        algorithm = ED25519
    elif isinstance(public_key, X25519PublicKey):
        algorithm = X25519
    else:
        raise TypeError(f"no key id for {type(public_key).__name__}")
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(algorithm.encode("ascii") + b"\x00" + raw).digest()
    return f"{algorithm}:{digest[:16].hex()}"


def is_key_id(value: str) -> bool:
    """Whether ``value`` has the form of a key id (it says nothing of which key)."""
    return KEY_ID_PATTERN.match(value) is not None
