"""Shapes of the records API (:mod:`comity.web.api.records`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from comity.records.importing import ImportReport
from comity.records.schema import Kind
from comity.records.searching import SearchHit, SearchPage
from comity.records.viewing import FieldChange, RecordView, RevisionView

NOTE = Field(default="", max_length=2000, description="Why (kept with the revision).")


class RecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    fields: dict[str, Any] = Field(
        description="Field name to value; terms as codes (a list for several), links as "
        "[{type, target}]."
    )
    note: str = NOTE


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_revision: int = Field(
        description="The revision the change starts from; a newer one refuses it (409)."
    )
    changes: dict[str, Any] = Field(description="Fields to set; null or '' clears one.")
    note: str = NOTE


class ImportIn(BaseModel):
    """Rows of one kind, as a table's rows would be: column header to cell."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    rows: list[dict[str, str | int | float | None]] = Field(
        max_length=50_000,
        description="One object per record: column header (a field's name or label, or a "
        "link type) to value. Terms as codes separated by ';', links as references or ids.",
    )
    mapping: dict[str, str] = Field(
        default_factory=dict,
        description="Column header to field or link type, where a header does not say it "
        "('' ignores the column).",
    )
    dry_run: bool = Field(default=False, description="Check every row and report; write nothing.")

    def headers(self) -> list[str]:
        """Every header any row uses, in the order first seen."""
        return list(dict.fromkeys(header for row in self.rows for header in row))

    def table(self) -> list[dict[str, str | None]]:
        """The rows as text, as a file's cells would be."""
        return [
            {header: None if value is None else str(value) for header, value in row.items()}
            for row in self.rows
        ]


class ImportProblemOut(BaseModel):
    row: int = Field(description="1 is the header; the first object of rows is row 2.")
    column: str
    message: str


class ImportOut(BaseModel):
    """What an import did; ``committed`` is false after a dry run or any problem."""

    kind: str
    dry_run: bool
    committed: bool
    rows: int
    created: int
    columns: dict[str, str]
    ignored: list[str]
    problems: list[ImportProblemOut]

    @classmethod
    def of(cls, report: ImportReport) -> ImportOut:
        return cls(
            kind=report.kind,
            dry_run=report.dry_run,
            committed=report.committed,
            rows=report.rows,
            created=report.created,
            columns=report.columns,
            ignored=report.ignored,
            problems=[
                ImportProblemOut(row=p.row, column=p.column, message=p.message)
                for p in report.problems
            ],
        )


class RestoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: int = Field(description="The revision whose content to bring back.")
    base_revision: int
    note: str = NOTE


class DeleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_revision: int
    note: str = Field(min_length=1, max_length=2000, description="Why it is deleted.")


class RecordOut(BaseModel):
    """A record as the caller may see it: identifying fields of a protected record are
    left out for the uncleared, their names listed in ``withheld``."""

    id: str
    kind: str
    revision: int
    title: str
    protected: bool
    deleted: bool
    pseudonym: str | None
    fields: dict[str, Any]
    withheld: list[str]
    earliest: str | None
    latest: str | None
    created_by: str
    created_at: dt.datetime
    updated_by: str
    updated_at: dt.datetime
    linked_from: list[dict[str, str]]

    @classmethod
    def of(cls, view: RecordView) -> RecordOut:
        return cls(**{**view.__dict__, "withheld": list(view.withheld)})


class RevisionOut(BaseModel):
    number: int
    author: str
    at: dt.datetime
    note: str
    restored_from: int | None
    deleted: bool
    changed: list[str]

    @classmethod
    def of(cls, revision: RevisionView) -> RevisionOut:
        return cls(**{**revision.__dict__, "changed": list(revision.changed)})


class ChangeOut(BaseModel):
    field: str
    before: Any
    after: Any

    @classmethod
    def of(cls, change: FieldChange) -> ChangeOut:
        return cls(field=change.name, before=change.before, after=change.after)


class HitOut(BaseModel):
    id: str
    kind: str
    title: str
    date: str | None
    earliest: str | None
    latest: str | None
    latitude: float | None
    longitude: float | None
    snippet: str

    @classmethod
    def of(cls, hit: SearchHit) -> HitOut:
        return cls(**hit.__dict__)


class SearchOut(BaseModel):
    total: int
    hits: list[HitOut]

    @classmethod
    def of(cls, page: SearchPage) -> SearchOut:
        return cls(total=page.total, hits=[HitOut.of(hit) for hit in page.hits])


class SavedSearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    query: dict[str, Any] = Field(description="A search, as the body of POST /records/search.")


class VocabularyOut(BaseModel):
    name: str
    version: str
    title: str
    description: str
    source: str
    shipped: bool


class TermOut(BaseModel):
    code: str
    label: str
    parent: str | None
    reference: str
    description: str
    retired: bool


class VocabularyTermsOut(VocabularyOut):
    terms: list[TermOut]


class VocabularyImportOut(BaseModel):
    name: str
    version: str
    previous_version: str | None
    added: int
    retired: int


class CustomFieldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    name: str
    label: str
    type: str = Field(description="text, longtext, date, integer, boolean, term or terms.")
    vocabulary: str | None = None
    identifying: bool = False


class CustomFieldOut(BaseModel):
    kind: str
    name: str
    label: str
    type: str
    vocabulary: str | None
    identifying: bool
