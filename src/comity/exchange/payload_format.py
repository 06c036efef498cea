"""The byte format of payload manifests, ``comity-payload/1``, and of the chunks they vouch
for. Pure: no database, no clock, no network.

A large payload (an evidence package of many gigabytes) is an age file encrypted to the
recipient nodes, cut into chunks of a fixed size. Its **manifest** is the one document
that vouches for it: signed by the sender with Ed25519, it names the payload id, sender,
recipients, the ciphertext's size and SHA-256, the chunk size, the RFC 9162 Merkle root
of the chunks, the plaintext's size and SHA-256 *sealed* (age-encrypted) to the
recipients, and its lifetime. A receiver checks each chunk against the root with an
inclusion proof before it writes a byte, and the whole ciphertext against its SHA-256 at
the end.

This module owns the encodings: :func:`sign_manifest` makes a manifest,
:func:`parse_manifest` checks the form of one, :func:`decode_contents` reads what its
sealed contents say once unsealed. The checks of trust, of the contents with a key and
of chunks are :mod:`comity.exchange.payload_checks`. ``docs/formats/payload.md`` is the
specification; the two must say the same thing.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from comity.exchange.envelope_fields import (
    check_count,
    check_node_id,
    check_sha256,
    check_time,
    check_uuid4,
    format_time,
    parse_time,
)
from comity.exchange.errors import EnvelopeInvalid
from comity.exchange.key_ids import is_key_id, key_id
from comity.exchange.payload_errors import PayloadInvalid, PayloadReason, PayloadRejected
from comity.ledger.canonical import canonical_json
from comity.ledger.errors import EntryError
from comity.ledger.note import b64decode_strict

FORMAT = "comity-payload/1"
SIGNING_CONTEXT = b"comity-payload/1 signature\n"
"""Prefixed to the signed bytes, so that no other signature of a node's key (an envelope,
a descriptor, a checkpoint) can pass for a manifest's, or the reverse."""
MAX_MANIFEST_BYTES = 32 * 1024
MIN_CHUNK_SIZE = 64 * 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
MAX_CHUNKS = 1 << 20
MAX_RECIPIENTS = 64
MAX_LIFETIME = dt.timedelta(days=30)
MAX_CONTENTS_BYTES = 16 * 1024
SIGNATURE_SIZE = 64
DEFAULT_CLOCK_SKEW = dt.timedelta(minutes=5)
PROOF_HEADER = "Comity-Chunk-Proof"
"""The HTTP header that carries a chunk's inclusion proof (:func:`encode_proof`)."""

_MANIFEST_FIELDS = frozenset(
    {
        "format",
        "payload_id",
        "sender",
        "sender_key",
        "recipients",
        "size",
        "sha256",
        "chunk_size",
        "chunk_root",
        "contents",
        "created_at",
        "expires_at",
    }
)
_CONTENTS_FIELDS = frozenset({"sha256", "size"})


def _invalid(field: str, message: str) -> PayloadInvalid:
    return PayloadInvalid(message, fields={field: message})


def _rejected(message: str) -> PayloadRejected:
    return PayloadRejected(PayloadReason.MALFORMED, message)


@dataclass(frozen=True)
class Contents:
    """What a payload holds, as only its recipients learn it: the plaintext's SHA-256
    (lower-case hex) and size. The envelope that names the payload gives the same two in
    its attachment entry."""

    sha256: str
    size: int

    def __post_init__(self) -> None:
        try:
            check_sha256(self.sha256, "contents.sha256")
            check_count(self.size, "contents.size", 0)
        except EnvelopeInvalid as exc:
            raise PayloadInvalid(exc.message, fields=exc.fields) from None

    def encode(self) -> bytes:
        return canonical_json({"sha256": self.sha256, "size": self.size})


