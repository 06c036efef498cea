"""Keys derived from the node secret, and authenticated encryption of small values.

The node secret (``<home>/secret.key``) is never used directly: each purpose gets its own
key through HKDF-SHA256 with a purpose label. Small secrets kept in the database (such as
TOTP seeds) are sealed with AES-256-GCM under such a key, with the row they belong to as
associated data so a sealed value cannot be moved to another row.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
VERSION = b"\x01"


def derive_key(secret: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"comity/{purpose}".encode()
    ).derive(secret)


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def open_sealed(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    if not sealed.startswith(VERSION) or len(sealed) < 1 + NONCE_BYTES + 16:
        raise ValueError("not a sealed value of a known version")
    nonce = sealed[1 : 1 + NONCE_BYTES]
    return AESGCM(key).decrypt(nonce, sealed[1 + NONCE_BYTES :], associated)


def token_hash(token: str) -> str:
    """SHA-256 of a high-entropy bearer secret (session cookie, API token, recovery code)."""
    return hashlib.sha256(token.encode()).hexdigest()


def mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
