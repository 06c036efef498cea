"""Importing records from a table (CSV, XLSX, or rows of JSON through the API).

:func:`import_rows` reads rows of text, one record of one kind each, gives each column
to a field (:mod:`comity.records.import_columns`), turns link cells into links
(:mod:`comity.records.import_links`) and hands every row to
:class:`~comity.records.bulk.BulkWriter`, which checks it exactly as a single save does
— the same vocabularies, dates, links and required fields — and writes the records a
thousand at a time, one ledger event each batch, inside one unit of work.

All or nothing: every row is checked, and every problem of every row is reported (the
row as the file numbers it, the header being row 1; the column; what is wrong), not
only the first. An import commits only if no row has a problem; otherwise nothing is
written and the report says why. A dry run does the same work and never commits.

Cells: a term list is separated by ``;`` (each term with or without its
``vocabulary:`` prefix); yes/no, numbers and dates as in the record forms; a leading
apostrophe that an export put before ``= + - @``, a tab or a carriage return (against
formula injection) is taken off again. Blank rows are skipped.

One audit event (``records.import``) names the file, the kind, the number of rows and
records, the number of problems and the outcome; cell values never reach the audit
trail or a log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain, islice
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.audit.models import Outcome
from comity.audit.services import record as audit
from comity.errors import ComityError, ValidationError
from comity.identity.permissions import Actor, Permission, require
from comity.node import Node
from comity.records.bulk import BulkWriter, older_objects_set_aside
from comity.records.bulk_insert import larger_page_cache
from comity.records.import_columns import ColumnPlan, allowed_names, plan_columns
from comity.records.import_links import References
from comity.records.models import Record
from comity.records.protection import Sealer
from comity.records.schema import (
    LINK_TYPES,
    FieldSpec,
    FieldType,
    Kind,
    check_fields,
    fields_of,
    parse_kind,
)
from comity.records.tables import EXTRA_CELLS
from comity.records.viewing import sealer_of
from comity.records.vocabularies import TermIndex
from comity.records.writing import SessionTargets, custom_specs

BATCH = 1_000
ACTION = "records.import"
_ESCAPED = ("'=", "'+", "'-", "'@", "'\t", "'\r")
_PLACE = ("latitude", "longitude")


@dataclass(frozen=True)
class Problem:
    """What is wrong with a cell, a row (``column`` empty) or the header (``row`` 1)."""

    row: int
    column: str
    message: str


@dataclass
class ImportReport:
    kind: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    committed: bool = False
    columns: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def rows_with_problems(self) -> int:
        return len({problem.row for problem in self.problems if problem.row > 1})


def _cell(cells: Mapping[str, str | None], header: str) -> str:
    """A cell's text, without the apostrophe an export put before a formula character."""
    text = cells.get(header) or ""
    return text[1:] if text[:2] in _ESCAPED else text


class _Targets(SessionTargets):
    """Records on the node, and those this import made (not yet written)."""

    def __init__(self, session: Session, made: dict[str, Kind]) -> None:
        super().__init__(session)
        self._made = made

    def record_kind(self, record_id: str) -> Kind | None:
        return self._made.get(record_id) or super().record_kind(record_id)


