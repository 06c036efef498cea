"""Writing records: every save is a new revision, checked, sealed, indexed and on the ledger.

:class:`Writer` does one save inside the caller's unit of work; the services below
(create, change, restore, delete) and the importer use it, so every path checks the same
things: the actor's permission, every field against its kind and vocabulary, links to
records and items that exist, that nobody saved a newer revision meanwhile (a stale
``base_revision`` is refused, never silently overwritten), and that identifying fields of
a protected record are changed, and protection lifted, only by someone cleared to see
them. Each save appends a revision, rebuilds the current row, its facets, links and
search text, records a ledger event that commits to the content (salted, never the
plaintext) and an audit event naming the fields changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from comity.audit.services import record as audit
from comity.db import utcnow
from comity.errors import Conflict, NotFound, PermissionDenied, ValidationError
from comity.identity.permissions import Actor, Permission, require
from comity.ledger.events import record_event
from comity.records import search_index
from comity.records.dates import parse_date
from comity.records.models import (
    CustomField,
    Facet,
    Link,
    Record,
    Revision,
    new_record_id,
)
from comity.records.protection import Sealer, may_see_identifying
from comity.records.schema import (
    AGE_BANDS,
    FieldSpec,
    FieldType,
    Kind,
    check_fields,
    fields_of,
)
from comity.records.vocabularies import TermIndex
from comity.vault.models import VaultItem

NOTE_LIMIT = 2000


def custom_specs(session: Session, kind: Kind) -> tuple[FieldSpec, ...]:
    rows = session.scalars(
        select(CustomField).where(CustomField.kind == kind.value).order_by(CustomField.id)
    )
    return tuple(
        FieldSpec(
            name=row.name,
            label=row.label,
            type=FieldType(row.type),
            vocabulary=row.vocabulary,
            identifying=row.identifying,
        )
        for row in rows
    )


class SessionTargets:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record_kind(self, record_id: str) -> Kind | None:
        kind = self._session.scalar(
            select(Record.kind).where(Record.id == record_id, Record.deleted.is_(False))
        )
        return None if kind is None else Kind(kind)

    def item_exists(self, item_id: str) -> bool:
        return self._session.get(VaultItem, item_id) is not None


@dataclass(frozen=True)
class Content:
    """A record's whole content at one revision: public and identifying fields."""

    public: dict[str, Any]
    identifying: dict[str, Any]

    @property
    def fields(self) -> dict[str, Any]:
        return {**self.public, **self.identifying}


def record_title(kind: Kind, fields: Mapping[str, Any], pseudonym: str, visible_names: bool) -> str:
    if kind in (Kind.PERSON, Kind.SOURCE):
        name = fields.get("name")
        return str(name) if name and visible_names else pseudonym
    if kind is Kind.ACT:
        if fields.get("description"):
            return " ".join(str(fields["description"]).split())[:120]
        crimes = fields.get("crimes") or fields.get("violations") or []
        return "Act" + (f" ({', '.join(crimes)})" if crimes else "")
    return str(fields.get("title") or fields.get("name") or kind.value)


def _age_band(age: int) -> str:
    for code, upper in AGE_BANDS:
        if age <= upper:
            return code
    return AGE_BANDS[-1][0]


