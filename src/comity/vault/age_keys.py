"""age recipients and identities: who a file key is wrapped for, and who can unwrap it.

- **X25519** (``age1…`` / ``AGE-SECRET-KEY-1…``): the everyday recipient type, the one
  the ``age`` tool's ``age-keygen`` makes.
- **MLKEM768-X25519** (``age1pq1…`` / ``AGE-SECRET-KEY-PQ-1…``): age's hybrid
  post-quantum type (HPKE with the X-Wing KEM, from ``cryptography``); newer ``age``
  releases read it, Debian's 1.1 does not.
- **scrypt**: a passphrase. Its stanza must be alone in a header.

A :class:`Recipient` turns a file key into stanzas; an :class:`Identity` looks through
a header's stanzas and returns the file key, or ``None`` when no stanza is for it. A
stanza of the identity's own type that is malformed is an error (``HEADER``), not a
non-match; stanzas of other types are ignored. Every body is checked to be exactly 32
bytes before anything is decrypted, against partitioning-oracle attacks.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from comity.vault import bech32
from comity.vault.age_format import (
    FILE_KEY_SIZE,
    SCRYPT,
    Stanza,
    b64decode,
    b64encode,
    check_file_key,
    hkdf_sha256,
)
from comity.vault.errors import AgeError, AgeFailure

X25519_TYPE = "X25519"
X25519_INFO = b"age-encryption.org/v1/X25519"
X25519_RECIPIENT_HRP = "age"
X25519_IDENTITY_HRP = "AGE-SECRET-KEY-"
HYBRID_TYPE = "mlkem768x25519"
HYBRID_INFO = b"age-encryption.org/mlkem768x25519"
HYBRID_RECIPIENT_HRP = "age1pq"
HYBRID_IDENTITY_HRP = "AGE-SECRET-KEY-PQ-"
SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"
SCRYPT_SALT_SIZE = 16
SCRYPT_WORK_FACTOR = 18
"""log2 of scrypt's N when encrypting (as ``age``): about a second and 256 MiB."""
SCRYPT_MAX_WORK_FACTOR = 22
"""The largest work factor an :class:`ScryptIdentity` accepts by default."""

_BODY_SIZE = FILE_KEY_SIZE + 16
_ZERO_NONCE = bytes(12)
_MLKEM768_PUBLIC_SIZE = 1184
_MLKEM768_CIPHERTEXT_SIZE = 1088
_HYBRID_ENC_SIZE = _MLKEM768_CIPHERTEXT_SIZE + 32
_HYBRID_SUITE = hpke.Suite(
    hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305
)
_DECIMAL = re.compile(r"[1-9][0-9]*")


class Recipient(Protocol):
    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Stanzas that carry ``file_key`` for this recipient."""
        ...


class Identity(Protocol):
    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """The file key from the first stanza meant for this identity, or ``None``."""
        ...


def _seal(wrap_key: bytes, file_key: bytes) -> bytes:
    check_file_key(file_key)
    return ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)


def _open(wrap_key: bytes, body: bytes) -> bytes | None:
    try:
        return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, body, None)
    except InvalidTag:
        return None


def _check_body(stanza: Stanza) -> None:
    if len(stanza.body) != _BODY_SIZE:
        raise AgeError(
            AgeFailure.HEADER,
            f"{stanza.type} stanza body is {len(stanza.body)} bytes, not {_BODY_SIZE}",
        )


def _key_data(text: str, hrp: str, size: int, what: str) -> bytes:
    found, data = bech32.decode(text.strip())
    if found != hrp.lower():
        raise AgeError(AgeFailure.KEY, f"not {what}: it starts with {found!r}, not {hrp!r}")
    if len(data) != size:
        raise AgeError(AgeFailure.KEY, f"{what} holds {len(data)} bytes, not {size}")
    return data


def _exchange(private: x25519.X25519PrivateKey, public: bytes, failure: AgeFailure) -> bytes:
    try:
        return private.exchange(x25519.X25519PublicKey.from_public_bytes(public))
    except ValueError:  # OpenSSL refuses the all-zero result of a low-order point
        raise AgeError(
            failure, "X25519 share is a low-order point (the shared secret is all zeros)"
        ) from None


class X25519Recipient:
    """An ``age1…`` recipient: an X25519 public key."""

    def __init__(self, public_key: bytes) -> None:
        if len(public_key) != 32:
            raise AgeError(AgeFailure.KEY, "an X25519 public key is 32 bytes")
        self.public_key = public_key

    @classmethod
    def parse(cls, text: str) -> X25519Recipient:
        return cls(_key_data(text, X25519_RECIPIENT_HRP, 32, "an age X25519 recipient"))

    def __str__(self) -> str:
        return bech32.encode(X25519_RECIPIENT_HRP, self.public_key)

    def __repr__(self) -> str:
        return f"X25519Recipient({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519Recipient) and other.public_key == self.public_key

    def __hash__(self) -> int:
        return hash(self.public_key)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        ephemeral = x25519.X25519PrivateKey.generate()
        share = ephemeral.public_key().public_bytes_raw()
        secret = _exchange(ephemeral, self.public_key, AgeFailure.KEY)
        wrap_key = hkdf_sha256(secret, share + self.public_key, X25519_INFO)
        return [Stanza((X25519_TYPE, b64encode(share)), _seal(wrap_key, file_key))]


class X25519Identity:
    """An ``AGE-SECRET-KEY-1…`` identity: an X25519 private key. ``repr`` shows only the
    recipient; :meth:`secret_text` is the one way to the secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise AgeError(AgeFailure.KEY, "an X25519 private key is 32 bytes")
        self._secret = secret
        self._key = x25519.X25519PrivateKey.from_private_bytes(secret)
        self.recipient = X25519Recipient(self._key.public_key().public_bytes_raw())

    @classmethod
    def generate(cls) -> X25519Identity:
        return cls(os.urandom(32))

    @classmethod
    def parse(cls, text: str) -> X25519Identity:
        return cls(_key_data(text, X25519_IDENTITY_HRP, 32, "an age X25519 identity"))

    def secret_text(self) -> str:
        return bech32.encode(X25519_IDENTITY_HRP, self._secret).upper()

    def __repr__(self) -> str:
        return f"X25519Identity(recipient={str(self.recipient)!r})"

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != X25519_TYPE:
                continue
            if len(stanza.args) != 2:
                raise AgeError(
                    AgeFailure.HEADER, "an X25519 stanza takes one argument after its type"
                )
            share = b64decode(stanza.args[1], "X25519 share")
            if len(share) != 32:
                raise AgeError(AgeFailure.HEADER, f"X25519 share is {len(share)} bytes, not 32")
            _check_body(stanza)
            secret = _exchange(self._key, share, AgeFailure.HEADER)
            wrap_key = hkdf_sha256(secret, share + self.recipient.public_key, X25519_INFO)
            file_key = _open(wrap_key, stanza.body)
            if file_key is not None:
                return file_key
        return None