class _Run:
    """One import: the plan of its columns and the rows checked and queued so far."""

    def __init__(
        self,
        session: Session,
        actor: Actor,
        sealer: Sealer,
        *,
        kind: Kind,
        specs: dict[str, FieldSpec],
        plan: ColumnPlan,
        report: ImportReport,
    ) -> None:
        self.session = session
        self.writer = BulkWriter(session, actor, sealer)
        self.kind = kind
        self.specs = specs
        self.plan = plan
        self.report = report
        self.terms = TermIndex(session)
        self.made: dict[str, Kind] = {}
        self.targets = _Targets(session, self.made)
        self.references = References(session)
        self.first_row: dict[str, int] = {}
        self._record_columns = [
            header for name, header in plan.fields.items() if specs[name].type is FieldType.RECORD
        ]
        self._uncovered = {
            name for name, spec in specs.items() if spec.required and name not in plan.fields
        }

    def header_problems(self) -> list[Problem]:
        problems = [
            Problem(
                1,
                header,
                f"Records of kind {self.kind} have no field or link '{header}': map the "
                f"column to one, or ignore it. Their {allowed_names(self.kind, self.specs)}.",
            )
            for header in self.plan.unknown
        ]
        problems += [
            Problem(1, "", f"No column gives the required field '{spec.name}' ({spec.label}).")
            for spec in self.specs.values()
            if spec.name in self._uncovered
        ]
        return problems

    def chunk(self, numbered: list[tuple[int, Mapping[str, str | None]]]) -> None:
        """Check and queue a chunk of rows, looking up the references they name at once."""
        headers = [header for header, _ in self.plan.links] + self._record_columns
        self.writer.prefetch_targets(
            self.references.prefetch(
                cell for _, row in numbered for header in headers if (cell := row.get(header))
            )
        )
        if "reference" in self.plan.fields:
            column = self.plan.fields["reference"]
            self.writer.prefetch_references(
                self.kind, (" ".join(_cell(row, column).split()) for _, row in numbered)
            )
        for number, row in numbered:
            if not any(value and not value.isspace() for value in row.values()):
                continue
            self.report.rows += 1
            self.report.problems += self.row(number, row)
            if self.writer.queued >= BATCH:
                self.writer.flush()

    def row(self, number: int, cells: Mapping[str, str | None]) -> list[Problem]:
        """Queue the row's record; or, if it has problems, all of them (nothing queued)."""
        problems: list[Problem] = []
        values = self._fields(number, cells, problems)
        columns = self._links(number, cells, problems)
        if columns:
            values["links"] = [link for _, links in columns for link in links]
        if EXTRA_CELLS in cells:
            problems.append(
                Problem(number, "", f"The row has {cells[EXTRA_CELLS]} cell(s) past the header.")
            )
        reference = " ".join(str(values.get("reference", "")).split())
        if reference:
            first = self.first_row.setdefault(reference, number)
            if first != number:
                message = f"Reference: '{reference}' is already given on row {first}."
                problems.append(Problem(number, self.plan.fields["reference"], message))
        if not problems:
            try:
                record_id = self.writer.add(self.kind, values)
            except ValidationError as exc:
                problems = self._diagnose(number, values, columns)
                if not problems and not set(exc.fields) <= self._uncovered:
                    # A problem the field-by-field check cannot place (header covers the rest).
                    problems = [Problem(number, "", exc.message)]
            else:
                self.made[record_id] = self.kind
                if reference:
                    self.references.made[(self.kind, reference)] = record_id
                return []
        else:
            problems += self._diagnose(number, values, columns)
        if reference:
            self.references.refused.setdefault((self.kind, reference), number)
        return problems

    def _fields(
        self, number: int, cells: Mapping[str, str | None], problems: list[Problem]
    ) -> dict[str, Any]:
        """The fields the row's cells give (problems added for blanks and records not found)."""
        values: dict[str, Any] = {}
        for name, header in self.plan.fields.items():
            text = _cell(cells, header)
            spec = self.specs[name]
            if not text.strip():
                if spec.required:
                    problems.append(Problem(number, header, f"{spec.label}: is required."))
            elif spec.type is FieldType.RECORD and spec.target is not None:
                try:
                    values[name] = self.references.resolve(text, frozenset({spec.target}))
                except ValidationError as exc:
                    problems.append(Problem(number, header, f"{spec.label}: {exc.message}"))
            else:
                values[name] = text
        return values

    def _links(
        self, number: int, cells: Mapping[str, str | None], problems: list[Problem]
    ) -> list[tuple[str, list[dict[str, str]]]]:
        """The links each link column gives (problems added for targets not found)."""
        columns: list[tuple[str, list[dict[str, str]]]] = []
        for header, link_type in self.plan.links:
            link = LINK_TYPES[link_type]
            links: list[dict[str, str]] = []
            for part in _cell(cells, header).split(";"):
                if not part.strip():
                    continue
                try:
                    target = (
                        part.strip()
                        if link.to_item
                        else self.references.resolve(part, link.targets)
                    )
                except ValidationError as exc:
                    problems.append(Problem(number, header, f"{link.label}: {exc.message}"))
                    continue
                links.append({"type": link_type, "target": target})
            if links:
                columns.append((header, links))
        return columns

    def _diagnose(
        self,
        number: int,
        values: Mapping[str, Any],
        columns: Sequence[tuple[str, list[dict[str, str]]]],
    ) -> list[Problem]:
        """Every problem of a row's values: each field checked on its own (latitude and
        longitude together, each link column apart), and its reference on the node."""
        fields = self.plan.fields
        parts = [(fields[n], {n: v}) for n, v in values.items() if n not in (*_PLACE, "links")]
        place = {n: values[n] for n in _PLACE if n in values}
        if place:
            parts.append((fields.get("latitude") or fields["longitude"], place))
        parts += [(header, {"links": links}) for header, links in columns]
        problems: list[Problem] = []
        for header, part in parts:
            loose = {name: replace(self.specs[name], required=False) for name in part}
            try:
                check_fields(self.kind, part, loose, self.terms, self.targets)
            except ValidationError as exc:
                problems.append(Problem(number, header, exc.message))
        reference = " ".join(str(values.get("reference", "")).split())
        if reference and self.first_row.get(reference) == number:
            taken = self.session.scalar(
                select(Record.id).where(
                    Record.kind == self.kind.value, Record.reference == reference
                )
            )
            if taken is not None:
                message = f"Another {self.kind} already has the reference '{reference}'."
                problems.append(Problem(number, fields["reference"], message))
        return problems