class Writer:
    """Saves records for one actor inside one unit of work (no commit)."""

    def __init__(self, session: Session, actor: Actor, sealer: Sealer) -> None:
        require(actor, Permission.RECORDS_WRITE)
        self.session = session
        self.actor = actor
        self.sealer = sealer
        self.terms = TermIndex(session)
        self.targets = SessionTargets(session)
        self._custom: dict[Kind, tuple[FieldSpec, ...]] = {}

    def specs(self, kind: Kind) -> dict[str, FieldSpec]:
        if kind not in self._custom:
            self._custom[kind] = custom_specs(self.session, kind)
        return fields_of(kind, self._custom[kind])

    def content_of(self, record: Record) -> Content:
        identifying = self.sealer.open(record.id, record.revision, record.sealed)
        return Content(dict(record.public), identifying)

    def create(self, kind: Kind, values: Mapping[str, Any], *, note: str = "") -> Record:
        specs = self.specs(kind)
        checked = check_fields(kind, values, specs, self.terms, self.targets)
        return self._save(kind, None, checked, note=note)

    def change(
        self, record: Record, changes: Mapping[str, Any], *, base_revision: int, note: str = ""
    ) -> Record:
        """``changes`` merged into the record's fields (an empty value clears a field)."""
        self._fresh(record, base_revision)
        self._not_deleted(record)
        kind = Kind(record.kind)
        specs = self.specs(kind)
        before = self.content_of(record).fields
        merged = {**before, **changes}
        checked = check_fields(kind, merged, specs, self.terms, self.targets, previous=before)
        self._guard_identifying(record, before, checked, specs)
        return self._save(kind, record, checked, note=note)

    def restore(
        self, record: Record, revision: Revision, *, base_revision: int, note: str
    ) -> Record:
        """A new revision holding what ``revision`` held (checked as any change)."""
        self._fresh(record, base_revision)
        kind = Kind(record.kind)
        specs = self.specs(kind)
        before = self.content_of(record).fields
        old = {
            **revision.public,
            **self.sealer.open(record.id, revision.number, revision.sealed),
        }
        merged = {name: old.get(name) for name in {*before, *old}}
        checked = check_fields(kind, merged, specs, self.terms, self.targets, previous=old)
        self._guard_identifying(record, before, checked, specs)
        return self._save(kind, record, checked, note=note, restored_from=revision.number)

    def delete(self, record: Record, *, base_revision: int, note: str) -> Record:
        self._fresh(record, base_revision)
        self._not_deleted(record)
        if not note.strip():
            raise ValidationError("Say why the record is deleted (a note is required).")
        content = self.content_of(record)
        return self._save(Kind(record.kind), record, content.fields, note=note, deleted=True)

    @staticmethod
    def _fresh(record: Record, base_revision: int) -> None:
        if record.revision != base_revision:
            raise Conflict(
                f"The record was changed since revision {base_revision} (it is now at "
                f"revision {record.revision}); reload it and make the change again."
            )

    @staticmethod
    def _not_deleted(record: Record) -> None:
        """A deleted record comes back only by restoring a revision, never as a side effect."""
        if record.deleted:
            raise Conflict(
                "The record is deleted; restore one of its revisions to bring it back "
                "before changing it."
            )

    def _guard_identifying(
        self,
        record: Record,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
        specs: Mapping[str, FieldSpec],
    ) -> None:
        if may_see_identifying(self.actor, record.protected):
            return
        changed = [
            name
            for name, spec in specs.items()
            if spec.identifying and before.get(name) != after.get(name)
        ]
        if changed:
            raise PermissionDenied(
                "This record is protected: only someone cleared to see its identifying "
                f"fields may change them ({', '.join(changed)})."
            )
        if record.protected and not after.get("protected"):
            raise PermissionDenied(
                "Only someone cleared for protected records may lift protection."
            )

    def _save(
        self,
        kind: Kind,
        record: Record | None,
        fields: Mapping[str, Any],
        *,
        note: str,
        restored_from: int | None = None,
        deleted: bool = False,
    ) -> Record:
        note = note.strip()
        if len(note) > NOTE_LIMIT:
            raise ValidationError(f"The note is longer than {NOTE_LIMIT} characters.")
        specs = self.specs(kind)
        session = self.session
        reference = fields.get("reference")
        if reference is not None:
            clash = session.scalar(
                select(Record.id).where(Record.kind == kind.value, Record.reference == reference)
            )
            if clash is not None and (record is None or clash != record.id):
                raise ValidationError(
                    f"Another {kind} already has the reference '{reference}'.",
                    fields={"reference": "already used"},
                )
        public = {n: v for n, v in fields.items() if not specs[n].identifying}
        identifying = {n: v for n, v in fields.items() if specs[n].identifying}
        before = {} if record is None else self.content_of(record).fields
        changed = sorted(n for n in {*before, *fields} if before.get(n) != fields.get(n))
        now = utcnow()
        if record is None:
            record = Record(
                id=new_record_id(), kind=kind.value, created_by=self.actor.label, created_at=now
            )
            record.revision = 0
            session.add(record)
        number = record.revision + 1
        protected = bool(public.get("protected"))
        pseudonym = self.sealer.pseudonym(kind.value, record.id)
        record.revision = number
        record.reference = reference
        record.protected = protected
        record.deleted = deleted
        record.public = public
        record.title = record_title(kind, fields, pseudonym, not protected)
        record.updated_by = self.actor.label
        record.updated_at = now
        date = parse_date(public["date"]) if "date" in public else None
        record.earliest = None if date is None else date.earliest
        record.latest = None if date is None else date.latest
        record.latitude = public.get("latitude")
        record.longitude = public.get("longitude")
        record.sealed = self.sealer.seal(record.id, number, identifying)
        event = record_event(
            session,
            self.actor,
            "records.revision",
            subject_type=kind.value,
            subject_id=record.id,
            personal={"content": json.dumps(dict(fields), sort_keys=True, ensure_ascii=False)},
            data={
                "revision": number,
                "fields": list(changed),
                "deleted": deleted,
                "restored_from": restored_from,
            },
        )
        session.add(
            Revision(
                record_id=record.id,
                number=number,
                kind=kind.value,
                public=public,
                sealed=record.sealed,
                deleted=deleted,
                author=self.actor.label,
                at=now,
                note=note,
                restored_from=restored_from,
                ledger_index=event.index,
            )
        )
        session.flush()
        self._derive(record, kind, fields, specs, pseudonym)
        action = "create" if number == 1 else "restore" if restored_from else "update"
        audit(
            session,
            self.actor,
            f"records.{'delete' if deleted else action}",
            target_type=kind.value,
            target_id=record.id,
            detail={"revision": number, "fields": changed},
        )
        session.flush()
        return record

    def _derive(
        self,
        record: Record,
        kind: Kind,
        fields: Mapping[str, Any],
        specs: Mapping[str, FieldSpec],
        pseudonym: str,
    ) -> None:
        """Rebuild the facets, links and search text of the record's current state."""
        session = self.session
        session.execute(delete(Facet).where(Facet.record_id == record.id))
        session.execute(delete(Link).where(Link.source_id == record.id))
        if record.deleted:
            search_index.replace(session, record.key)
            return
        rows = derive(
            kind, fields, specs, self.terms, protected=record.protected, pseudonym=pseudonym
        )
        session.add_all(Facet(record_id=record.id, name=n, value=v) for n, v in rows.facets)
        session.add_all(Link(source_id=record.id, type=t, target=v) for t, v in rows.links)
        search_index.replace(session, record.key, *rows.texts)


