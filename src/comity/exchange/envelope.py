"""Envelopes: messages between nodes, signed by the sender with Ed25519 and encrypted to
the recipients with age (X25519). Pure: no database, no clock, no network.

This module owns the cryptography of a message and the order in which an incoming one is
checked. :func:`seal` makes an envelope; :func:`open_envelope` verifies it (the signature
before anything is decrypted) and returns the message, or raises
:class:`~comity.exchange.errors.EnvelopeRejected` with a reason and nothing else;
:func:`peek_header` reads the clear header, unverified, for routing and logs.

What it leaves to its callers: whom to trust (a :class:`SenderKeys` gives each sender's
status and signing keys), the time (``now``), and everything that needs memory of past
messages — refusing a replayed message id, and ordering each sender's messages in a
conversation by sequence number — which the inbox does with its tables.

The byte format is :mod:`comity.exchange.envelope_format` (with the rules of single fields
in :mod:`comity.exchange.envelope_fields`), specified in ``docs/formats/envelope.md``.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from comity.exchange.envelope_fields import envelope_time
from comity.exchange.envelope_format import (
    MAX_ENVELOPE_BYTES,
    Attachment,
    Document,
    Header,
    Message,
    decode_inner,
    encode_inner,
    parse_document,
    signed_bytes,
)
from comity.exchange.errors import EnvelopeInvalid, EnvelopeRejected, RejectReason
from comity.exchange.key_ids import key_id
from comity.vault.age import decrypt, encrypt_bytes
from comity.vault.age_keys import X25519Identity, X25519Recipient
from comity.vault.errors import AgeError

DEFAULT_CLOCK_SKEW = dt.timedelta(minutes=5)


class SenderStatus(StrEnum):
    """Where a sender stands on this node's trust list (the values of the peers'
    status, and ``unknown`` for a node not on the list)."""

    CONFIRMED = "confirmed"
    PENDING = "pending"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SigningKey:
    """One of a sender's Ed25519 keys, valid for messages sent from ``valid_from`` until
    ``valid_until`` (excluded; ``None`` while it is current)."""

    public_key: Ed25519PublicKey
    valid_from: dt.datetime
    valid_until: dt.datetime | None = None

    def __post_init__(self) -> None:
        for moment in (self.valid_from, self.valid_until):
            if moment is not None and moment.utcoffset() is None:
                raise ValueError("a signing key's validity must be given in aware datetimes")
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("a signing key's valid_until must come after its valid_from")

    @property
    def id(self) -> str:
        return key_id(self.public_key)

    def valid_at(self, moment: dt.datetime) -> bool:
        return self.valid_from <= moment and (self.valid_until is None or moment < self.valid_until)


@dataclass(frozen=True)
class Sender:
    """What this node knows of a sender: its status and every signing key it has had."""

    status: SenderStatus
    keys: tuple[SigningKey, ...] = ()


UNKNOWN_SENDER = Sender(SenderStatus.UNKNOWN)


class SenderKeys(Protocol):
    """Looks a sender up on the trust list; a node not on it is :data:`UNKNOWN_SENDER`."""

    def __call__(self, node_id: str, /) -> Sender: ...


@dataclass(frozen=True)
class Opened:
    """An envelope that passed every check: its verified header and its message."""

    header: Header
    message: Message


def seal(
    *,
    sender: str,
    signing_key: Ed25519PrivateKey,
    recipients: Mapping[str, X25519PublicKey],
    conversation_id: str,
    sequence: int,
    message_type: str,
    body: bytes,
    attachments: Sequence[Attachment] = (),
    sent_at: dt.datetime,
    expires_at: dt.datetime,
    message_id: str | None = None,
) -> bytes:
    """The envelope of a message from ``sender`` to ``recipients`` (node id to its X25519
    encryption key), one age stanza per recipient. Times are kept to the millisecond, in
    UTC; ``message_id`` is a fresh random UUID unless given (an outbox that re-seals a
    message for a retry keeps its id). Raises :class:`EnvelopeInvalid` if a value breaks
    the format's rules or the envelope would exceed :data:`MAX_ENVELOPE_BYTES`."""
    if len(body) > MAX_ENVELOPE_BYTES:
        raise EnvelopeInvalid(
            f"The body is {len(body)} bytes; an envelope holds at most {MAX_ENVELOPE_BYTES}. "
            "Send large files as attachments.",
            fields={"body": "too large"},
        )
    header = Header(
        message_id=str(uuid.uuid4()) if message_id is None else message_id,
        sender=sender,
        sender_key=key_id(signing_key.public_key()),
        recipients=tuple(sorted(recipients)),
        sent_at=envelope_time(sent_at, "sent_at"),
        expires_at=envelope_time(expires_at, "expires_at"),
    )
    message = Message(
        conversation_id=conversation_id,
        sequence=sequence,
        message_type=message_type,
        body=body,
        attachments=tuple(attachments),
    )
    ciphertext = encrypt_bytes(
        encode_inner(header, message),
        [X25519Recipient(recipients[node_id].public_bytes_raw()) for node_id in header.recipients],
    )
    signature = signing_key.sign(signed_bytes(header, ciphertext))
    data = Document(header, ciphertext, signature).encode()
    if len(data) > MAX_ENVELOPE_BYTES:
        raise EnvelopeInvalid(
            f"The envelope would be {len(data)} bytes, more than the {MAX_ENVELOPE_BYTES} "
            "allowed. Send large files as attachments.",
            fields={"body": "too large"},
        )
    return data


