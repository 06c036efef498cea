"""The node descriptor: a node's signed statement of who it is and how to reach it.

A descriptor names the node (its stable id, the id of its organisation), the
organisation (name, kind of body, country), the base URLs peers reach it at, its ledger
(origin and checkpoint key, for witnessing) and its public keys, each with a validity
window: Ed25519 keys that sign envelopes and receipts, X25519 keys that envelopes are
encrypted to. It is signed with one of its own signing keys, so whoever holds it can
check that it was not altered; whether the keys are really the organisation's is settled
by comparing :func:`fingerprint` out of band (telephone, in person) before a peer is
confirmed (:mod:`comity.exchange.peers`).

The byte format is specified in ``docs/formats/node-descriptor.md``: canonical JSON
(RFC 8785, as the ledger's entries) of the ``descriptor`` object, prefixed with a domain
tag, signed with Ed25519. :func:`parse_descriptor` checks everything (size, duplicate
members, every field, the signature) before anything downstream sees it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from comity.errors import ValidationError
from comity.exchange.envelope_fields import NODE_ID
from comity.exchange.key_ids import ED25519, X25519, key_id
from comity.identity.models import OrganisationKind
from comity.keys import fingerprint as keys_fingerprint
from comity.ledger.canonical import canonical_json
from comity.ledger.errors import EntryError, NoteError
from comity.ledger.note import NoteVerifier, b64decode_strict
from comity.urls import is_service_url

FORMAT = "comity-node/1"
SIGNING_CONTEXT = b"comity-node-descriptor-v1\n"
MAX_DESCRIPTOR_BYTES = 64 * 1024
MAX_ENDPOINTS = 8
MAX_KEYS = 32
_TIME = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")
_USES = {"signing": ED25519, "encryption": X25519}


class DescriptorError(ValidationError):
    """A descriptor that is malformed, altered, or signed by a key it does not list."""

    code = "invalid_descriptor"


@dataclass(frozen=True)
class DescriptorKey:
    """One public key of a node, valid from ``valid_from`` until ``valid_until`` (open)."""

    use: str
    public: Ed25519PublicKey | X25519PublicKey
    valid_from: dt.datetime
    valid_until: dt.datetime | None = None

    @property
    def id(self) -> str:
        return key_id(self.public)

    @property
    def raw(self) -> bytes:
        return _raw(self.public)

    def valid_at(self, moment: dt.datetime) -> bool:
        return self.valid_from <= moment and (self.valid_until is None or moment < self.valid_until)


@dataclass(frozen=True)
class Descriptor:
    """The content of a descriptor, checked."""

    node: str
    name: str
    kind: str
    country: str
    endpoints: tuple[str, ...]
    log_origin: str
    log_key: str
    keys: tuple[DescriptorKey, ...]
    issued_at: dt.datetime
    expires_at: dt.datetime

    def current(self, use: str) -> DescriptorKey:
        """The key for ``use`` valid when the descriptor was issued (the newest if several)."""
        valid = [key for key in self.keys if key.use == use and key.valid_at(self.issued_at)]
        if not valid:
            raise DescriptorError(f"The descriptor has no {use} key valid when it was issued.")
        return max(valid, key=lambda key: key.valid_from)

    def signing_keys(self) -> tuple[DescriptorKey, ...]:
        return tuple(key for key in self.keys if key.use == "signing")


@dataclass(frozen=True)
class SignedDescriptor:
    """A descriptor with its signature, and the exact bytes it came as."""

    descriptor: Descriptor
    signed_by: str
    raw: bytes

    @property
    def fingerprint(self) -> str:
        """What two administrators compare out of band before they trust each other."""
        return fingerprint(self.descriptor)


def fingerprint(descriptor: Descriptor) -> str:
    """The fingerprint of the node's current signing and encryption keys: the same groups
    of hex digits that ``comity init`` and ``comity node descriptor`` print on that node."""
    signing = descriptor.current("signing").public
    encryption = descriptor.current("encryption").public
    if not isinstance(signing, Ed25519PublicKey) or not isinstance(encryption, X25519PublicKey):
        raise DescriptorError("The descriptor's keys are not of the types their uses need.")
    return keys_fingerprint(signing, encryption)


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _raw(public: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _content(descriptor: Descriptor) -> dict[str, Any]:
    keys: list[dict[str, Any]] = []
    for key in descriptor.keys:
        entry: dict[str, Any] = {
            "id": key.id,
            "use": key.use,
            "public": _b64(_raw(key.public)),
            "valid_from": format_time(key.valid_from),
        }
        if key.valid_until is not None:
            entry["valid_until"] = format_time(key.valid_until)
        keys.append(entry)
    organisation: dict[str, Any] = {"name": descriptor.name, "kind": descriptor.kind}
    if descriptor.country:
        organisation["country"] = descriptor.country
    return {
        "format": FORMAT,
        "node": descriptor.node,
        "organisation": organisation,
        "endpoints": list(descriptor.endpoints),
        "log": {"origin": descriptor.log_origin, "key": descriptor.log_key},
        "keys": keys,
        "issued_at": format_time(descriptor.issued_at),
        "expires_at": format_time(descriptor.expires_at),
    }


def sign_descriptor(descriptor: Descriptor, signing_key: Ed25519PrivateKey) -> SignedDescriptor:
    """``descriptor`` signed with ``signing_key``, which it must list as a signing key
    valid when it is issued. Checked again by parsing, so that nothing unparseable leaves."""
    signer = key_id(signing_key.public_key())
    if not any(
        key.id == signer and key.valid_at(descriptor.issued_at) for key in descriptor.signing_keys()
    ):
        raise DescriptorError("The signing key is not one of the descriptor's current keys.")
    content = _content(descriptor)
    signature = signing_key.sign(SIGNING_CONTEXT + canonical_json(content))
    document = {"descriptor": content, "signature": {"key": signer, "value": _b64(signature)}}
    return parse_descriptor(canonical_json(document))


# Parsing: every check, in order, with a message that says what is wrong.


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise DescriptorError(f"The descriptor names '{name}' twice.")
        members[name] = value
    return members


def _object(value: object, what: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DescriptorError(f"'{what}' must be an object.")
    missing = required - value.keys()
    unknown = value.keys() - required - optional
    if missing:
        raise DescriptorError(f"'{what}' lacks {', '.join(sorted(missing))}.")
    if unknown:
        raise DescriptorError(f"'{what}' has unknown members: {', '.join(sorted(unknown))}.")
    return value


def _text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise DescriptorError(f"'{what}' must be text of 1 to {limit} characters.")
    return value


def _time(value: object, what: str) -> dt.datetime:
    if not isinstance(value, str) or not _TIME.match(value):
        raise DescriptorError(f"'{what}' must be a UTC time such as 2026-12-06T10:00:00Z.")
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise DescriptorError(f"'{what}' is not a real date and time: {value}.") from None


def _bytes(value: object, what: str) -> bytes:
    decoded = b64decode_strict(value) if isinstance(value, str) else None
    if decoded is None:
        raise DescriptorError(f"'{what}' is not canonical, padded, standard base64.")
    return decoded


def _key(value: object, number: int) -> DescriptorKey:
    what = f"keys[{number}]"
    entry = _object(value, what, {"id", "use", "public", "valid_from"}, {"valid_until"})
    use = entry["use"]
    if use not in _USES:
        raise DescriptorError(f"'{what}.use' must be 'signing' or 'encryption'.")
    raw = _bytes(entry["public"], f"{what}.public")
    if len(raw) != 32:
        raise DescriptorError(f"'{what}.public' must be a 32-byte key.")
    public: Ed25519PublicKey | X25519PublicKey = (
        Ed25519PublicKey.from_public_bytes(raw)
        if use == "signing"
        else X25519PublicKey.from_public_bytes(raw)
    )
    key = DescriptorKey(
        use=use,
        public=public,
        valid_from=_time(entry["valid_from"], f"{what}.valid_from"),
        valid_until=(
            _time(entry["valid_until"], f"{what}.valid_until") if "valid_until" in entry else None
        ),
    )
    if entry["id"] != key.id:
        raise DescriptorError(f"'{what}.id' is not the id of its key (expected {key.id}).")
    if key.valid_until is not None and key.valid_until <= key.valid_from:
        raise DescriptorError(f"'{what}' stops being valid before it starts.")
    return key


def _is_base_url(url: str) -> bool:
    try:
        return is_service_url(url)
    except ValueError:
        return False


def _endpoints(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_ENDPOINTS:
        raise DescriptorError(f"'endpoints' must list 1 to {MAX_ENDPOINTS} base URLs.")
    for url in value:
        if not isinstance(url, str) or len(url) > 500 or not _is_base_url(url):
            raise DescriptorError(
                f"'endpoints' holds {url!r}, which is not an http:// or https:// base URL."
            )
    if len(set(value)) != len(value):
        raise DescriptorError("'endpoints' lists a URL twice.")
    return tuple(value)


def _log_key(log: dict[str, Any]) -> None:
    """The ledger's key must be a checkpoint verifier key named by the ledger's origin."""
    origin, key = log["origin"], log["key"]
    try:
        verifier = NoteVerifier.from_vkey(key) if isinstance(key, str) else None
    except NoteError:
        verifier = None
    if verifier is None or verifier.name != origin:
        raise DescriptorError("'log.key' must be the verifier key of the log named 'log.origin'.")


def _descriptor(content: dict[str, Any]) -> Descriptor:
    required = {"format", "node", "organisation", "endpoints", "log", "keys"}
    _object(content, "descriptor", required | {"issued_at", "expires_at"}, set())
    if content["format"] != FORMAT:
        raise DescriptorError(f"This is not a {FORMAT} descriptor (format {content['format']!r}).")
    node = content["node"]
    if not isinstance(node, str) or not NODE_ID.match(node):
        raise DescriptorError(
            "'node' must be 3 to 100 lower-case letters, digits, dots or hyphens."
        )
    organisation = _object(content["organisation"], "organisation", {"name", "kind"}, {"country"})
    kind = organisation["kind"]
    if kind not in set(OrganisationKind):
        raise DescriptorError(f"'organisation.kind' must be one of {', '.join(OrganisationKind)}.")
    country = organisation.get("country", "")
    if country and not (isinstance(country, str) and re.fullmatch(r"[A-Z]{2}", country)):
        raise DescriptorError("'organisation.country' must be a two-letter ISO 3166-1 code.")
    log = _object(content["log"], "log", {"origin", "key"}, set())
    _log_key(log)
    keys = content["keys"]
    if not isinstance(keys, list) or not 2 <= len(keys) <= MAX_KEYS:
        raise DescriptorError(f"'keys' must list 2 to {MAX_KEYS} keys.")
    parsed = tuple(_key(entry, number) for number, entry in enumerate(keys))
    if len({key.id for key in parsed}) != len(parsed):
        raise DescriptorError("'keys' lists a key twice.")
    descriptor = Descriptor(
        node=node,
        name=_text(organisation["name"], "organisation.name", 200),
        kind=kind,
        country=country,
        endpoints=_endpoints(content["endpoints"]),
        log_origin=_text(log["origin"], "log.origin", 300),
        log_key=_text(log["key"], "log.key", 400),
        keys=parsed,
        issued_at=_time(content["issued_at"], "issued_at"),
        expires_at=_time(content["expires_at"], "expires_at"),
    )
    if descriptor.expires_at <= descriptor.issued_at:
        raise DescriptorError("The descriptor expires before it is issued.")
    descriptor.current("signing")
    descriptor.current("encryption")
    return descriptor


def parse_descriptor(data: bytes) -> SignedDescriptor:
    """Check ``data`` completely and return the descriptor it holds.

    Refused with :class:`DescriptorError`: more than 64 KiB, not UTF-8 JSON, a member
    named twice, a missing or unknown member, a bad value, or a signature that is not by
    one of the descriptor's own signing keys valid at its issue time, over exactly its
    canonical bytes. Not checked here: whether it has expired (that depends on the clock
    of the reader; :mod:`comity.exchange.peers` decides) or whether the keys are trusted.
    """
    if len(data) > MAX_DESCRIPTOR_BYTES:
        raise DescriptorError(f"A descriptor is at most {MAX_DESCRIPTOR_BYTES // 1024} KiB.")
    try:
        document = json.loads(data.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise DescriptorError("This is not a node descriptor (not UTF-8 JSON).") from None
    document = _object(document, "document", {"descriptor", "signature"}, set())
    content = document["descriptor"]
    if not isinstance(content, dict):
        raise DescriptorError("'descriptor' must be an object.")
    descriptor = _descriptor(content)
    signature = _object(document["signature"], "signature", {"key", "value"}, set())
    signer = next(
        (
            key
            for key in descriptor.signing_keys()
            if key.id == signature["key"] and key.valid_at(descriptor.issued_at)
        ),
        None,
    )
    if signer is None:
        raise DescriptorError(
            "The descriptor is not signed by one of its own signing keys valid when issued."
        )
    if not isinstance(signer.public, Ed25519PublicKey):
        raise DescriptorError("The descriptor is signed by a key that cannot sign.")
    try:
        signed = SIGNING_CONTEXT + canonical_json(content)
    except EntryError as exc:
        raise DescriptorError(f"The descriptor cannot be put in canonical form: {exc}") from None
    try:
        signer.public.verify(_bytes(signature["value"], "signature.value"), signed)
    except InvalidSignature:
        raise DescriptorError(
            "The descriptor's signature does not match its content: it was altered, or "
            "signed by another key."
        ) from None
    return SignedDescriptor(descriptor=descriptor, signed_by=signer.id, raw=data)


def node_keys(
    signing: Ed25519PublicKey, encryption: X25519PublicKey, since: dt.datetime
) -> Sequence[DescriptorKey]:
    """A node's current key pair as descriptor keys valid from ``since``."""
    return (
        DescriptorKey(use="signing", public=signing, valid_from=since),
        DescriptorKey(use="encryption", public=encryption, valid_from=since),
    )
