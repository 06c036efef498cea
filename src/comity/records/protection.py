"""The protection of people: identifying fields sealed at rest, pseudonyms for the rest.

The identifying fields of a record (a person's or a source's name, contact, address …,
and any custom field marked identifying) never sit in the clear in the database: they
are sealed with AES-256-GCM under a key derived from the node secret for this purpose
alone, bound to the record and revision they belong to, so a sealed value cannot be
moved to another row unnoticed. They are not put in the full-text index of a protected
record either.

Who sees them is decided here, once, for every path (pages, API, exports, search
snippets): everyone with ``records:read`` when the record is not protected; only holders
of ``records:protected`` when it is. Everyone else sees a stable pseudonym, derived from
the record id with a keyed hash, so the same person is recognisable across pages and
exports without being identifiable.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from comity.identity.permissions import Actor, Permission
from comity.secretbox import derive_key, mac, open_sealed, seal

PSEUDONYM_PREFIX = {"person": "Person", "source": "Source"}


class Sealer:
    """Seals and opens a record revision's identifying fields; makes pseudonyms."""

    def __init__(self, secret: bytes) -> None:
        self._key = derive_key(secret, "records-identifying")
        self._pseudonym_key = derive_key(secret, "records-pseudonym")

    @staticmethod
    def _associated(record_id: str, revision: int) -> bytes:
        return f"records:{record_id}:{revision}".encode()

    def seal(self, record_id: str, revision: int, fields: Mapping[str, Any]) -> bytes | None:
        if not fields:
            return None
        plain = json.dumps(dict(fields), sort_keys=True, ensure_ascii=False).encode()
        return seal(self._key, plain, self._associated(record_id, revision))

    def open(self, record_id: str, revision: int, sealed: bytes | None) -> dict[str, Any]:
        if sealed is None:
            return {}
        plain = open_sealed(self._key, sealed, self._associated(record_id, revision))
        opened: dict[str, Any] = json.loads(plain)
        return opened

    def pseudonym(self, kind: str, record_id: str) -> str:
        digest = bytes.fromhex(mac(self._pseudonym_key, record_id))
        code = base64.b32encode(digest[:5]).decode()
        return f"{PSEUDONYM_PREFIX.get(kind, kind.title())} {code[:4]}-{code[4:]}"


def may_see_identifying(actor: Actor, protected: bool) -> bool:
    """Whether ``actor`` may see the identifying fields of a record so marked."""
    if not actor.can(Permission.RECORDS_READ):
        return False
    return not protected or actor.can(Permission.RECORDS_PROTECTED)