class HybridRecipient:
    """An ``age1pq1…`` recipient: an ML-KEM-768 and an X25519 public key (X-Wing)."""

    def __init__(self, public_key: bytes) -> None:
        if len(public_key) != _MLKEM768_PUBLIC_SIZE + 32:
            raise AgeError(AgeFailure.KEY, "an MLKEM768-X25519 public key is 1216 bytes")
        try:
            self._key = hpke.MLKEM768X25519PublicKey(
                mlkem.MLKEM768PublicKey.from_public_bytes(public_key[:_MLKEM768_PUBLIC_SIZE]),
                x25519.X25519PublicKey.from_public_bytes(public_key[_MLKEM768_PUBLIC_SIZE:]),
            )
        except ValueError:
            raise AgeError(AgeFailure.KEY, "the ML-KEM-768 public key is invalid") from None
        self.public_key = public_key

    @classmethod
    def parse(cls, text: str) -> HybridRecipient:
        size = _MLKEM768_PUBLIC_SIZE + 32
        return cls(_key_data(text, HYBRID_RECIPIENT_HRP, size, "an age post-quantum recipient"))

    def __str__(self) -> str:
        return bech32.encode(HYBRID_RECIPIENT_HRP, self.public_key)

    def __repr__(self) -> str:
        return f"HybridRecipient({str(self)[:24]!r}…)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HybridRecipient) and other.public_key == self.public_key

    def __hash__(self) -> int:
        return hash(self.public_key)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        check_file_key(file_key)
        sealed = _HYBRID_SUITE.encrypt(file_key, self._key, info=HYBRID_INFO)
        enc, body = sealed[:_HYBRID_ENC_SIZE], sealed[_HYBRID_ENC_SIZE:]
        return [Stanza((HYBRID_TYPE, b64encode(enc)), body)]


