"""Recording events on the ledger: the one function other contexts call.

An event is a small canonical JSON statement (RFC 8785) appended as one leaf, in the
same transaction as the change it vouches for::

    {"v": 1, "type": "evidence.ingest", "time": "2026-03-03T09:12:44.120331Z",
     "actor": "<user id, or cli / system>", "subject": {"type": "item", "id": "…"},
     "digests": {"sha256": "…"}, "commitments": {"name": "<hex>"}, "data": {…}}

Personal data never enters the ledger in the clear. A value that identifies a person is
given in ``personal`` and stored only as a commitment, HMAC-SHA256 under a random salt
kept apart in ``ledger_salts``: whoever receives the value and the salt (with an evidence
package, say) can check it; nobody can learn it from the log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from comity.db import utcnow
from comity.identity.permissions import Actor
from comity.ledger import store
from comity.ledger.canonical import canonical_json
from comity.ledger.errors import EntryError
from comity.ledger.merkle import leaf_hash

ENTRY_VERSION = 1
_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_DIGEST_VALUE = re.compile(r"^[0-9a-f]{16,128}$")

JsonValue = str | int | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


@dataclass(frozen=True)
class RecordedEvent:
    index: int
    leaf_hash: bytes
    entry: bytes


def commitment(salt: bytes, name: str, value: str) -> str:
    """HMAC-SHA256 of ``name`` and ``value`` under ``salt`` (hex): see module docstring."""
    message = name.encode() + b"\x00" + value.encode()
    return hmac.new(salt, message, hashlib.sha256).hexdigest()


def actor_reference(actor: Actor) -> str:
    """Who acted, without personal data: a user id, or the channel (cli, system)."""
    return actor.user_id or actor.via


def record_event(
    session: Session,
    actor: Actor,
    kind: str,
    *,
    subject_type: str = "",
    subject_id: str = "",
    digests: Mapping[str, str] | None = None,
    personal: Mapping[str, str] | None = None,
    data: Mapping[str, JsonValue] | None = None,
) -> RecordedEvent:
    """Append one event to the ledger inside the caller's unit of work (no commit)."""
    if not _KIND.match(kind) or len(kind) > 64:
        raise EntryError(f"'{kind}' is not an event type (dotted lower-case words).")
    for name, value in (digests or {}).items():
        if not _DIGEST_VALUE.match(value):
            raise EntryError(f"Digest '{name}' must be lower-case hex.")
    salt = store.new_salt() if personal else None
    body: dict[str, JsonValue] = {
        "v": ENTRY_VERSION,
        "type": kind,
        "time": utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor_reference(actor),
    }
    if subject_type or subject_id:
        body["subject"] = {"type": subject_type, "id": subject_id}
    if digests:
        body["digests"] = dict(digests)
    if personal and salt is not None:
        body["commitments"] = {
            name: commitment(salt, name, value) for name, value in personal.items()
        }
    if data:
        body["data"] = dict(data)
    entry = canonical_json(body)
    index = store.append(session, [store.NewEntry(entry=entry, kind=kind, salt=salt)])
    return RecordedEvent(index=index, leaf_hash=leaf_hash(entry), entry=entry)
