"""Key management of the vault: who wraps and unwraps the file keys of stored blobs.

Every blob is an age v1 file with its own random file key. A :class:`KeyManager` turns
that key into header stanzas (:meth:`~KeyManager.wrap`) and back
(:meth:`~KeyManager.unwrap`). The default, :class:`NodeKeyManager`, wraps to the node's
own X25519 encryption key (``<home>/keys/encryption-x25519.pem``) as a **standard age
X25519 stanza**, so every stored blob is a plain age file: with the node's identity in
age's text form (``AGE-SECRET-KEY-1…``), ``age -d -i identity.txt BLOB`` decrypts it
without Comity — the way back after a disaster (see ``docs/evidence.md``).

An external KMS or HSM implements the same protocol with a stanza type of its own (age
ignores stanzas of types it does not know); it never needs to hand out a private key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cryptography.hazmat.primitives import serialization

from comity.keys import KeyStore
from comity.vault.age_format import Stanza
from comity.vault.age_keys import X25519Identity, X25519Recipient
from comity.vault.errors import AgeError, AgeFailure


class KeyManager(Protocol):
    def wrap(self, file_key: bytes) -> list[Stanza]:
        """The stanzas that carry ``file_key`` for this key manager."""
        ...

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes:
        """The file key from the first stanza this key manager can open; raises
        :class:`~comity.vault.errors.AgeError` (``NO_MATCH``) when none is for it."""
        ...


def node_identity(keys: KeyStore) -> X25519Identity:
    """The node's X25519 encryption key as an age identity (``secret_text()`` gives the
    ``AGE-SECRET-KEY-1…`` form the ``age`` tool reads)."""
    raw = keys.encryption_key().private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return X25519Identity(raw)


class NodeKeyManager:
    """Wraps file keys to the node's X25519 key, as standard age X25519 stanzas."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys
        self._recipient: X25519Recipient | None = None

    def recipient(self) -> X25519Recipient:
        """The node's ``age1…`` recipient: what blobs are encrypted to (read from the key
        store once for the life of this key manager, which a folder's ingest shares)."""
        if self._recipient is None:
            public = self._keys.encryption_key().public_key().public_bytes_raw()
            self._recipient = X25519Recipient(public)
        return self._recipient

    def wrap(self, file_key: bytes) -> list[Stanza]:
        return self.recipient().wrap(file_key)

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes:
        file_key = node_identity(self._keys).unwrap(stanzas)
        if file_key is None:
            raise AgeError(
                AgeFailure.NO_MATCH, "no stanza of this blob is wrapped to the node's key"
            )
        return file_key