class HybridIdentity:
    """An ``AGE-SECRET-KEY-PQ-1…`` identity: a 32-byte seed, expanded with SHAKE256 into
    the ML-KEM-768 seed and the X25519 private key as X-Wing specifies."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise AgeError(AgeFailure.KEY, "an MLKEM768-X25519 seed is 32 bytes")
        self._seed = seed
        expanded = hashlib.shake_256(seed).digest(96)
        mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        self._x25519 = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
        self._key = hpke.MLKEM768X25519PrivateKey(mlkem_key, self._x25519)
        self.recipient = HybridRecipient(
            mlkem_key.public_key().public_bytes_raw() + self._x25519.public_key().public_bytes_raw()
        )

    @classmethod
    def generate(cls) -> HybridIdentity:
        return cls(os.urandom(32))

    @classmethod
    def parse(cls, text: str) -> HybridIdentity:
        return cls(_key_data(text, HYBRID_IDENTITY_HRP, 32, "an age post-quantum identity"))

    def secret_text(self) -> str:
        return bech32.encode(HYBRID_IDENTITY_HRP, self._seed).upper()

    def __repr__(self) -> str:
        return f"HybridIdentity(recipient={self.recipient!r})"

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != HYBRID_TYPE:
                continue
            if len(stanza.args) != 2:
                raise AgeError(
                    AgeFailure.HEADER, f"an {HYBRID_TYPE} stanza takes one argument after its type"
                )
            enc = b64decode(stanza.args[1], f"{HYBRID_TYPE} encapsulated key")
            if len(enc) != _HYBRID_ENC_SIZE:
                raise AgeError(
                    AgeFailure.HEADER,
                    f"{HYBRID_TYPE} encapsulated key is {len(enc)} bytes, not {_HYBRID_ENC_SIZE}",
                )
            _check_body(stanza)
            _exchange(self._x25519, enc[_MLKEM768_CIPHERTEXT_SIZE:], AgeFailure.HEADER)
            try:
                return _HYBRID_SUITE.decrypt(enc + stanza.body, self._key, info=HYBRID_INFO)
            except InvalidTag:
                continue
        return None


def _scrypt_key(passphrase: bytes, salt: bytes, work_factor: int) -> bytes:
    kdf = Scrypt(salt=SCRYPT_LABEL + salt, length=32, n=1 << work_factor, r=8, p=1)
    return kdf.derive(passphrase)


def _passphrase(passphrase: str) -> bytes:
    if not passphrase:
        raise AgeError(AgeFailure.KEY, "the passphrase is empty")
    return passphrase.encode("utf-8")


class ScryptRecipient:
    """A passphrase, to encrypt with; its stanza cannot be combined with any other."""

    def __init__(self, passphrase: str, work_factor: int = SCRYPT_WORK_FACTOR) -> None:
        if not 1 <= work_factor <= SCRYPT_MAX_WORK_FACTOR:
            raise AgeError(
                AgeFailure.KEY, f"scrypt work factor must be 1 to {SCRYPT_MAX_WORK_FACTOR}"
            )
        self._passphrase = _passphrase(passphrase)
        self.work_factor = work_factor

    def __repr__(self) -> str:
        return f"ScryptRecipient(work_factor={self.work_factor})"

    def wrap(self, file_key: bytes) -> list[Stanza]:
        salt = os.urandom(SCRYPT_SALT_SIZE)
        wrap_key = _scrypt_key(self._passphrase, salt, self.work_factor)
        args = (SCRYPT, b64encode(salt), str(self.work_factor))
        return [Stanza(args, _seal(wrap_key, file_key))]


class ScryptIdentity:
    """A passphrase, to decrypt with; refuses work factors above ``max_work_factor``."""

    def __init__(self, passphrase: str, max_work_factor: int = SCRYPT_MAX_WORK_FACTOR) -> None:
        self._passphrase = _passphrase(passphrase)
        self.max_work_factor = max_work_factor

    def __repr__(self) -> str:
        return f"ScryptIdentity(max_work_factor={self.max_work_factor})"

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != SCRYPT:
                continue
            if len(stanzas) != 1:
                raise AgeError(AgeFailure.HEADER, "an scrypt stanza must be the only stanza")
            if len(stanza.args) != 3:
                raise AgeError(
                    AgeFailure.HEADER, "an scrypt stanza takes two arguments after its type"
                )
            salt = b64decode(stanza.args[1], "scrypt salt")
            if len(salt) != SCRYPT_SALT_SIZE:
                raise AgeError(AgeFailure.HEADER, f"scrypt salt is {len(salt)} bytes, not 16")
            text = stanza.args[2]
            if not _DECIMAL.fullmatch(text):
                raise AgeError(AgeFailure.HEADER, f"scrypt work factor {text!r} is malformed")
            if len(text) > 2 or int(text) > self.max_work_factor:
                raise AgeError(
                    AgeFailure.HEADER,
                    f"scrypt work factor {text} is above the limit {self.max_work_factor}",
                )
            _check_body(stanza)
            return _open(_scrypt_key(self._passphrase, salt, int(text)), stanza.body)
        return None


def parse_recipient(text: str) -> X25519Recipient | HybridRecipient:
    """An ``age1…`` or ``age1pq1…`` recipient."""
    hrp, _ = bech32.decode(text.strip())
    if hrp == HYBRID_RECIPIENT_HRP:
        return HybridRecipient.parse(text)
    return X25519Recipient.parse(text)


def parse_identity(text: str) -> X25519Identity | HybridIdentity:
    """An ``AGE-SECRET-KEY-1…`` or ``AGE-SECRET-KEY-PQ-1…`` identity."""
    hrp, _ = bech32.decode(text.strip())
    if hrp == HYBRID_IDENTITY_HRP.lower():
        return HybridIdentity.parse(text)
    return X25519Identity.parse(text)


def parse_identities(text: str) -> list[X25519Identity | HybridIdentity]:
    """Every identity in an identity file as ``age-keygen`` writes it: one a line,
    with blank lines and ``#`` comments ignored."""
    lines = [line.strip() for line in text.splitlines()]
    identities = [parse_identity(line) for line in lines if line and not line.startswith("#")]
    if not identities:
        raise AgeError(AgeFailure.KEY, "the identity file holds no identity")
    return identities
