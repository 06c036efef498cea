"""The byte format of envelopes, ``comity-envelope/1``: the clear header, the encrypted
inner part, the serialised document and the exact bytes that are signed.

This module owns the encodings (the rules of single fields are in
:mod:`comity.exchange.envelope_fields`); it holds no keys and does no cryptography beyond
SHA-256 (:mod:`comity.exchange.envelope` seals and opens).
``docs/formats/envelope.md`` is the specification; the two must say the same thing.

- The **header** travels in clear, for routing: format, message id, sender, the id of the
  sender's signing key, recipients, ``sent_at`` and ``expires_at``.
- The **inner part** is what the age ciphertext holds: one line of RFC 8785 canonical
  JSON (message id and sender again, conversation id, sequence, type, attachments), a
  line feed, then the body's raw bytes.
- The **document** is the RFC 8785 canonical JSON object ``{"ciphertext", "header",
  "signature"}``, binary parts in padded base64. A document that is not byte for byte
  the canonical form of what it holds is malformed, so one message has one encoding.

Values that break a rule raise :class:`~comity.exchange.errors.EnvelopeInvalid` when
built; :func:`parse_document` turns every problem into an
:class:`~comity.exchange.errors.EnvelopeRejected`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from comity.exchange.envelope_fields import (
    check_attachment_name,
    check_count,
    check_message_type,
    check_node_id,
    check_sha256,
    check_time,
    check_uuid4,
    format_time,
    invalid,
    parse_time,
    shown,
)
from comity.exchange.errors import EnvelopeInvalid, EnvelopeRejected, RejectReason
from comity.exchange.key_ids import is_key_id
from comity.ledger.canonical import canonical_json
from comity.ledger.errors import EntryError

FORMAT = "comity-envelope/1"
SIGNING_CONTEXT = b"comity-envelope/1 signature\n"
"""Prefixed to the signed bytes, so that no other signature of a node's key (a ledger
checkpoint, a descriptor, a receipt) can pass for an envelope's, or the reverse."""
MAX_ENVELOPE_BYTES = 16 * 1024 * 1024
"""The largest serialised envelope; larger evidence moves separately, named by digest."""
MAX_RECIPIENTS = 64
MAX_ATTACHMENTS = 128
MAX_LIFETIME = dt.timedelta(days=30)
"""The longest span from ``sent_at`` to ``expires_at``. It bounds how long the inbox must
remember message ids to refuse replays, and how long after a signing key's end a message
backdated into its validity could still be accepted."""
SIGNATURE_SIZE = 64

_BASE64 = re.compile(r"\A[A-Za-z0-9+/]*={0,2}\Z")
_HEADER_FIELDS = frozenset(
    {"format", "message_id", "sender", "sender_key", "recipients", "sent_at", "expires_at"}
)
_INNER_FIELDS = frozenset(
    {"message_id", "sender", "conversation_id", "sequence", "type", "attachments"}
)
_ATTACHMENT_FIELDS = frozenset({"name", "size", "sha256"})
_DOCUMENT_FIELDS = frozenset({"ciphertext", "header", "signature"})


@dataclass(frozen=True)
class Attachment:
    """A file that travels apart from the envelope, named by its SHA-256 (lower-case hex)."""

    name: str
    size: int
    sha256: str

    def __post_init__(self) -> None:
        check_attachment_name(self.name)
        check_count(self.size, "size", 0)
        check_sha256(self.sha256, "sha256")


