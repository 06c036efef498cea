"""The node's own key pairs, kept as files in the data directory.

Each node has an Ed25519 signing key (ledger checkpoints, envelopes, receipts) and an
X25519 key for end-to-end encryption to it. They are PKCS#8 PEM files under
``<home>/keys/`` with mode 0600, made on first start. The :class:`KeyStore` protocol is
the seam where an external KMS or HSM will plug in.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from comity.errors import ConfigurationError

SIGNING_FILE = "signing-ed25519.pem"
ENCRYPTION_FILE = "encryption-x25519.pem"


class KeyStore(Protocol):
    def signing_key(self) -> Ed25519PrivateKey: ...

    def encryption_key(self) -> X25519PrivateKey: ...


def _raw(public: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(signing: Ed25519PublicKey, encryption: X25519PublicKey) -> str:
    """A short fingerprint to compare by telephone: 16 bytes of SHA-256, in groups of 4 hex."""
    digest = hashlib.sha256(b"comity-node-v1" + _raw(signing) + _raw(encryption)).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


def _write_private(path: Path, pem: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())


@dataclass(frozen=True)
class LocalKeyStore:
    """Key files in ``<home>/keys``."""

    directory: Path
    _loaded: dict[str, tuple[tuple[int, int, int, int], object]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Each key file's key as loaded, with the file's identity then (device, inode, size,
    modification time): parsed once, not at every signature; a file replaced is read
    again. Its permissions are checked at every call all the same."""

    def _load(self, name: str) -> object:
        path = self.directory / name
        status = os.stat(path)
        if status.st_mode & 0o077:
            raise ConfigurationError(f"{path} is readable by other users; run 'chmod 600 {path}'.")
        identity = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)
        cached = self._loaded.get(name)
        if cached is not None and cached[0] == identity:
            return cached[1]
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        self._loaded[name] = (identity, key)
        return key

    def signing_key(self) -> Ed25519PrivateKey:
        key = self._load(SIGNING_FILE)
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigurationError(f"{SIGNING_FILE} does not hold an Ed25519 key.")
        return key

    def encryption_key(self) -> X25519PrivateKey:
        key = self._load(ENCRYPTION_FILE)
        if not isinstance(key, X25519PrivateKey):
            raise ConfigurationError(f"{ENCRYPTION_FILE} does not hold an X25519 key.")
        return key

    def exists(self) -> bool:
        return (self.directory / SIGNING_FILE).exists()

    def create(self) -> None:
        """Make both key pairs; refuses to overwrite existing ones."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        pkcs8 = serialization.PrivateFormat.PKCS8
        pem = serialization.Encoding.PEM
        none = serialization.NoEncryption()
        _write_private(
            self.directory / SIGNING_FILE,
            Ed25519PrivateKey.generate().private_bytes(pem, pkcs8, none),
        )
        _write_private(
            self.directory / ENCRYPTION_FILE,
            X25519PrivateKey.generate().private_bytes(pem, pkcs8, none),
        )

    def fingerprint(self) -> str:
        return fingerprint(self.signing_key().public_key(), self.encryption_key().public_key())