def _numbered(
    rows: Iterator[Mapping[str, str | None]], size: int
) -> Iterator[list[tuple[int, Mapping[str, str | None]]]]:
    """Rows in chunks, each with its number in the file (the header is row 1)."""
    number = 1
    while chunk := list(islice(rows, size)):
        yield [(number + offset, row) for offset, row in enumerate(chunk, start=1)]
        number += len(chunk)


def _audit(node: Node, actor: Actor, report: ImportReport, source: str, outcome: str) -> None:
    """The import's audit event, in a transaction of its own (the import's own is gone)."""
    with node.uow() as uow:
        audit(
            uow.session,
            actor,
            ACTION,
            target_type=report.kind,
            outcome=Outcome.SUCCESS if outcome in ("imported", "checked") else Outcome.FAILURE,
            detail=_detail(report, source, outcome),
        )
        uow.commit()


def _detail(report: ImportReport, source: str, outcome: str) -> dict[str, Any]:
    return {
        "file": source,
        "kind": report.kind,
        "dry_run": report.dry_run,
        "rows": report.rows,
        "created": report.created,
        "problems": len(report.problems),
        "rows_with_problems": report.rows_with_problems,
        "outcome": outcome,
    }


def import_rows(
    node: Node,
    actor: Actor,
    kind: str,
    rows: Iterable[Mapping[str, str | None]],
    mapping: Mapping[str, str] | None = None,
    *,
    dry_run: bool,
    progress: Callable[[int], None] | None = None,
    headers: Sequence[str] | None = None,
    source: str = "",
) -> ImportReport:
    """Import ``rows`` as records of ``kind``: all of them, or none if any has a problem.

    ``headers`` are the file's columns in order (default: the keys of the first row);
    ``mapping`` maps a header to a field or link type (``""``: ignore the column);
    ``progress`` is called with the number of rows read so far; ``source`` names the
    file in the audit trail. A dry run reports the same problems and commits nothing.
    """
    record_kind = parse_kind(kind)
    require(actor, Permission.RECORDS_WRITE)
    iterator = iter(rows)
    first = next(iterator, None)
    if first is not None:
        iterator = chain([first], iterator)
    report = ImportReport(kind=record_kind.value, dry_run=dry_run)
    try:
        with older_objects_set_aside(), node.uow() as uow, larger_page_cache(uow.session):
            session = uow.session
            specs = fields_of(record_kind, custom_specs(session, record_kind))
            plan = plan_columns(record_kind, specs, list(headers or first or ()), mapping)
            report.columns, report.ignored = plan.described(), plan.ignored
            run = _Run(
                session,
                actor,
                sealer_of(node),
                kind=record_kind,
                specs=specs,
                plan=plan,
                report=report,
            )
            if headers is not None or first is not None:  # no rows, no columns: nothing
                report.problems += run.header_problems()
            done = 0
            for chunk in _numbered(iterator, BATCH):
                run.chunk(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done)
            run.writer.flush()
            if not dry_run and not report.problems:
                report.created = run.writer.created
                audit(
                    session,
                    actor,
                    ACTION,
                    target_type=report.kind,
                    detail=_detail(report, source, "imported"),
                )
                uow.commit()
                report.committed = True
    except ComityError:
        _audit(node, actor, report, source, "failed")
        raise
    if not report.committed:
        _audit(node, actor, report, source, "checked" if dry_run else "refused")
    return report
