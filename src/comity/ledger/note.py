"""Signed notes (C2SP signed-note) with Ed25519 keys.

A signed note is a text ending in a newline, a blank line, and one or more signature lines
``— <key name> <base64(key ID ‖ signature)>`` (an em dash, U+2014, and a space first). The
key ID is the first four bytes of ``SHA-256(key name ‖ "\\n" ‖ signature type ‖ public
key)``; Ed25519 note signatures have type ``0x01`` and sign the text's UTF-8 bytes. A
verifier key is written ``<name>+<key ID in hex>+<base64(type ‖ public key)>``, and an
Ed25519 signer key ``PRIVATE+KEY+<name>+<key ID in hex>+<base64(0x01 ‖ seed)>``.

Parsing is strict: at most :data:`MAX_NOTE_BYTES`, valid UTF-8, no control characters but
newline, the text separated from the signatures by the note's last blank line, canonical
standard base64, key names non-empty without spaces or ``+``, at most
:data:`MAX_SIGNATURES` signature lines. When a note is opened, signatures by keys the
caller does not know are skipped (they still count towards the limit); a signature by a
known key that does not verify, or a second signature by the same key, rejects the whole
note; and at least one known key must have signed.

Anything with a name, a key ID and a ``verify`` method (:class:`Verifier`) can check a
signature line; witness cosignatures (:mod:`comity.ledger.checkpoint`) are one such kind.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from comity.ledger.errors import NoteError

ALGORITHM_ED25519 = 0x01
MAX_NOTE_BYTES = 1 << 20
MAX_SIGNATURES = 100
SIGNATURE_PREFIX = "\u2014 "
PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")


def b64decode_strict(text: str) -> bytes | None:
    """The bytes of ``text`` if it is canonical, padded, standard base64; else ``None``."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if base64.b64encode(data).decode("ascii") == text else None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def check_key_name(name: str) -> None:
    """Refuse a key name that is empty or holds a space, ``+`` or a control character."""
    if not name or "+" in name or any(char.isspace() for char in name) or _CONTROL.search(name):
        raise NoteError(
            f"Key name {name!r} must be non-empty, without spaces, '+' or control characters."
        )


def compute_key_id(name: str, algorithm: int, public_key: bytes) -> bytes:
    """The 4-byte key ID: ``SHA-256(name ‖ "\\n" ‖ algorithm ‖ public key)[:4]``."""
    preimage = name.encode("utf-8") + b"\n" + bytes([algorithm]) + public_key
    return hashlib.sha256(preimage).digest()[:4]


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def format_key(name: str, key_id: bytes, algorithm: int, material: bytes) -> str:
    """``name+hexid+base64(algorithm ‖ material)``: a verifier key (``vkey``)."""
    return f"{name}+{key_id.hex()}+{b64encode(bytes([algorithm]) + material)}"


def parse_key(text: str, algorithm: int) -> tuple[str, bytes, bytes]:
    """Split ``name+hexid+base64(algorithm ‖ material)`` into name, key ID and material.

    Checks the shape and the algorithm byte; the caller checks the key ID against the key.
    """
    # Never echo ``text``: it may be a signer key.
    parts = text.split("+", 2)
    encoded = b64decode_strict(parts[2]) if len(parts) == 3 else None
    if encoded is None or not _KEY_ID_HEX.fullmatch(parts[1]):
        raise NoteError("A key string has the form name+hexid+base64, and this one has not.")
    check_key_name(parts[0])
    if not encoded or encoded[0] != algorithm:
        raise NoteError(f"Key {parts[0]} is not of signature type 0x{algorithm:02x}.")
    return parts[0], bytes.fromhex(parts[1]), encoded[1:]


def ed25519_public_key(material: bytes, name: str) -> Ed25519PublicKey:
    """The Ed25519 public key in a key string's material."""
    if len(material) != 32:
        raise NoteError(f"Key {name} does not hold a 32-byte Ed25519 key.")
    return Ed25519PublicKey.from_public_bytes(material)


class Verifier(Protocol):
    """What checks one kind of signature line."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (the line's bytes after the key ID) signs ``text``."""
        ...


class Ed25519KeyVerifier:
    """A named Ed25519 public key of one signature algorithm (its key ID type byte);
    subclasses say how a signature line's bytes are checked."""

    ALGORITHM = ALGORITHM_ED25519

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        check_key_name(name)
        self._name = name
        self.public_key = public_key
        self._key_id = compute_key_id(name, self.ALGORITHM, raw_public_key(public_key))

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @classmethod
    def from_vkey(cls, vkey: str) -> Self:
        name, key_id, material = parse_key(vkey, cls.ALGORITHM)
        verifier = cls(name, ed25519_public_key(material, name))
        if verifier.key_id != key_id:
            raise NoteError(f"The key ID in {vkey!r} does not match its key.")
        return verifier

    @property
    def vkey(self) -> str:
        return format_key(self.name, self.key_id, self.ALGORITHM, raw_public_key(self.public_key))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vkey!r})"


