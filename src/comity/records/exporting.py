"""Exporting records to CSV, exactly as the exporting person may see them.

:func:`export_csv` writes the records of one kind that a
:class:`~comity.records.searching.SearchQuery` finds (all of them: the query's limit and
offset are ignored), oldest first, read a few hundred at a time so that a million
records never sit in memory. Columns: ``id``, ``revision``, ``title``, ``pseudonym``
(persons and sources), every field of the kind including an organisation's custom
fields, one column per link type the kind may have, then ``withheld``, ``created_by``,
``created_at``, ``updated_by`` and ``updated_at``. Each row is made from the record's
:class:`~comity.records.viewing.RecordView` for the exporter, so the identifying fields
of a protected person are empty cells to anyone not cleared for them, and ``withheld``
names them; their values never reach the file.

Cells are written as the importer reads them (:mod:`comity.records.importing`): term
lists and link targets separated by ``;``, yes/no, a linked record as ``ref:REFERENCE``
(``kind:ref:REFERENCE`` where the link allows two kinds) or its id when it has no
reference, so an export imports into another node again. A cell that a spreadsheet
would run as a formula (it begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return, and is not a plain number) is prefixed with an apostrophe, as OWASP recommends
against CSV injection; the importer takes it off again.

Every export is audited once (``records.export``): the format, the kinds, the filters
(the search words only as "given"), the number of records, a SHA-256 of their ids, and
whether identifying fields of protected people were included.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.audit.services import record as audit
from comity.identity.permissions import Actor, Permission, require
from comity.node import Node
from comity.records.models import Record
from comity.records.schema import LINK_TYPES, FieldSpec, FieldType, Kind, fields_of, parse_kind
from comity.records.searching import SearchQuery, conditions
from comity.records.viewing import RecordView, sealer_of, view_of
from comity.records.writing import custom_specs

BATCH = 500
ACTION = "records.export"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_PEOPLE = (Kind.PERSON, Kind.SOURCE)
_AFTER = ("withheld", "created_by", "created_at", "updated_by", "updated_at")


@dataclass
class ExportReport:
    format: str
    kinds: tuple[str, ...]
    records: int = 0
    entities: int = 0
    withheld: int = 0
    protected_identifying: int = 0
    _ids: Any = field(default_factory=hashlib.sha256, repr=False)  # hashlib's type is private

    def count(self, view: RecordView, record: Record) -> None:
        """Count a record exported: whether its identifying fields were withheld, or
        included although it is protected."""
        self.records += 1
        self._ids.update(view.id.encode() + b"\n")
        if view.withheld:
            self.withheld += 1
        elif view.protected and record.sealed is not None:
            self.protected_identifying += 1

    @property
    def ids_sha256(self) -> str:
        return str(self._ids.hexdigest())


def records_in_scope(
    session: Session, query: SearchQuery, kinds: Iterable[Kind]
) -> Iterator[list[Record]]:
    """The records of ``kinds`` that ``query`` finds, in batches by creation order; each
    batch is let go of before the next is read."""
    where = conditions(session, query.model_copy(update={"kinds": tuple(kinds)}))
    last = 0
    while batch := list(
        session.scalars(
            select(Record).where(*where, Record.key > last).order_by(Record.key).limit(BATCH)
        )
    ):
        yield batch
        last = batch[-1].key
        session.expunge_all()


def link_labels(session: Session, views: Iterable[RecordView]) -> dict[str, tuple[str, str]]:
    """The kind and reference of every record the views link to (by link or record field)."""
    wanted: set[str] = set()
    for view in views:
        for name, value in view.fields.items():
            if name == "links":
                wanted.update(link["target"] for link in value if link["type"] != "evidence")
            elif name == "incident":
                wanted.add(str(value))
    ordered = sorted(wanted)
    labels: dict[str, tuple[str, str]] = {}
    for start in range(0, len(ordered), BATCH):
        rows = session.execute(
            select(Record.id, Record.kind, Record.reference).where(
                Record.id.in_(ordered[start : start + BATCH])
            )
        )
        labels.update({record_id: (kind, ref or "") for record_id, kind, ref in rows})
    return labels


def target_text(target: str, labels: dict[str, tuple[str, str]], *, qualified: bool) -> str:
    """A linked record as the importer reads it: by reference where it has one, with its
    kind if the column may name records of more than one kind (``qualified``)."""
    kind, reference = labels.get(target, ("", ""))
    if not reference or ";" in reference:
        return target
    return f"{kind}:ref:{reference}" if qualified else f"ref:{reference}"


def csv_columns(kind: Kind, specs: dict[str, FieldSpec]) -> list[str]:
    before = ["id", "revision", "title"] + (["pseudonym"] if kind in _PEOPLE else [])
    fields = [
        name for name, spec in specs.items() if spec.type is not FieldType.LINKS and name != "title"
    ]
    links = [name for name, link in LINK_TYPES.items() if kind in link.sources]
    return before + fields + links + list(_AFTER)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(str(item) for item in value)
    return str(value)


def neutralised(text: str) -> str:
    """``text``, prefixed with an apostrophe if a spreadsheet would run it as a formula."""
    if text.startswith(_FORMULA) and not _NUMBER.match(text):
        return "'" + text
    return text


def _row(
    view: RecordView,
    columns: list[str],
    specs: dict[str, FieldSpec],
    labels: dict[str, tuple[str, str]],
) -> list[str]:
    fields = view.fields
    meta = {
        "id": view.id,
        "revision": str(view.revision),
        "title": view.title,
        "pseudonym": view.pseudonym or "",
        "withheld": "; ".join(view.withheld),
        "created_by": view.created_by,
        "created_at": view.created_at.isoformat(),
        "updated_by": view.updated_by,
        "updated_at": view.updated_at.isoformat(),
    }
    cells: list[str] = []
    for column in columns:
        spec = specs.get(column)
        if column in meta:
            cell = meta[column]
        elif spec is not None and spec.type is FieldType.RECORD and column in fields:
            cell = target_text(str(fields[column]), labels, qualified=False)
        elif spec is not None:
            cell = _text(fields.get(column))
        else:
            link = LINK_TYPES[column]
            targets = [x["target"] for x in fields.get("links", []) if x["type"] == column]
            cell = "; ".join(
                target
                if link.to_item
                else target_text(target, labels, qualified=len(link.targets) > 1)
                for target in targets
            )
        cells.append(neutralised(cell))
    return cells


def audit_export(
    session: Session, actor: Actor, report: ExportReport, query: SearchQuery, target: str
) -> None:
    """The export's one audit event (inside the caller's unit of work)."""
    filters = query.model_dump(mode="json", exclude={"text", "kinds", "limit", "offset"})
    audit(
        session,
        actor,
        ACTION,
        target_type="records",
        detail={
            "format": report.format,
            "file": target,
            "kinds": list(report.kinds),
            "filters": {name: value for name, value in filters.items() if value},
            "text_search": bool(query.text.strip()),
            "records": report.records,
            "entities": report.entities,
            "ids_sha256": report.ids_sha256,
            "withheld": report.withheld,
            "protected_identifying": report.protected_identifying,
            "includes_protected_identifying": report.protected_identifying > 0,
        },
    )


def export_csv(
    node: Node, actor: Actor, kind: str, query: SearchQuery, out: TextIO, *, target: str = ""
) -> ExportReport:
    """Write the records of ``kind`` that ``query`` finds to ``out`` (a text stream opened
    with ``newline=""``) as CSV, as ``actor`` may see them; audited, ``target`` naming
    the file."""
    record_kind = parse_kind(kind)
    require(actor, Permission.RECORDS_READ)
    sealer = sealer_of(node)
    report = ExportReport(format="csv", kinds=(record_kind.value,))
    with node.uow() as uow:
        session = uow.session
        specs = fields_of(record_kind, custom_specs(session, record_kind))
        columns = csv_columns(record_kind, specs)
        writer = csv.writer(out)
        writer.writerow(columns)
        for batch in records_in_scope(session, query, (record_kind,)):
            views = [view_of(record, actor, sealer) for record in batch]
            labels = link_labels(session, views)
            for view, record in zip(views, batch, strict=True):
                writer.writerow(_row(view, columns, specs, labels))
                report.count(view, record)
        audit_export(session, actor, report, query, target)
        uow.commit()
    return report