@dataclass(frozen=True)
class Manifest:
    """The signed statement about one payload (see the module docstring)."""

    payload_id: str
    sender: str
    sender_key: str
    recipients: tuple[str, ...]
    size: int
    sha256: str
    chunk_size: int
    chunk_root: str
    contents: bytes
    created_at: dt.datetime
    expires_at: dt.datetime

    def __post_init__(self) -> None:
        try:
            self._check()
        except EnvelopeInvalid as exc:
            raise PayloadInvalid(exc.message, fields=exc.fields) from None

    def _check(self) -> None:
        check_uuid4(self.payload_id, "payload_id")
        check_node_id(self.sender, "sender")
        if not self.sender_key.startswith("ed25519:") or not is_key_id(self.sender_key):
            raise _invalid("sender_key", "sender_key must be the id of an Ed25519 key.")
        if not 1 <= len(self.recipients) <= MAX_RECIPIENTS:
            raise _invalid("recipients", f"a payload has 1 to {MAX_RECIPIENTS} recipients.")
        for recipient in self.recipients:
            check_node_id(recipient, "recipient")
        if self.recipients != tuple(sorted(set(self.recipients))):
            raise _invalid("recipients", "recipients must be sorted and without repetition.")
        check_count(self.size, "size", 1)
        check_sha256(self.sha256, "sha256")
        check_count(self.chunk_size, "chunk_size", 1)
        if not (
            MIN_CHUNK_SIZE <= self.chunk_size <= MAX_CHUNK_SIZE
            and self.chunk_size & (self.chunk_size - 1) == 0
        ):
            raise _invalid("chunk_size", "chunk_size must be a power of two from 64 KiB to 16 MiB.")
        if self.chunks > MAX_CHUNKS:
            raise _invalid("size", f"a payload has at most {MAX_CHUNKS} chunks.")
        check_sha256(self.chunk_root, "chunk_root")
        if not isinstance(self.contents, bytes) or not 0 < len(self.contents) <= (
            MAX_CONTENTS_BYTES
        ):
            raise _invalid("contents", f"contents must be 1 to {MAX_CONTENTS_BYTES} bytes.")
        check_time(self.created_at, "created_at")
        check_time(self.expires_at, "expires_at")
        if not dt.timedelta(0) < self.expires_at - self.created_at <= MAX_LIFETIME:
            raise _invalid(
                "expires_at",
                f"expires_at must come after created_at, by at most {MAX_LIFETIME.days} days.",
            )

    @property
    def chunks(self) -> int:
        """How many chunks the ciphertext is cut into: all full but the last."""
        return -(-self.size // self.chunk_size)

    def chunk_span(self, number: int) -> tuple[int, int]:
        """Where chunk ``number`` lies in the ciphertext: its offset and length."""
        if not 0 <= number < self.chunks:
            raise ValueError(f"chunk {number} is not one of the payload's {self.chunks}")
        offset = number * self.chunk_size
        return offset, min(self.chunk_size, self.size - offset)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "payload_id": self.payload_id,
            "sender": self.sender,
            "sender_key": self.sender_key,
            "recipients": list(self.recipients),
            "size": self.size,
            "sha256": self.sha256,
            "chunk_size": self.chunk_size,
            "chunk_root": self.chunk_root,
            "contents": base64.b64encode(self.contents).decode("ascii"),
            "created_at": format_time(self.created_at),
            "expires_at": format_time(self.expires_at),
        }

    def signed_bytes(self) -> bytes:
        """What the sender signs: the context line, then the manifest's canonical JSON."""
        return SIGNING_CONTEXT + canonical_json(self.to_json())


@dataclass(frozen=True)
class SignedManifest:
    """A manifest with its signature, and the exact bytes it travels as."""

    manifest: Manifest
    signature: bytes
    raw: bytes


def _document(manifest: Manifest, signature: bytes) -> bytes:
    return canonical_json(
        {"manifest": manifest.to_json(), "signature": base64.b64encode(signature).decode()}
    )


def sign_manifest(manifest: Manifest, signing_key: Ed25519PrivateKey) -> SignedManifest:
    """``manifest`` signed with ``signing_key``, the key its ``sender_key`` names."""
    if key_id(signing_key.public_key()) != manifest.sender_key:
        raise _invalid("sender_key", "The signing key is not the one sender_key names.")
    signature = signing_key.sign(manifest.signed_bytes())
    return SignedManifest(manifest, signature, _document(manifest, signature))


# Reading a manifest: the checks of its form (those of trust are payload_checks').


