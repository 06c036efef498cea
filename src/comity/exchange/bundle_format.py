"""Bundles (``comity-bundle/1``): envelopes, or the answers to them, carried between two
nodes as one file — on a USB stick or in a diplomatic bag — when no network joins them.
Pure: no database, no clock, no network.

A bundle is, byte after byte:

1. the line ``comity-bundle/1\\n`` (:data:`MAGIC`);
2. the length of the manifest document, 4 bytes, big-endian;
3. the **manifest document**: the canonical JSON (RFC 8785) of ``{"manifest": {…},
   "signature": {"key", "value"}}``. The manifest names the ``kind`` (``envelopes``, or
   ``answers`` to envelopes), the exporting node (``from``), the node it is for (``to``),
   when it was made (``created``) and each item in order by its size and SHA-256; the
   signature is Ed25519 by the exporting node's key over :data:`SIGNING_CONTEXT` and the
   canonical JSON of the manifest;
4. the items, one after the other, nothing after the last.

:func:`parse_bundle` checks the form, the sizes and every item's SHA-256;
:func:`verify_bundle` the signature, with the keys the trust list holds for the exporting
node. Both raise :class:`BundleInvalid`, so that a bundle tampered with, cut short, or
unsigned is refused whole before anything inside it is looked at. An ``envelopes`` item
is an envelope (``docs/formats/envelope.md``), still checked on its own on import; an
``answers`` item is what the envelope route would have answered to the envelope that has
the digest it names (:class:`Answer`). The specification, with a worked example made by
this code, is ``docs/formats/bundle.md``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
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
    envelope_time,
    format_time,
    parse_time,
)
from comity.exchange.envelope_format import MAX_ENVELOPE_BYTES
from comity.exchange.errors import EnvelopeInvalid
from comity.exchange.key_ids import is_key_id, key_id
from comity.exchange.transport import MAX_ANSWER_BYTES
from comity.ledger.canonical import MAX_ENTRY_BYTES, canonical_json
from comity.ledger.errors import EntryError
from comity.ledger.note import b64decode_strict

FORMAT = "comity-bundle/1"
MAGIC = FORMAT.encode("ascii") + b"\n"
SIGNING_CONTEXT = b"comity-bundle/1 signature\n"
"""Prefixed to the signed bytes, so that no other signature of a node's key (an
envelope's, a receipt's, a descriptor's) can pass for a bundle's, or the reverse."""
MAX_ITEMS = 400
"""Items in one bundle: the manifest, at most 64 KiB, names each in about 100 bytes."""
MAX_BUNDLE_BYTES = 256 * 1024 * 1024
"""A bundle's whole size; an export leaves what does not fit for the next bundle."""
MAX_MANIFEST_BYTES = MAX_ENTRY_BYTES
_LENGTH_BYTES = 4
_MANIFEST_FIELDS = frozenset({"format", "kind", "from", "to", "created", "items"})
_ANSWER_FIELDS = frozenset({"envelope_sha256", "status", "body"})


class BundleKind(StrEnum):
    ENVELOPES = "envelopes"
    ANSWERS = "answers"


MAX_ITEM_BYTES = {BundleKind.ENVELOPES: MAX_ENVELOPE_BYTES, BundleKind.ANSWERS: MAX_ANSWER_BYTES}


class BundleInvalid(ValidationError):
    """A bundle that is malformed, cut short, altered, not signed by a key the trust
    list holds for the node it names as its exporter, or not for this node. Nothing in
    it was looked at."""

    code = "bundle_invalid"


@dataclass(frozen=True)
class Manifest:
    """What a bundle holds, as signed: each item by its size and SHA-256."""

    kind: BundleKind
    sender: str
    recipient: str
    created: dt.datetime
    items: tuple[tuple[int, str], ...]

    def __post_init__(self) -> None:
        try:
            check_node_id(self.sender, "from")
            check_node_id(self.recipient, "to")
            for _, digest in self.items:
                check_sha256(digest, "sha256")
        except EnvelopeInvalid as exc:
            raise BundleInvalid(f"The bundle's {exc.message}") from None
        if self.sender == self.recipient:
            raise BundleInvalid("A bundle goes from one node to another, not to itself.")
        if self.created.utcoffset() is None or self.created.microsecond % 1000:
            raise BundleInvalid("A bundle's time is an aware datetime in milliseconds.")
        if not 1 <= len(self.items) <= MAX_ITEMS:
            raise BundleInvalid(f"A bundle holds from 1 to {MAX_ITEMS} items.")
        limit = MAX_ITEM_BYTES[self.kind]
        if any(not 1 <= size <= limit for size, _ in self.items):
            raise BundleInvalid(f"An item of an {self.kind} bundle is 1 to {limit} bytes.")

    def content(self) -> dict[str, Any]:
        """The ``manifest`` object, as signed."""
        return {
            "format": FORMAT,
            "kind": self.kind.value,
            "from": self.sender,
            "to": self.recipient,
            "created": format_time(self.created),
            "items": [{"bytes": size, "sha256": digest} for size, digest in self.items],
        }


