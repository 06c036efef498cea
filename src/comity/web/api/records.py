"""Routes of the records API, under ``/api/v1/records`` and ``/api/v1/vocabularies``.
Each parses input, calls one service of :mod:`comity.records` and shapes the output;
the services check permissions, vocabularies and protection, as for every other path.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from comity.identity.permissions import Actor
from comity.records import custom_fields, editing, importing, searching, viewing, vocabularies
from comity.records.searching import SearchQuery
from comity.web.api.records_schemas import (
    ChangeIn,
    ChangeOut,
    CustomFieldIn,
    CustomFieldOut,
    DeleteIn,
    ImportIn,
    ImportOut,
    RecordIn,
    RecordOut,
    RestoreIn,
    RevisionOut,
    SavedSearchIn,
    SearchOut,
    TermOut,
    VocabularyImportOut,
    VocabularyOut,
    VocabularyTermsOut,
)
from comity.web.api.schemas import ErrorOut
from comity.web.deps import permission
from comity.web.guards import api_actor
from comity.web.requests import node_of

router = APIRouter(tags=["records"])
Caller = Annotated[Actor, Depends(api_actor)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such record."}
}
STALE: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The record changed since base_revision."}
}


@router.post("/records/search", openapi_extra=permission("records:read"))
def search_records(query: SearchQuery, request: Request, actor: Caller) -> SearchOut:
    """Full-text search with filters; the same query as ``comity records search``."""
    return SearchOut.of(searching.search(node_of(request), actor, query))


@router.post(
    "/records",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=permission("records:write"),
)
def create_record(body: RecordIn, request: Request, actor: Caller) -> RecordOut:
    """Create a record: revision 1, on the ledger. A term outside its vocabulary is
    refused (422) with the allowed choices."""
    view = editing.create_record(node_of(request), actor, body.kind, body.fields, note=body.note)
    return RecordOut.of(view)


@router.post(
    "/records/import",
    openapi_extra=permission("records:write"),
    responses={422: {"model": ImportOut, "description": "Rows with problems; nothing written."}},
)
def import_records(
    body: ImportIn, request: Request, response: Response, actor: Caller
) -> ImportOut:
    """Import rows of one kind, all of them or none: the JSON twin of ``comity records
    import``. Every row is checked as a form or an API write is (vocabularies, field
    rules, links); every problem is listed with its row and column. With problems, or
    with ``dry_run``, nothing is written; with problems the status is 422.
    """
    report = importing.import_rows(
        node_of(request),
        actor,
        body.kind.value,
        body.table(),
        body.mapping,
        dry_run=body.dry_run,
        headers=body.headers(),
        source="api",
    )
    if report.problems:
        response.status_code = 422
    return ImportOut.of(report)


@router.get("/records/saved-searches", openapi_extra=permission("records:read"))
def list_saved_searches(request: Request, actor: Caller) -> dict[str, SearchQuery]:
    """The caller's saved searches, by name."""
    return dict(searching.saved_searches(node_of(request), actor))


@router.post(
    "/records/saved-searches",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=permission("records:read"),
)
def save_search(body: SavedSearchIn, request: Request, actor: Caller) -> dict[str, SearchQuery]:
    query = searching.parse_query(body.query)
    searching.save_search(node_of(request), actor, body.name, query)
    return {body.name: query}


@router.get("/records/custom-fields", openapi_extra=permission("records:read"))
def list_custom_fields(request: Request, actor: Caller) -> list[CustomFieldOut]:
    return [
        CustomFieldOut(**f.__dict__)
        for f in custom_fields.list_custom_fields(node_of(request), actor)
    ]


@router.post(
    "/records/custom-fields",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=permission("records:configure"),
)
def add_custom_field(body: CustomFieldIn, request: Request, actor: Caller) -> CustomFieldOut:
    added = custom_fields.add_custom_field(
        node_of(request),
        actor,
        kind=body.kind,
        name=body.name,
        label=body.label,
        type=body.type,
        vocabulary=body.vocabulary,
        identifying=body.identifying,
    )
    return CustomFieldOut(**added.__dict__)