class NoteVerifier(Ed25519KeyVerifier):
    """An Ed25519 note verifier key."""

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, text)
        except InvalidSignature:
            return False
        return True


class NoteSigner:
    """An Ed25519 note signing key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        check_key_name(name)
        self.name = name
        self._private_key = private_key
        self.key_id = compute_key_id(
            name, ALGORITHM_ED25519, raw_public_key(private_key.public_key())
        )

    @classmethod
    def from_skey(cls, skey: str) -> NoteSigner:
        """Read a ``PRIVATE+KEY+name+hexid+base64(0x01 ‖ seed)`` signer key."""
        if not skey.startswith(PRIVATE_KEY_PREFIX):
            raise NoteError("A signer key starts with PRIVATE+KEY+.")
        name, key_id, seed = parse_key(skey.removeprefix(PRIVATE_KEY_PREFIX), ALGORITHM_ED25519)
        if len(seed) != 32:
            raise NoteError(f"Signer key {name} does not hold a 32-byte Ed25519 seed.")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(seed))
        if signer.key_id != key_id:
            raise NoteError(f"The key ID of signer key {name} does not match its key.")
        return signer

    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self._private_key.public_key())

    def sign(self, text: bytes) -> bytes:
        return self._private_key.sign(text)

    def __repr__(self) -> str:
        return f"NoteSigner({self.name!r}, key ID {self.key_id.hex()})"


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: who (name and key ID) and the signature bytes after the ID."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class ParsedNote:
    """A note split into its text and signature lines; nothing verified yet."""

    text: str
    signatures: tuple[NoteSignature, ...]


class OpenedNote(NamedTuple):
    text: str
    verified: list[str]
    """Names of the known keys whose signatures verified, in note order."""


def _check_text(text: str, what: str) -> bytes:
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"The {what} is not valid Unicode.") from None
    if len(data) > MAX_NOTE_BYTES:
        raise NoteError(f"The {what} is longer than {MAX_NOTE_BYTES} bytes.")
    if _CONTROL.search(text):
        raise NoteError(f"The {what} holds a control character other than newline.")
    return data


def signature_line(name: str, key_id: bytes, signature: bytes) -> str:
    return f"{SIGNATURE_PREFIX}{name} {b64encode(key_id + signature)}\n"


def parse_note(note: str | bytes) -> ParsedNote:
    """Split a signed note strictly into text and signature lines, verifying nothing."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise NoteError(f"The note is longer than {MAX_NOTE_BYTES} bytes.")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("The note is not valid UTF-8.") from None
    _check_text(note, "note")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("The note has no blank line before its signatures.")
    text, block = note[: split + 1], note[split + 2 :]
    lines = block.split("\n")[:-1]
    if not lines:
        raise NoteError("The note has no signature lines.")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"The note has more than {MAX_SIGNATURES} signatures.")
    signatures = []
    for line in lines:
        name, _, encoded = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
        data = b64decode_strict(encoded)
        if not line.startswith(SIGNATURE_PREFIX) or data is None or len(data) < 5:
            raise NoteError(f"Malformed signature line {line!r}.")
        check_key_name(name)
        signatures.append(NoteSignature(name, data[:4], data[4:]))
    return ParsedNote(text, tuple(signatures))


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """``text`` followed by a blank line and one signature line per signer."""
    data = _check_text(text, "note text")
    if not text.endswith("\n"):
        raise NoteError("A note text must end with a newline.")
    if not signers:
        raise NoteError("A note needs at least one signer.")
    if len({(signer.name, signer.key_id) for signer in signers}) != len(signers):
        raise NoteError("The same key is listed twice among the signers.")
    note = (
        text
        + "\n"
        + "".join(
            signature_line(signer.name, signer.key_id, signer.sign(data)) for signer in signers
        )
    )
    _check_text(note, "signed note")
    return note


def open_note(note: str | bytes, verifiers: Sequence[Verifier]) -> OpenedNote:
    """The text of ``note`` and the names of the ``verifiers`` that signed it.

    Raises :class:`~comity.ledger.errors.NoteError` if the note is malformed, if a
    signature by one of ``verifiers`` does not verify or appears twice, or if none of
    ``verifiers`` signed.
    """
    known = {(verifier.name, verifier.key_id): verifier for verifier in verifiers}
    parsed = parse_note(note)
    data = parsed.text.encode("utf-8")
    seen: set[tuple[str, bytes]] = set()
    verified: list[str] = []
    for signature in parsed.signatures:
        key = (signature.name, signature.key_id)
        verifier = known.get(key)
        if verifier is None:
            continue
        if key in seen:
            raise NoteError(f"The note carries two signatures by key {signature.name}.")
        seen.add(key)
        if not verifier.verify(data, signature.signature):
            raise NoteError(f"The signature by {signature.name} does not verify.")
        verified.append(signature.name)
    if not verified:
        raise NoteError("The note is not signed by any trusted key.")
    return OpenedNote(parsed.text, verified)