@dataclass(frozen=True)
class Bundle:
    """A bundle checked for form, its items' digests matching the manifest; the
    signature is checked by :func:`verify_bundle`."""

    manifest: Manifest
    key: str
    signature: bytes
    items: tuple[bytes, ...]
    sha256: str
    """The SHA-256 of the whole file: the bundle's name in audit and ledger records."""


@dataclass(frozen=True)
class Answer:
    """One item of an ``answers`` bundle: the HTTP status and JSON body that the envelope
    route gives (``web/api/exchange.py``) for the envelope of SHA-256 ``envelope_sha256``."""

    envelope_sha256: str
    status: int
    body: dict[str, Any]

    def __post_init__(self) -> None:
        try:
            check_sha256(self.envelope_sha256, "envelope_sha256")
        except EnvelopeInvalid as exc:
            raise BundleInvalid(f"An answer's {exc.message}") from None
        if not (200 <= self.status < 300 or 400 <= self.status < 500):
            raise BundleInvalid(f"An answer's status is 2xx or 4xx, not {self.status}.")

    def encode(self) -> bytes:
        return json.dumps(
            {"envelope_sha256": self.envelope_sha256, "status": self.status, "body": self.body},
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
        ).encode("utf-8")


def signed_bytes(manifest: Manifest) -> bytes:
    return SIGNING_CONTEXT + canonical_json(manifest.content())


def _document(manifest: Manifest, key: str, signature: bytes) -> bytes:
    return canonical_json(
        {
            "manifest": manifest.content(),
            "signature": {"key": key, "value": base64.b64encode(signature).decode("ascii")},
        }
    )


def make_bundle(
    signing_key: Ed25519PrivateKey,
    kind: BundleKind,
    *,
    sender: str,
    recipient: str,
    created: dt.datetime,
    items: Sequence[bytes],
) -> bytes:
    """A bundle of ``items`` from ``sender`` to ``recipient``, signed with the sender's
    ``signing_key``; ``created`` is cut to the millisecond. Raises :class:`BundleInvalid`
    if it would break a rule of the format (too many items, too large …)."""
    manifest = Manifest(
        kind=kind,
        sender=sender,
        recipient=recipient,
        created=envelope_time(created, "created"),
        items=tuple((len(item), hashlib.sha256(item).hexdigest()) for item in items),
    )
    signature = signing_key.sign(signed_bytes(manifest))
    try:
        document = _document(manifest, key_id(signing_key.public_key()), signature)
    except EntryError:
        raise BundleInvalid(f"The manifest would exceed {MAX_MANIFEST_BYTES} bytes.") from None
    data = b"".join((MAGIC, len(document).to_bytes(_LENGTH_BYTES, "big"), document, *items))
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleInvalid(f"The bundle would exceed {MAX_BUNDLE_BYTES} bytes.")
    return data


