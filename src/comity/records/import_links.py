"""How an imported cell names another record: by reference, or by id.

A link column (``victim``, ``witness``, ``suspected_perpetrator`` …) holds one or more
records separated by ``;``, and an act's ``incident`` column holds one. Each is written

``ref:INC-2024-031``
    the record whose *reference* is ``INC-2024-031``, among the kinds the link allows;
``person:ref:P-17``
    the same, naming the kind where a reference is used by two kinds the link allows
    (a suspected perpetrator may be a person or an organisation);
``3f2c9a4e-…`` (a record id, 36 characters)
    that record;
``INC-2024-031`` (anything else)
    a reference, as with ``ref:``.

A reference is found among the records already on the node and those made earlier in
the same import, so a file of people and then a file of incidents naming them import one
after the other, linked. An ``evidence`` link holds vault item ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.errors import ValidationError
from comity.records.models import Record
from comity.records.schema import Kind

_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_QUALIFIED = re.compile(r"^(incident|act|person|organisation|source):ref:(.*)$", re.DOTALL)
_CHUNK = 500


@dataclass(frozen=True)
class Target:
    """A parsed cell: a record id, or a reference (of one kind when qualified)."""

    record_id: str | None = None
    reference: str | None = None
    kind: Kind | None = None


def parse_target(text: str) -> Target:
    text = text.strip()
    qualified = _QUALIFIED.match(text)
    if qualified:
        return Target(reference=_clean(qualified.group(2)), kind=Kind(qualified.group(1)))
    if text.startswith("ref:"):
        return Target(reference=_clean(text[4:]))
    if _UUID.match(text):
        return Target(record_id=text.lower())
    return Target(reference=_clean(text))


def _clean(reference: str) -> str:
    """A reference as the record stores it (a text field: spaces collapsed)."""
    return " ".join(reference.split())


def _kinds_text(kinds: Iterable[Kind]) -> str:
    return " or ".join(sorted(kind.value for kind in kinds))


@dataclass
class References:
    """The references an import can name: those stored, looked up a chunk of rows at a
    time, and those made by the import itself (or refused in it, to say why)."""

    session: Session
    made: dict[tuple[Kind, str], str] = field(default_factory=dict)
    refused: dict[tuple[Kind, str], int] = field(default_factory=dict)
    _stored: dict[str, list[tuple[Kind, str]]] = field(default_factory=dict)

    def prefetch(self, cells: Iterable[str]) -> set[str]:
        """Look up at once the references ``cells`` (texts of link cells) name; the ids
        of the stored records they may name (those references', and ids written out)."""
        targets = [parse_target(part) for cell in cells for part in cell.split(";") if part.strip()]
        self._load(
            sorted(
                {t.reference for t in targets if t.reference and t.reference not in self._stored}
            )
        )
        ids = {t.record_id for t in targets if t.record_id is not None}
        for reference in {t.reference for t in targets if t.reference}:
            ids.update(record_id for _, record_id in self._stored[reference])
        return ids

    def _load(self, references: list[str]) -> None:
        for start in range(0, len(references), _CHUNK):
            chunk = references[start : start + _CHUNK]
            for reference in chunk:
                self._stored[reference] = []
            # Every kind named, so the engine can find each reference through the index
            # on (kind, reference) instead of reading the whole table.
            rows = self.session.execute(
                select(Record.kind, Record.id, Record.reference).where(
                    Record.kind.in_([kind.value for kind in Kind]),
                    Record.reference.in_(chunk),
                    Record.deleted.is_(False),
                )
            )
            for kind, record_id, found in rows:
                self._stored[str(found)].append((Kind(kind), record_id))

    def resolve(self, text: str, kinds: frozenset[Kind]) -> str:
        """The id of the record ``text`` names among ``kinds``; a refusal saying why not."""
        target = parse_target(text)
        if target.record_id is not None:
            return target.record_id
        reference = target.reference or ""
        if target.kind is not None:
            if target.kind not in kinds:
                raise ValidationError(
                    f"'{text.strip()}' names a {target.kind}; this column takes a "
                    f"{_kinds_text(kinds)}."
                )
            kinds = frozenset({target.kind})
        if reference not in self._stored:
            self._load([reference])
        found = {record_id: kind for kind, record_id in self._stored[reference] if kind in kinds}
        found |= {
            self.made[(kind, reference)]: kind for kind in kinds if (kind, reference) in self.made
        }
        if len(found) == 1:
            return next(iter(found))
        if found:
            both = sorted(set(found.values()))
            raise ValidationError(
                f"the reference '{reference}' is used by a {both[0]} and a {both[1]}; write "
                f"{both[0]}:ref:{reference} or {both[1]}:ref:{reference}."
            )
        rows = sorted(self.refused[(k, reference)] for k in kinds if (k, reference) in self.refused)
        if rows:
            raise ValidationError(
                f"the record with the reference '{reference}' (row {rows[0]}) has problems, "
                "so it cannot be linked."
            )
        raise ValidationError(f"no {_kinds_text(kinds)} has the reference '{reference}'.")
