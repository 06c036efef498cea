"""Receipts (``comity-receipt/1``): what the receiving node signs about one envelope, in
the manner of the e-CODEX evidence model. Pure: no database, no clock, no network.

Four kinds, each naming the message, its sender and its receiver, and echoing the
SHA-256 of the envelope bytes as the receiver got them:

- ``acceptance``: the receiver verified the envelope and stored it durably;
- ``delivery``: it was released, in its turn in its conversation, to the inbox;
- ``retrieval``: a person on the receiving node opened it;
- ``rejection``: the receiver refused it, with the reason (final).

A receipt is the canonical JSON (RFC 8785) of ``{"receipt": {…}, "signature": {"key",
"value"}}``; the signature is Ed25519 by the receiver's node key over a domain tag and
the canonical JSON of the ``receipt`` object. :func:`issue` makes one,
:func:`parse_receipt` checks its form and :func:`verify_receipt` its signature with the
keys the trust list holds for the receiver. The specification, with a worked example
made by this code, is ``docs/formats/receipt.md``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from comity.errors import ValidationError
from comity.exchange.envelope import SigningKey
from comity.exchange.envelope_fields import (
    check_node_id,
    check_sha256,
    check_uuid4,
    envelope_time,
    format_time,
    parse_time,
)
from comity.exchange.errors import EnvelopeInvalid
from comity.exchange.key_ids import is_key_id, key_id
from comity.ledger.canonical import canonical_json
from comity.ledger.errors import EntryError
from comity.ledger.note import b64decode_strict

FORMAT = "comity-receipt/1"
SIGNING_CONTEXT = b"comity-receipt/1 signature\n"
"""Prefixed to the signed bytes, so that no other signature of a node's key (an
envelope's, a descriptor's, a checkpoint's) can pass for a receipt's, or the reverse."""
MAX_RECEIPT_BYTES = 4096
MAX_DETAIL_CHARS = 300
_REASON = re.compile(r"\A[a-z][a-z_]{0,39}\Z")
_FIELDS = frozenset(
    {"format", "kind", "message_id", "sender", "receiver", "envelope_sha256", "time"}
)


class ReceiptKind(StrEnum):
    ACCEPTANCE = "acceptance"
    DELIVERY = "delivery"
    RETRIEVAL = "retrieval"
    REJECTION = "rejection"


class ReceiptInvalid(ValidationError):
    """A receipt that is malformed, not canonical, or whose signature does not verify
    with a key the trust list holds for its receiver."""

    code = "receipt_invalid"


@dataclass(frozen=True)
class Receipt:
    """The signed statement, checked for form. ``reason`` and ``detail`` are set on
    rejections only: the machine reason and a short explanation for a person."""

    kind: ReceiptKind
    message_id: str
    sender: str
    receiver: str
    envelope_sha256: str
    time: dt.datetime
    reason: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        try:
            check_uuid4(self.message_id, "message_id")
            check_node_id(self.sender, "sender")
            check_node_id(self.receiver, "receiver")
            check_sha256(self.envelope_sha256, "envelope_sha256")
        except EnvelopeInvalid as exc:
            raise ReceiptInvalid(f"The receipt's {exc.message}") from None
        if self.time.utcoffset() is None or self.time.microsecond % 1000:
            raise ReceiptInvalid("A receipt's time is an aware datetime in milliseconds.")
        if self.kind is ReceiptKind.REJECTION:
            if not _REASON.match(self.reason):
                raise ReceiptInvalid("A rejection names its reason (a lower-case word).")
            if len(self.detail) > MAX_DETAIL_CHARS:
                raise ReceiptInvalid(
                    f"A rejection's detail has at most {MAX_DETAIL_CHARS} characters."
                )
        elif self.reason or self.detail:
            raise ReceiptInvalid("Only a rejection carries a reason and a detail.")

    def content(self) -> dict[str, Any]:
        """The ``receipt`` object, as signed."""
        content: dict[str, Any] = {
            "format": FORMAT,
            "kind": self.kind.value,
            "message_id": self.message_id,
            "sender": self.sender,
            "receiver": self.receiver,
            "envelope_sha256": self.envelope_sha256,
            "time": format_time(self.time),
        }
        if self.kind is ReceiptKind.REJECTION:
            content["reason"] = self.reason
            content["detail"] = self.detail
        return content


@dataclass(frozen=True)
class SignedReceipt:
    """A receipt with its signature, and the exact bytes it travels as."""

    receipt: Receipt
    key: str
    signature: bytes
    raw: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


def envelope_digest(envelope: bytes) -> str:
    """The SHA-256 of envelope bytes, in lower-case hex, as receipts echo it."""
    return hashlib.sha256(envelope).hexdigest()


def signed_bytes(receipt: Receipt) -> bytes:
    return SIGNING_CONTEXT + canonical_json(receipt.content())


def _encode(receipt: Receipt, key: str, signature: bytes) -> bytes:
    return canonical_json(
        {
            "receipt": receipt.content(),
            "signature": {"key": key, "value": base64.b64encode(signature).decode("ascii")},
        }
    )


def issue(
    signing_key: Ed25519PrivateKey,
    kind: ReceiptKind,
    *,
    message_id: str,
    sender: str,
    receiver: str,
    envelope_sha256: str,
    time: dt.datetime,
    reason: str = "",
    detail: str = "",
) -> SignedReceipt:
    """A receipt signed with the receiver's ``signing_key``; ``time`` is cut to the
    millisecond and a long ``detail`` shortened."""
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[: MAX_DETAIL_CHARS - 1] + "…"
    receipt = Receipt(
        kind=kind,
        message_id=message_id,
        sender=sender,
        receiver=receiver,
        envelope_sha256=envelope_sha256,
        time=envelope_time(time, "time"),
        reason=reason,
        detail=detail,
    )
    signature = signing_key.sign(signed_bytes(receipt))
    key = key_id(signing_key.public_key())
    return SignedReceipt(receipt, key, signature, _encode(receipt, key, signature))


def _members(value: object, required: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != required:
        raise ReceiptInvalid(
            f"{what} does not have exactly the members {', '.join(sorted(required))}."
        )
    return value


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ReceiptInvalid(f"The receipt's {field} is not a string.")
    return value


def parse_receipt(data: bytes) -> SignedReceipt:
    """A receipt, checked for form: size, members, values, canonical encoding. The
    signature is *not* verified here (:func:`verify_receipt`)."""
    if len(data) > MAX_RECEIPT_BYTES:
        raise ReceiptInvalid(f"A receipt is at most {MAX_RECEIPT_BYTES} bytes.")
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        raise ReceiptInvalid("The receipt is not UTF-8 JSON.") from None
    document = _members(value, frozenset({"receipt", "signature"}), "The receipt document")
    content = document["receipt"]
    kind_value = content.get("kind") if isinstance(content, dict) else None
    rejection = kind_value == ReceiptKind.REJECTION.value
    fields = _FIELDS | ({"reason", "detail"} if rejection else set())
    content = _members(content, frozenset(fields), "The receipt")
    signature = _members(document["signature"], frozenset({"key", "value"}), "The signature")
    if content["format"] != FORMAT:
        raise ReceiptInvalid(f"The receipt's format is not {FORMAT}.")
    try:
        kind = ReceiptKind(_text(content["kind"], "kind"))
        time = parse_time(content["time"], "time")
    except (ValueError, EnvelopeInvalid):
        raise ReceiptInvalid("The receipt's kind or time is not valid.") from None
    key = _text(signature["key"], "key")
    if not key.startswith("ed25519:") or not is_key_id(key):
        raise ReceiptInvalid("The receipt's signing key is not the id of an Ed25519 key.")
    raw_signature = b64decode_strict(_text(signature["value"], "signature"))
    if raw_signature is None or len(raw_signature) != 64:
        raise ReceiptInvalid("The receipt's signature is not 64 bytes in base64.")
    receipt = Receipt(
        kind=kind,
        message_id=_text(content["message_id"], "message_id"),
        sender=_text(content["sender"], "sender"),
        receiver=_text(content["receiver"], "receiver"),
        envelope_sha256=_text(content["envelope_sha256"], "envelope_sha256"),
        time=time,
        reason=_text(content["reason"], "reason") if rejection else "",
        detail=_text(content["detail"], "detail") if rejection else "",
    )
    try:
        canonical = _encode(receipt, key, raw_signature)
    except EntryError:
        raise ReceiptInvalid("The receipt cannot be encoded as canonical JSON.") from None
    if canonical != data:
        raise ReceiptInvalid("The receipt is not in canonical form (RFC 8785).")
    return SignedReceipt(receipt, key, raw_signature, data)


def verify_receipt(signed: SignedReceipt, receiver_keys: Sequence[SigningKey]) -> None:
    """Check the signature with the receiver's signing keys (as the trust list holds
    them): the key named must be one of them, valid at the receipt's time."""
    matching = [key for key in receiver_keys if key.id == signed.key]
    if not matching:
        raise ReceiptInvalid(
            f"The receipt is signed by {signed.key}, not a key of {signed.receipt.receiver}."
        )
    try:
        matching[0].public_key.verify(signed.signature, signed_bytes(signed.receipt))
    except InvalidSignature:
        raise ReceiptInvalid(
            f"The receipt's signature does not verify with {signed.receipt.receiver}'s key "
            f"{signed.key}: it was altered."
        ) from None
    if not any(key.valid_at(signed.receipt.time) for key in matching):
        raise ReceiptInvalid(
            f"The key {signed.key} was not valid for {signed.receipt.receiver} at the "
            f"receipt's time, {signed.receipt.time.isoformat()}."
        )