def _members(value: object, required: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != required:
        raise BundleInvalid(
            f"{what} does not have exactly the members {', '.join(sorted(required))}."
        )
    return value


def _manifest(content: dict[str, Any]) -> Manifest:
    content = _members(content, _MANIFEST_FIELDS, "The manifest")
    if content["format"] != FORMAT:
        raise BundleInvalid(f"The bundle's format is not {FORMAT}.")
    items = content["items"]
    if not isinstance(items, list):
        raise BundleInvalid("The manifest's items are not a list.")
    sizes: list[tuple[int, str]] = []
    for item in items:
        entry = _members(item, frozenset({"bytes", "sha256"}), "An item of the manifest")
        size, digest = entry["bytes"], entry["sha256"]
        if not isinstance(size, int) or isinstance(size, bool) or not isinstance(digest, str):
            raise BundleInvalid("An item of the manifest is not a size and a SHA-256.")
        sizes.append((size, digest))
    try:
        kind = BundleKind(content["kind"])
        created = parse_time(content["created"], "created")
    except (ValueError, EnvelopeInvalid):
        raise BundleInvalid("The bundle's kind or time is not valid.") from None
    return Manifest(
        kind=kind,
        sender=content["from"],
        recipient=content["to"],
        created=created,
        items=tuple(sizes),
    )


def parse_bundle(data: bytes) -> Bundle:
    """A bundle, checked for form: the leading line, the manifest document (members,
    values, canonical encoding), the items' sizes adding up to the end of the file and
    their SHA-256. The signature is *not* verified here (:func:`verify_bundle`)."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleInvalid(f"A bundle is at most {MAX_BUNDLE_BYTES} bytes.")
    if not data.startswith(MAGIC):
        raise BundleInvalid(f"This is not a bundle: it does not begin with '{FORMAT}'.")
    start = len(MAGIC) + _LENGTH_BYTES
    length = int.from_bytes(data[len(MAGIC) : start], "big")
    if len(data) < start or not 0 < length <= MAX_MANIFEST_BYTES or len(data) < start + length:
        raise BundleInvalid("The bundle is cut short in its manifest.")
    document_bytes = data[start : start + length]
    try:
        value = json.loads(document_bytes.decode("utf-8"))
    except (ValueError, RecursionError):
        raise BundleInvalid("The bundle's manifest is not UTF-8 JSON.") from None
    document = _members(value, frozenset({"manifest", "signature"}), "The manifest document")
    manifest = _manifest(document["manifest"])
    signature = _members(document["signature"], frozenset({"key", "value"}), "The signature")
    key, encoded = signature["key"], signature["value"]
    if not isinstance(key, str) or not key.startswith("ed25519:") or not is_key_id(key):
        raise BundleInvalid("The bundle's signing key is not the id of an Ed25519 key.")
    raw_signature = b64decode_strict(encoded) if isinstance(encoded, str) else None
    if raw_signature is None or len(raw_signature) != 64:
        raise BundleInvalid("The bundle's signature is not 64 bytes in base64.")
    if _document(manifest, key, raw_signature) != document_bytes:
        raise BundleInvalid("The bundle's manifest is not in canonical form (RFC 8785).")
    offset = start + length
    expected = offset + sum(size for size, _ in manifest.items)
    if len(data) != expected:
        what = "cut short" if len(data) < expected else "longer than its manifest says"
        raise BundleInvalid(f"The bundle is {what}: {len(data)} bytes, not {expected}.")
    items: list[bytes] = []
    for number, (size, digest) in enumerate(manifest.items, start=1):
        item = data[offset : offset + size]
        if hashlib.sha256(item).hexdigest() != digest:
            raise BundleInvalid(f"Item {number} of the bundle is not what its manifest says.")
        items.append(item)
        offset += size
    return Bundle(manifest, key, raw_signature, tuple(items), hashlib.sha256(data).hexdigest())


def verify_bundle(bundle: Bundle, sender_keys: Sequence[SigningKey]) -> None:
    """Check the signature with the exporting node's signing keys (as the trust list
    holds them): the key named must be one of them, valid when the bundle was made."""
    sender = bundle.manifest.sender
    matching = [key for key in sender_keys if key.id == bundle.key]
    if not matching:
        raise BundleInvalid(f"The bundle is signed by {bundle.key}, not a key of {sender}.")
    try:
        matching[0].public_key.verify(bundle.signature, signed_bytes(bundle.manifest))
    except InvalidSignature:
        raise BundleInvalid(
            f"The bundle's signature does not verify with {sender}'s key {bundle.key}: it "
            "was altered."
        ) from None
    if not any(key.valid_at(bundle.manifest.created) for key in matching):
        raise BundleInvalid(
            f"The key {bundle.key} was not valid for {sender} when the bundle was made, "
            f"{bundle.manifest.created.isoformat()}."
        )


def parse_answer(item: bytes) -> Answer:
    """An item of an ``answers`` bundle, checked for form."""
    try:
        value = json.loads(item.decode("utf-8"))
    except (ValueError, RecursionError):
        raise BundleInvalid("An answer in the bundle is not UTF-8 JSON.") from None
    answer = _members(value, _ANSWER_FIELDS, "An answer")
    status, body = answer["status"], answer["body"]
    if not isinstance(status, int) or isinstance(status, bool) or not isinstance(body, dict):
        raise BundleInvalid("An answer is not an HTTP status and a JSON object.")
    return Answer(_text(answer["envelope_sha256"]), status, body)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise BundleInvalid("An answer's envelope_sha256 is not a string.")
    return value
