"""Reading records as a given person may see them: current state, history and diffs.

Every reader — pages, API, CLI, exports — gets a :class:`RecordView` made here, so the
rule of :mod:`comity.records.protection` is applied in one place: identifying fields of
a protected record are left out (their names listed in ``withheld``) and its title is
the pseudonym, unless the reader is cleared.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from comity.audit.services import record as audit
from comity.db import UnitOfWork
from comity.errors import NotFound
from comity.identity.permissions import Actor, Permission, require
from comity.node import Node
from comity.records.models import Link, Record, Revision
from comity.records.protection import Sealer, may_see_identifying
from comity.records.schema import Kind, fields_of
from comity.records.writing import custom_specs, load_record

WITHHELD = "(withheld: protected)"


@dataclass(frozen=True)
class RecordView:
    id: str
    kind: str
    revision: int
    title: str
    protected: bool
    deleted: bool
    fields: dict[str, Any]
    withheld: tuple[str, ...]
    pseudonym: str | None
    earliest: str | None
    latest: str | None
    created_by: str
    created_at: dt.datetime
    updated_by: str
    updated_at: dt.datetime
    linked_from: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RevisionView:
    number: int
    author: str
    at: dt.datetime
    note: str
    restored_from: int | None
    deleted: bool
    changed: tuple[str, ...]


@dataclass(frozen=True)
class FieldChange:
    name: str
    before: Any
    after: Any


def sealer_of(node: Node) -> Sealer:
    return Sealer(node.settings.secret_bytes())


def visible(
    record: Record, identifying: dict[str, Any], actor: Actor
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The fields ``actor`` may see, and the names of those withheld."""
    fields = dict(record.public)
    if may_see_identifying(actor, record.protected):
        return {**fields, **identifying}, ()
    return fields, tuple(sorted(identifying))


def view_of(record: Record, actor: Actor, sealer: Sealer) -> RecordView:
    identifying = sealer.open(record.id, record.revision, record.sealed)
    fields, withheld = visible(record, identifying, actor)
    pseudonym = (
        sealer.pseudonym(record.kind, record.id)
        if record.kind in (Kind.PERSON, Kind.SOURCE)
        else None
    )
    return RecordView(
        id=record.id,
        kind=record.kind,
        revision=record.revision,
        title=record.title,
        protected=record.protected,
        deleted=record.deleted,
        fields=fields,
        withheld=withheld,
        pseudonym=pseudonym,
        earliest=record.earliest,
        latest=record.latest,
        created_by=record.created_by,
        created_at=record.created_at,
        updated_by=record.updated_by,
        updated_at=record.updated_at,
    )


def get_record(node: Node, actor: Actor, record_id: str) -> RecordView:
    """One record as ``actor`` may see it, with the links that point to it; the reading
    of a protected record is audited."""
    require(actor, Permission.RECORDS_READ)
    sealer = sealer_of(node)
    with node.uow() as uow:
        record = load_record(uow.session, record_id)
        view = view_of(record, actor, sealer)
        incoming = uow.session.execute(
            select(Link.type, Record.id, Record.kind)
            .join(Record, Record.id == Link.source_id)
            .where(Link.target == record_id, Record.deleted.is_(False))
            .order_by(Record.key)
        )
        view.linked_from.extend(
            {"type": kind_of_link, "source": source, "kind": kind}
            for kind_of_link, source, kind in incoming
        )
        if record.protected and may_see_identifying(actor, protected=True):
            _audit_protected_read(uow, actor, record, {})
    return view


def _audit_protected_read(
    uow: UnitOfWork, actor: Actor, record: Record, detail: dict[str, Any]
) -> None:
    """A cleared reader was shown a protected record's identifying fields."""
    audit(
        uow.session,
        actor,
        "records.read_protected",
        target_type=record.kind,
        target_id=record.id,
        detail=detail,
    )
    uow.commit()


def _revisions(uow: UnitOfWork, record_id: str) -> list[Revision]:
    return list(
        uow.session.scalars(
            select(Revision).where(Revision.record_id == record_id).order_by(Revision.number)
        )
    )