@dataclass(frozen=True)
class Derived:
    """What a record's current state adds to the filter and search tables."""

    facets: list[tuple[str, str]]
    links: list[tuple[str, str]]
    texts: list[str]


def derive(
    kind: Kind,
    fields: Mapping[str, Any],
    specs: Mapping[str, FieldSpec],
    terms: TermIndex,
    *,
    protected: bool,
    pseudonym: str,
) -> Derived:
    """The facets (a term and its broader terms, country, regions, a derived age band),
    the links (typed links, and a record field such as an act's incident) and the search
    texts (identifying fields only when the record is not protected; the pseudonym of a
    person or source always) of ``fields``."""
    facets: set[tuple[str, str]] = set()
    links: list[tuple[str, str]] = []
    texts: list[str] = [pseudonym] if kind in (Kind.PERSON, Kind.SOURCE) else []
    for name, value in fields.items():
        spec = specs[name]
        if spec.identifying and protected:
            continue
        if spec.type in (FieldType.TERM, FieldType.TERMS):
            vocabulary = spec.vocabulary or ""
            for code in [value] if isinstance(value, str) else value:
                facets.update(
                    (f"term:{vocabulary}", b) for b in terms.with_broader(vocabulary, code)
                )
                texts.append(terms.label(vocabulary, code))
        elif spec.type is FieldType.COUNTRY or name in ("admin1", "admin2"):
            facets.add((name, str(value)[:200]))
            texts.append(str(value))
        elif spec.type is FieldType.LINKS:
            links += [(link["type"], link["target"]) for link in value]
        elif spec.type is FieldType.RECORD:
            links.append((name, str(value)))
        elif spec.type in (FieldType.TEXT, FieldType.LONGTEXT, FieldType.DATE):
            texts.append(str(value))
    if isinstance(fields.get("age"), int) and "age_band" not in fields:
        facets.add(("term:age-bands", _age_band(fields["age"])))
    return Derived(sorted(facets), links, texts)


def load_record(session: Session, record_id: str) -> Record:
    record = session.scalar(select(Record).where(Record.id == record_id))
    if record is None:
        raise NotFound(f"No record has the id '{record_id}'.")
    return record