@dataclass(frozen=True)
class Header:
    """The clear, signed part of an envelope."""

    message_id: str
    sender: str
    sender_key: str
    recipients: tuple[str, ...]
    sent_at: dt.datetime
    expires_at: dt.datetime

    def __post_init__(self) -> None:
        check_uuid4(self.message_id, "message_id")
        check_node_id(self.sender, "sender")
        if not isinstance(self.sender_key, str) or not self.sender_key.startswith("ed25519:"):
            raise invalid("sender_key", "sender_key must be the id of an Ed25519 key.")
        if not is_key_id(self.sender_key):
            raise invalid("sender_key", f"sender_key {shown(self.sender_key)} is not a key id.")
        if not isinstance(self.recipients, tuple) or not self.recipients:
            raise invalid("recipients", "an envelope needs at least one recipient.")
        if len(self.recipients) > MAX_RECIPIENTS:
            raise invalid("recipients", f"an envelope has at most {MAX_RECIPIENTS} recipients.")
        for recipient in self.recipients:
            check_node_id(recipient, "recipient")
        if self.recipients != tuple(sorted(set(self.recipients))):
            raise invalid("recipients", "recipients must be sorted and without repetition.")
        check_time(self.sent_at, "sent_at")
        check_time(self.expires_at, "expires_at")
        if self.expires_at <= self.sent_at:
            raise invalid("expires_at", "expires_at must come after sent_at.")
        if self.expires_at - self.sent_at > MAX_LIFETIME:
            raise invalid(
                "expires_at", f"an envelope lives at most {MAX_LIFETIME.days} days after sent_at."
            )

    def to_json(self) -> bytes:
        """The header's canonical JSON, as it appears in the document and is signed."""
        return canonical_json(
            {
                "format": FORMAT,
                "message_id": self.message_id,
                "sender": self.sender,
                "sender_key": self.sender_key,
                "recipients": list(self.recipients),
                "sent_at": format_time(self.sent_at),
                "expires_at": format_time(self.expires_at),
            }
        )


@dataclass(frozen=True)
class Message:
    """The encrypted part of an envelope, as the recipient reads it."""

    conversation_id: str
    sequence: int
    message_type: str
    body: bytes
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self) -> None:
        check_uuid4(self.conversation_id, "conversation_id")
        check_count(self.sequence, "sequence", 1)
        check_message_type(self.message_type)
        if not isinstance(self.body, bytes):
            raise invalid("body", "the body must be bytes.")
        if not isinstance(self.attachments, tuple) or not all(
            isinstance(item, Attachment) for item in self.attachments
        ):
            raise invalid("attachments", "attachments must be a tuple of Attachment.")
        if len(self.attachments) > MAX_ATTACHMENTS:
            raise invalid(
                "attachments", f"an envelope names at most {MAX_ATTACHMENTS} attachments."
            )


def signed_bytes(header: Header, ciphertext: bytes) -> bytes:
    """What the sender signs: the context, the header's canonical JSON, a line feed, and
    the 32-byte SHA-256 of the age ciphertext."""
    return SIGNING_CONTEXT + header.to_json() + b"\n" + hashlib.sha256(ciphertext).digest()


def encode_inner(header: Header, message: Message) -> bytes:
    """The plaintext that is encrypted: a canonical JSON line, then the body."""
    fields = {
        "message_id": header.message_id,
        "sender": header.sender,
        "conversation_id": message.conversation_id,
        "sequence": message.sequence,
        "type": message.message_type,
        "attachments": [
            {"name": item.name, "size": item.size, "sha256": item.sha256}
            for item in message.attachments
        ],
    }
    try:
        line = canonical_json(fields)
    except EntryError as exc:
        raise invalid("attachments", f"the message's metadata cannot be encoded: {exc}") from None
    return line + b"\n" + message.body