def _members(value: object, fields: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _rejected(f"{what} is not a JSON object.")
    missing, unknown = fields - value.keys(), value.keys() - fields
    if missing or unknown:
        raise _rejected(f"{what} lacks {sorted(missing)} or has unknown members {sorted(unknown)}.")
    return value


def _base64(value: object, field: str) -> bytes:
    decoded = b64decode_strict(value) if isinstance(value, str) else None
    if decoded is None:
        raise _rejected(f"{field} is not canonical, padded, standard base64.")
    return decoded


def _integer(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _rejected(f"{field} is not an integer.")
    return value


def _manifest(fields: dict[str, Any]) -> Manifest:
    recipients = fields["recipients"]
    texts = ("payload_id", "sender", "sender_key", "sha256", "chunk_root")
    if not isinstance(recipients, list) or not all(isinstance(fields[name], str) for name in texts):
        raise _rejected("A member of the manifest is not of its type.")
    try:
        return Manifest(
            payload_id=fields["payload_id"],
            sender=fields["sender"],
            sender_key=fields["sender_key"],
            recipients=tuple(recipients),
            size=_integer(fields["size"], "size"),
            sha256=fields["sha256"],
            chunk_size=_integer(fields["chunk_size"], "chunk_size"),
            chunk_root=fields["chunk_root"],
            contents=_base64(fields["contents"], "contents"),
            created_at=parse_time(fields["created_at"], "created_at"),
            expires_at=parse_time(fields["expires_at"], "expires_at"),
        )
    except (PayloadInvalid, EnvelopeInvalid) as exc:
        raise _rejected(exc.message) from None


def parse_manifest(data: bytes) -> SignedManifest:
    """Parses and checks the form of a manifest document; every failure is a
    :class:`PayloadRejected` with reason ``too_large``, ``malformed``,
    ``unsupported_format`` or ``unsigned``. Nothing is verified yet."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise PayloadRejected(
            PayloadReason.TOO_LARGE,
            f"The manifest is {len(data)} bytes, more than the {MAX_MANIFEST_BYTES} allowed.",
        )
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        raise _rejected("The manifest is not UTF-8 JSON.") from None
    content = value.get("manifest") if isinstance(value, dict) else None
    if not isinstance(content, dict):
        raise _rejected("The document has no manifest object.")
    found = content.get("format")
    if isinstance(found, str) and found != FORMAT:
        raise PayloadRejected(
            PayloadReason.UNSUPPORTED_FORMAT,
            f"The manifest's format is {found[:60]!r}; this node reads {FORMAT!r}.",
        )
    if value.get("signature") in (None, ""):
        raise PayloadRejected(PayloadReason.UNSIGNED, "The manifest carries no signature.")
    _members(value, frozenset({"manifest", "signature"}), "The document")
    manifest = _manifest(_members(content, _MANIFEST_FIELDS, "The manifest"))
    if content["format"] != FORMAT:
        raise _rejected(f"The manifest's format must be {FORMAT!r}.")
    signature = _base64(value["signature"], "signature")
    if len(signature) != SIGNATURE_SIZE:
        raise _rejected(f"The signature is not {SIGNATURE_SIZE} bytes.")
    try:
        canonical = _document(manifest, signature) == data
    except EntryError:
        canonical = False
    if not canonical:
        raise _rejected("The manifest is not in canonical form (RFC 8785).")
    return SignedManifest(manifest, signature, data)


def decode_contents(data: bytes) -> Contents:
    """The contents in ``data`` (once unsealed), which must be their canonical JSON;
    refused as ``malformed``."""
    try:
        fields = _members(json.loads(data.decode("utf-8")), _CONTENTS_FIELDS, "contents")
        contents = Contents(sha256=fields["sha256"], size=_integer(fields["size"], "size"))
    except (ValueError, PayloadInvalid) as exc:
        reason = exc.message if isinstance(exc, PayloadInvalid) else "not UTF-8 JSON"
        raise _rejected(f"The sealed contents: {reason}") from None
    if contents.encode() != data:
        raise _rejected("The sealed contents are not in canonical form.")
    return contents
