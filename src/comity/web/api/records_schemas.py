"""Shapes of the records API (:mod:`comity.web.api.records`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
