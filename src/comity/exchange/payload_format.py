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

This module owns the encodings and the checks that need no state:
:func:`sign_manifest` makes a manifest, :func:`parse_manifest` checks its form,
:func:`verify_manifest` its sender, signature, addressing and times,
:func:`open_contents` unseals what the payload holds, and :func:`check_chunk` a chunk.
``docs/formats/payload.md`` is the specification; the two must say the same thing.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from comity.errors import ComityError
from comity.exchange.envelope import Sender, SenderKeys, SenderStatus, SigningKey
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
from comity.ledger import merkle
from comity.ledger.canonical import canonical_json
from comity.ledger.errors import EntryError, ProofError
from comity.ledger.note import b64decode_strict
from comity.ledger.proofs import verify_inclusion
from comity.vault.age import decrypt_bytes
from comity.vault.age_keys import X25519Identity

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


# Reading a manifest: the checks of form (parse_manifest), then of trust (verify_manifest).


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


def _signing_keys(manifest: Manifest, sender: Sender) -> list[SigningKey]:
    who = f"The sender {manifest.sender!r}"
    if sender.status is SenderStatus.UNKNOWN:
        raise PayloadRejected(PayloadReason.UNKNOWN_SENDER, f"{who} is not a peer of this node.")
    if sender.status is SenderStatus.REVOKED:
        raise PayloadRejected(PayloadReason.REVOKED_SENDER, f"{who} was revoked.")
    if sender.status is not SenderStatus.CONFIRMED:
        raise PayloadRejected(
            PayloadReason.SENDER_NOT_CONFIRMED, f"{who} is {sender.status.value}."
        )
    keys = [key for key in sender.keys if key.id == manifest.sender_key]
    if not keys:
        raise PayloadRejected(
            PayloadReason.UNKNOWN_KEY, f"{who} has no signing key {manifest.sender_key!r}."
        )
    return keys


def verify_manifest(
    signed: SignedManifest,
    *,
    me: str,
    sender_keys: SenderKeys,
    now: dt.datetime,
    max_clock_skew: dt.timedelta = DEFAULT_CLOCK_SKEW,
) -> None:
    """Checks, in the order of ``docs/formats/payload.md``, that ``signed`` comes from a
    confirmed peer with a key valid when it was made, is for ``me`` and is current;
    raises :class:`PayloadRejected` with the first reason that applies."""
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    manifest = signed.manifest
    keys = _signing_keys(manifest, sender_keys(manifest.sender))
    try:
        keys[0].public_key.verify(signed.signature, manifest.signed_bytes())
    except InvalidSignature:
        raise PayloadRejected(
            PayloadReason.BAD_SIGNATURE,
            f"The signature does not verify with {manifest.sender}'s key "
            f"{manifest.sender_key}: the manifest or the signature was altered.",
        ) from None
    if not any(key.valid_at(manifest.created_at) for key in keys):
        raise PayloadRejected(
            PayloadReason.KEY_NOT_VALID_AT_CREATION,
            f"The key {manifest.sender_key} was not valid for {manifest.sender} when the "
            f"manifest was made ({format_time(manifest.created_at)}).",
        )
    if me not in manifest.recipients:
        raise PayloadRejected(
            PayloadReason.MISADDRESSED,
            f"The payload is for {', '.join(manifest.recipients)}, not {me}.",
        )
    if now - manifest.expires_at > max_clock_skew:
        raise PayloadRejected(
            PayloadReason.EXPIRED, f"The payload expired at {format_time(manifest.expires_at)}."
        )
    if manifest.created_at - now > max_clock_skew:
        raise PayloadRejected(
            PayloadReason.FROM_THE_FUTURE,
            f"The manifest says it was made at {format_time(manifest.created_at)}, ahead of "
            f"this node's clock by more than {max_clock_skew}.",
        )


def open_contents(manifest: Manifest, identities: Sequence[X25519PrivateKey]) -> Contents:
    """What the payload holds, unsealed with one of ``identities``; refused as
    ``undecryptable`` if none opens it or it is not as specified."""
    try:
        data = decrypt_bytes(
            manifest.contents,
            [X25519Identity(identity.private_bytes_raw()) for identity in identities],
        )
        fields = _members(json.loads(data.decode("utf-8")), _CONTENTS_FIELDS, "contents")
        contents = Contents(sha256=fields["sha256"], size=_integer(fields["size"], "size"))
        if contents.encode() != data:
            raise _rejected("The sealed contents are not in canonical form.")
    except (ComityError, ValueError) as exc:
        reason = exc.message if isinstance(exc, ComityError) else "they are not UTF-8 JSON"
        raise PayloadRejected(
            PayloadReason.UNDECRYPTABLE, f"The sealed contents cannot be read here: {reason}"
        ) from None
    return contents


# Chunks and their proofs.


def encode_proof(proof: Sequence[bytes]) -> str:
    """An inclusion proof as it travels in the ``Comity-Chunk-Proof`` header: the base64
    of its hashes, concatenated (empty for a payload of one chunk)."""
    return base64.b64encode(b"".join(proof)).decode("ascii")


def decode_proof(text: str) -> list[bytes]:
    raw = b64decode_strict(text) if text else b""
    if raw is None or len(raw) % merkle.HASH_SIZE:
        raise PayloadRejected(
            PayloadReason.CHUNK_MISMATCH,
            "The chunk's proof is not base64 of whole 32-byte hashes.",
        )
    return [raw[start : start + merkle.HASH_SIZE] for start in range(0, len(raw), merkle.HASH_SIZE)]


def check_chunk(manifest: Manifest, number: int, data: bytes, proof: Sequence[bytes]) -> None:
    """Refuses (``chunk_mismatch``) a chunk that is not chunk ``number`` of the payload:
    its length must be the chunk's, and its leaf hash with ``proof`` must lead to the
    manifest's ``chunk_root``."""
    _, length = manifest.chunk_span(number)
    if len(data) != length:
        raise PayloadRejected(
            PayloadReason.CHUNK_MISMATCH,
            f"Chunk {number} is {length} bytes long; {len(data)} came.",
        )
    try:
        verify_inclusion(
            merkle.leaf_hash(data),
            number,
            manifest.chunks,
            proof,
            bytes.fromhex(manifest.chunk_root),
        )
    except ProofError as exc:
        raise PayloadRejected(
            PayloadReason.CHUNK_MISMATCH,
            f"Chunk {number} does not match the manifest: {exc.message}",
        ) from None