def _object(value: object, fields: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EnvelopeInvalid(f"{what} is not a JSON object.")
    if set(value) != fields:
        missing = ", ".join(sorted(fields - set(value))) or "none"
        extra = ", ".join(sorted(set(value) - fields)) or "none"
        raise EnvelopeInvalid(f"{what} has the wrong members (missing: {missing}; extra: {extra}).")
    return value


def decode_inner(plaintext: bytes) -> tuple[str, str, Message]:
    """The message id, the sender and the message of a decrypted inner part."""
    line, newline, body = plaintext.partition(b"\n")
    if not newline:
        raise EnvelopeInvalid("The encrypted part has no line feed after its metadata.")
    try:
        fields = _object(json.loads(line.decode("utf-8")), _INNER_FIELDS, "The metadata")
    except (ValueError, RecursionError):
        raise EnvelopeInvalid("The encrypted part's metadata is not UTF-8 JSON.") from None
    attachments = fields["attachments"]
    if not isinstance(attachments, list):
        raise EnvelopeInvalid("attachments is not a list.")
    items = [_object(item, _ATTACHMENT_FIELDS, "An attachment") for item in attachments]
    message_id = check_uuid4(fields["message_id"], "message_id")
    sender = check_node_id(fields["sender"], "sender")
    message = Message(
        conversation_id=fields["conversation_id"],
        sequence=fields["sequence"],
        message_type=fields["type"],
        body=body,
        attachments=tuple(
            Attachment(name=item["name"], size=item["size"], sha256=item["sha256"])
            for item in items
        ),
    )
    try:
        canonical = canonical_json(fields)
    except EntryError as exc:
        raise EnvelopeInvalid(f"The encrypted part's metadata cannot be encoded: {exc}") from None
    if canonical != line:
        raise EnvelopeInvalid("The encrypted part's metadata is not in canonical form.")
    return message_id, sender, message


@dataclass(frozen=True)
class Document:
    """The three parts of an envelope, checked for form but not yet verified."""

    header: Header
    ciphertext: bytes
    signature: bytes

    def encode(self) -> bytes:
        """The canonical JSON of the document. The members are written in canonical
        order by hand, because base64 needs no escaping and the ledger's encoder stops at
        64 KiB, well below an envelope's size."""
        return b"".join(
            (
                b'{"ciphertext":"',
                base64.b64encode(self.ciphertext),
                b'","header":',
                self.header.to_json(),
                b',"signature":"',
                base64.b64encode(self.signature),
                b'"}',
            )
        )


def _b64decode(value: object, field: str) -> bytes:
    if not isinstance(value, str) or not _BASE64.match(value):
        raise EnvelopeInvalid(f"{field} is not base64.")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise EnvelopeInvalid(f"{field} is not base64.") from None


def _header(fields: dict[str, Any]) -> Header:
    recipients = fields["recipients"]
    if not isinstance(recipients, list):
        raise EnvelopeInvalid("recipients is not a list.")
    return Header(
        message_id=fields["message_id"],
        sender=fields["sender"],
        sender_key=fields["sender_key"],
        recipients=tuple(recipients),
        sent_at=parse_time(fields["sent_at"], "sent_at"),
        expires_at=parse_time(fields["expires_at"], "expires_at"),
    )


def parse_document(data: bytes) -> Document:
    """Parses and checks the form of an envelope; every failure is an
    :class:`EnvelopeRejected` with reason ``too_large``, ``malformed``,
    ``unsupported_format`` or ``unsigned``."""
    if len(data) > MAX_ENVELOPE_BYTES:
        raise EnvelopeRejected(
            RejectReason.TOO_LARGE,
            f"The envelope is {len(data)} bytes, more than the {MAX_ENVELOPE_BYTES} allowed.",
        )
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        raise EnvelopeRejected(RejectReason.MALFORMED, "The envelope is not UTF-8 JSON.") from None
    header = value.get("header") if isinstance(value, dict) else None
    if not isinstance(header, dict):
        raise EnvelopeRejected(RejectReason.MALFORMED, "The envelope has no header object.")
    found = header.get("format")
    if isinstance(found, str) and found != FORMAT:
        raise EnvelopeRejected(
            RejectReason.UNSUPPORTED_FORMAT,
            f"The envelope's format is {found[:60]!r}; this node reads {FORMAT!r}.",
        )
    if value.get("signature") in (None, ""):
        raise EnvelopeRejected(RejectReason.UNSIGNED, "The envelope carries no signature.")
    try:
        _object(value, _DOCUMENT_FIELDS, "The envelope")
        document = Document(
            header=_header(_object(header, _HEADER_FIELDS, "The header")),
            ciphertext=_b64decode(value["ciphertext"], "ciphertext"),
            signature=_b64decode(value["signature"], "signature"),
        )
    except EnvelopeInvalid as exc:
        raise EnvelopeRejected(RejectReason.MALFORMED, exc.message) from None
    if len(document.signature) != SIGNATURE_SIZE:
        raise EnvelopeRejected(
            RejectReason.MALFORMED, f"The signature is not {SIGNATURE_SIZE} bytes."
        )
    if document.encode() != data:
        raise EnvelopeRejected(
            RejectReason.MALFORMED, "The envelope is not in canonical form (RFC 8785)."
        )
    return document