@router.get("/records/{record_id}", openapi_extra=permission("records:read"), responses=NOT_FOUND)
def get_record(record_id: str, request: Request, actor: Caller) -> RecordOut:
    return RecordOut.of(viewing.get_record(node_of(request), actor, record_id))


@router.patch(
    "/records/{record_id}",
    openapi_extra=permission("records:write"),
    responses={**NOT_FOUND, **STALE},
)
def change_record(record_id: str, body: ChangeIn, request: Request, actor: Caller) -> RecordOut:
    """Merge ``changes`` into the record as a new revision."""
    view = editing.change_record(
        node_of(request),
        actor,
        record_id,
        body.changes,
        base_revision=body.base_revision,
        note=body.note,
    )
    return RecordOut.of(view)


@router.get(
    "/records/{record_id}/revisions",
    openapi_extra=permission("records:read"),
    responses=NOT_FOUND,
)
def record_history(record_id: str, request: Request, actor: Caller) -> list[RevisionOut]:
    return [RevisionOut.of(r) for r in viewing.history(node_of(request), actor, record_id)]


@router.get(
    "/records/{record_id}/revisions/{number}/changes",
    openapi_extra=permission("records:read"),
    responses=NOT_FOUND,
)
def revision_changes(
    record_id: str, number: int, request: Request, actor: Caller, against: int | None = None
) -> list[ChangeOut]:
    """What revision ``number`` changed (from the one before, or from ``against``)."""
    changes = viewing.diff(node_of(request), actor, record_id, number, against)
    return [ChangeOut.of(change) for change in changes]


@router.post(
    "/records/{record_id}/restore",
    openapi_extra=permission("records:write"),
    responses={**NOT_FOUND, **STALE},
)
def restore_revision(record_id: str, body: RestoreIn, request: Request, actor: Caller) -> RecordOut:
    view = editing.restore_revision(
        node_of(request),
        actor,
        record_id,
        body.revision,
        base_revision=body.base_revision,
        note=body.note,
    )
    return RecordOut.of(view)


@router.post(
    "/records/{record_id}/delete",
    openapi_extra=permission("records:write"),
    responses={**NOT_FOUND, **STALE},
)
def delete_record(record_id: str, body: DeleteIn, request: Request, actor: Caller) -> RecordOut:
    """Mark the record deleted (a revision; restoring an earlier one brings it back)."""
    view = editing.delete_record(
        node_of(request), actor, record_id, base_revision=body.base_revision, note=body.note
    )
    return RecordOut.of(view)


@router.get("/vocabularies", openapi_extra=permission("records:read"))
def list_vocabularies(request: Request, actor: Caller) -> list[VocabularyOut]:
    with node_of(request).uow() as uow:
        rows = vocabularies.list_vocabularies(uow, actor)
        return [
            VocabularyOut(
                name=v.name,
                version=v.version,
                title=v.title,
                description=v.description,
                source=v.source,
                shipped=v.shipped,
            )
            for v in rows
        ]


@router.get(
    "/vocabularies/{name}",
    openapi_extra=permission("records:read"),
    responses={404: {"model": ErrorOut, "description": "No such vocabulary."}},
)
def vocabulary_terms(name: str, request: Request, actor: Caller) -> VocabularyTermsOut:
    with node_of(request).uow() as uow:
        v, terms = vocabularies.terms_of(uow, actor, name)
        return VocabularyTermsOut(
            name=v.name,
            version=v.version,
            title=v.title,
            description=v.description,
            source=v.source,
            shipped=v.shipped,
            terms=[
                TermOut(
                    code=t.code,
                    label=t.label,
                    parent=t.parent,
                    reference=t.reference,
                    description=t.description,
                    retired=t.retired,
                )
                for t in terms
            ],
        )


@router.post(
    "/vocabularies",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=permission("records:configure"),
)
def import_vocabulary(body: dict[str, Any], request: Request, actor: Caller) -> VocabularyImportOut:
    """Import a vocabulary file (the JSON of docs/vocabularies.md), or a new version."""
    with node_of(request).uow() as uow:
        report = vocabularies.import_vocabulary(uow, actor, json.dumps(body).encode())
    return VocabularyImportOut(**report.__dict__)