def peek_header(data: bytes) -> Header:
    """The clear header of an envelope, checked for form only: **not verified**, so
    fit for routing and logging, never for a decision of trust. Raises
    :class:`EnvelopeRejected` (``too_large``, ``malformed``, ``unsupported_format``,
    ``unsigned``)."""
    return parse_document(data).header


def _signing_key(header: Header, sender_keys: SenderKeys) -> Sequence[SigningKey]:
    """The sender's entries for the key the header names, once the sender is trusted."""
    sender = sender_keys(header.sender)
    who = f"The sender {header.sender!r}"
    if sender.status is SenderStatus.UNKNOWN:
        raise EnvelopeRejected(
            RejectReason.UNKNOWN_SENDER, f"{who} is not on this node's trust list."
        )
    if sender.status is SenderStatus.REVOKED:
        raise EnvelopeRejected(RejectReason.REVOKED_SENDER, f"{who} was revoked.")
    if sender.status is not SenderStatus.CONFIRMED:
        raise EnvelopeRejected(
            RejectReason.SENDER_NOT_CONFIRMED, f"{who} is {sender.status.value}."
        )
    entries = [key for key in sender.keys if key.id == header.sender_key]
    if not entries:
        raise EnvelopeRejected(
            RejectReason.UNKNOWN_KEY, f"{who} has no signing key {header.sender_key!r}."
        )
    return entries


def _decrypt(ciphertext: bytes, identities: Sequence[X25519PrivateKey]) -> bytes:
    out = io.BytesIO()
    try:
        decrypt(
            io.BytesIO(ciphertext),
            out,
            [X25519Identity(identity.private_bytes_raw()) for identity in identities],
            armored=False,
        )
    except AgeError as exc:
        raise EnvelopeRejected(
            RejectReason.UNDECRYPTABLE, f"The ciphertext cannot be decrypted here: {exc.message}"
        ) from None
    return out.getvalue()


def open_envelope(
    data: bytes,
    *,
    me: str,
    identities: Sequence[X25519PrivateKey],
    sender_keys: SenderKeys,
    now: dt.datetime,
    max_clock_skew: dt.timedelta = DEFAULT_CLOCK_SKEW,
) -> Opened:
    """Verifies and decrypts an envelope addressed to the node ``me``, which holds the
    X25519 ``identities`` (current and past encryption keys). The checks run in the order
    of ``docs/formats/envelope.md``: form, sender, key, signature, the key's validity at
    ``sent_at``, addressing, times, decryption, the inner part. The first that fails
    raises :class:`EnvelopeRejected`; nothing partial is returned.

    Replays and order are not checked here: the caller refuses a message id it has seen
    and holds each sender's messages in a conversation to their sequence numbers."""
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    document = parse_document(data)
    header = document.header
    entries = _signing_key(header, sender_keys)
    try:
        entries[0].public_key.verify(document.signature, signed_bytes(header, document.ciphertext))
    except InvalidSignature:
        raise EnvelopeRejected(
            RejectReason.BAD_SIGNATURE,
            f"The signature does not verify with {header.sender}'s key {header.sender_key}: "
            "the header, the ciphertext or the signature was altered.",
        ) from None
    if not any(entry.valid_at(header.sent_at) for entry in entries):
        raise EnvelopeRejected(
            RejectReason.KEY_NOT_VALID_AT_SEND_TIME,
            f"The key {header.sender_key} was not valid for {header.sender} at the "
            f"envelope's sent_at, {header.sent_at.isoformat()}.",
        )
    if me not in header.recipients:
        raise EnvelopeRejected(
            RejectReason.MISADDRESSED,
            f"The envelope is for {', '.join(header.recipients)}, not {me}.",
        )
    if now - header.expires_at > max_clock_skew:
        raise EnvelopeRejected(
            RejectReason.EXPIRED, f"The envelope expired at {header.expires_at.isoformat()}."
        )
    if header.sent_at - now > max_clock_skew:
        raise EnvelopeRejected(
            RejectReason.FROM_THE_FUTURE,
            f"The envelope says it was sent at {header.sent_at.isoformat()}, ahead of this "
            f"node's clock ({now.isoformat()}) by more than {max_clock_skew}.",
        )
    plaintext = _decrypt(document.ciphertext, identities)
    try:
        message_id, sender, message = decode_inner(plaintext)
    except EnvelopeInvalid as exc:
        raise EnvelopeRejected(
            RejectReason.MALFORMED, f"The encrypted part: {exc.message}"
        ) from None
    if message_id != header.message_id or sender != header.sender:
        raise EnvelopeRejected(
            RejectReason.INNER_MISMATCH,
            "The encrypted part names another message or sender than the signed header "
            f"(message {message_id}, sender {sender}).",
        )
    return Opened(header, message)