def _content(sealer: Sealer, revision: Revision) -> dict[str, Any]:
    return {**revision.public, **sealer.open(revision.record_id, revision.number, revision.sealed)}


def history(node: Node, actor: Actor, record_id: str) -> list[RevisionView]:
    """Every revision of a record, oldest first, with the names of the fields it changed."""
    require(actor, Permission.RECORDS_READ)
    sealer = sealer_of(node)
    with node.uow() as uow:
        load_record(uow.session, record_id)
        views: list[RevisionView] = []
        before: dict[str, Any] = {}
        for revision in _revisions(uow, record_id):
            after = _content(sealer, revision)
            changed = tuple(sorted(n for n in {*before, *after} if before.get(n) != after.get(n)))
            views.append(
                RevisionView(
                    number=revision.number,
                    author=revision.author,
                    at=revision.at,
                    note=revision.note,
                    restored_from=revision.restored_from,
                    deleted=revision.deleted,
                    changed=changed,
                )
            )
            before = after
    return views


def diff(
    node: Node, actor: Actor, record_id: str, number: int, against: int | None = None
) -> list[FieldChange]:
    """What revision ``number`` changed from ``against`` (default: the one before it).

    Identifying fields are shown only to someone cleared for either revision's
    protection; to anyone else a change to them reads ``(withheld: protected)``. A
    cleared reader shown identifying values of a protected record is audited, as
    reading the record is.
    """
    require(actor, Permission.RECORDS_READ)
    sealer = sealer_of(node)
    with node.uow() as uow:
        record = load_record(uow.session, record_id)
        revisions = {r.number: r for r in _revisions(uow, record_id)}
        base = number - 1 if against is None else against
        if number not in revisions or (base != 0 and base not in revisions):
            raise NotFound(f"The record has revisions 1 to {record.revision}.")
        specs = fields_of(Kind(record.kind), custom_specs(uow.session, Kind(record.kind)))
        after = _content(sealer, revisions[number])
        before = {} if base == 0 else _content(sealer, revisions[base])
        protected = bool(after.get("protected") or before.get("protected") or record.protected)
        cleared = may_see_identifying(actor, protected)
        changes: list[FieldChange] = []
        for name in sorted({*before, *after}):
            if before.get(name) == after.get(name):
                continue
            hidden = name in specs and specs[name].identifying and not cleared
            changes.append(
                FieldChange(
                    name,
                    WITHHELD if hidden and name in before else before.get(name),
                    WITHHELD if hidden and name in after else after.get(name),
                )
            )
        shown = [c.name for c in changes if c.name in specs and specs[c.name].identifying]
        if protected and cleared and shown:
            detail = {"revision": number, "against": base, "fields": shown}
            _audit_protected_read(uow, actor, record, detail)
    return changes


def revision_of(uow: UnitOfWork, record_id: str, number: int) -> Revision:
    revision = uow.session.scalar(
        select(Revision).where(Revision.record_id == record_id, Revision.number == number)
    )
    if revision is None:
        from comity.errors import NotFound  # noqa: PLC0415

        raise NotFound(f"The record has no revision {number}.")
    return revision


def evidence_of(node: Node, actor: Actor, record_id: str) -> list[str]:
    """The ids of the evidence items a record links to, with, for an incident, those its
    acts link to: what an investigator exports for a court about one incident."""
    require(actor, Permission.RECORDS_READ)
    with node.uow() as uow:
        record = load_record(uow.session, record_id)
        sources = [record.id]
        if record.kind == Kind.INCIDENT:
            sources += uow.session.scalars(
                select(Link.source_id)
                .join(Record, Record.id == Link.source_id)
                .where(Link.type == "incident", Link.target == record.id, Record.deleted.is_(False))
                .order_by(Record.key)
            ).all()
        items: list[str] = []
        for source in sources:
            for item in uow.session.scalars(
                select(Link.target)
                .where(Link.source_id == source, Link.type == "evidence")
                .order_by(Link.id)
            ):
                if item not in items:
                    items.append(item)
    return items
