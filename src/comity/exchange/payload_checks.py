"""The checks a receiving node makes that need more than the bytes: who sent a manifest
and whether to believe it (:func:`verify_manifest`), what its sealed contents say
(:func:`open_contents`, with this node's key), and whether a chunk is the one the
manifest vouches for (:func:`check_chunk`, with its inclusion proof, which travels in
the :data:`~comity.exchange.payload_format.PROOF_HEADER` header: :func:`encode_proof`,
:func:`decode_proof`). Pure: the trust list, the keys and the clock are given.

The order of the checks is the specification's (``docs/formats/payload.md``); each
refusal is a :class:`~comity.exchange.payload_errors.PayloadRejected` with its reason.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from comity.exchange.envelope import Sender, SenderKeys, SenderStatus, SigningKey
from comity.exchange.envelope_fields import format_time
from comity.exchange.payload_errors import PayloadReason, PayloadRejected
from comity.exchange.payload_format import (
    DEFAULT_CLOCK_SKEW,
    Contents,
    Manifest,
    SignedManifest,
    decode_contents,
)
from comity.ledger import merkle
from comity.ledger.errors import ProofError
from comity.ledger.note import b64decode_strict
from comity.ledger.proofs import verify_inclusion
from comity.vault.age import decrypt_bytes
from comity.vault.age_keys import X25519Identity
from comity.vault.errors import AgeError


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
        return decode_contents(
            decrypt_bytes(
                manifest.contents,
                [X25519Identity(identity.private_bytes_raw()) for identity in identities],
            )
        )
    except (AgeError, PayloadRejected) as exc:
        raise PayloadRejected(
            PayloadReason.UNDECRYPTABLE, f"The sealed contents cannot be read here: {exc.message}"
        ) from None


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
