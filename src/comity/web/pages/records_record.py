"""One record's pages: the record as the reader may see it (fields with their labels, its
date's interval, its links both ways, its evidence), its history of revisions, what one
revision changed, and restoring an earlier revision (a ``POST`` with the CSRF token; a
new revision, nothing in between is lost).

Identifying fields of a protected record reach the page only through
:mod:`comity.records.viewing`, which withholds them from anyone not cleared.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from comity.errors import Conflict, NotFound, ValidationError
from comity.identity.permissions import Actor
from comity.records import editing, viewing
from comity.records.schema import LINK_TYPES, FieldSpec, FieldType, Kind, fields_of
from comity.records.viewing import WITHHELD, RevisionView
from comity.web.deps import permission
from comity.web.guards import page_actor
from comity.web.pages.records_choices import KIND_NAMES, NEW_LABELS, countries, pickers, specs_of
from comity.web.pages.records_form_fields import Posted, base_revision
from comity.web.pages.records_lookup import named
from comity.web.requests import locale_of, node_of
from comity.web.templating import render

router = APIRouter(prefix="/records")
Caller = Annotated[Actor, Depends(page_actor)]


def _shown(
    request: Request, actor: Actor, specs: dict[str, FieldSpec], ids: list[str]
) -> dict[str, Any]:
    """What showing fields of ``specs`` needs: the labels of their terms and countries,
    and the titles of the records named by ``ids``."""
    node = node_of(request)
    vocabularies = sorted({spec.vocabulary for spec in specs.values() if spec.vocabulary})
    return {
        "specs": specs,
        "pickers": pickers(node, actor, vocabularies),
        "country_names": dict(countries(locale_of(request))),
        "names": named(node, actor, ids),
        "record_kinds": KIND_NAMES,
        "link_labels": {name: link.label for name, link in LINK_TYPES.items()},
        "item_links": {name for name, link in LINK_TYPES.items() if link.to_item},
        "withheld": WITHHELD,
    }


def _named_ids(specs: dict[str, FieldSpec], fields: dict[str, Any]) -> list[str]:
    """The record ids the values of ``fields`` name (record fields and links)."""
    ids = []
    for name, value in fields.items():
        spec = specs.get(name)
        if spec is not None and spec.type is FieldType.RECORD and isinstance(value, str):
            ids.append(value)
        elif spec is not None and spec.type is FieldType.LINKS and isinstance(value, list):
            ids += [link["target"] for link in value if isinstance(link, dict)]
    return ids


def _link_label(link_type: str, source_kind: str) -> str:
    """A link type's label; a record field's (an act's incident) for links it makes."""
    known = LINK_TYPES.get(link_type)
    if known is not None:
        return known.label
    spec = fields_of(Kind(source_kind)).get(link_type)
    return spec.label if spec is not None else link_type


def _to_item(link: dict[str, str]) -> bool:
    known = LINK_TYPES.get(link["type"])
    return known is not None and known.to_item


@router.get("/{record_id}", openapi_extra=permission("records:read"))
def record_page(request: Request, actor: Caller, record_id: str) -> Response:
    view = viewing.get_record(node_of(request), actor, record_id)
    kind = Kind(view.kind)
    specs = specs_of(node_of(request), kind)
    links = view.fields.get("links") or []
    ids = _named_ids(specs, view.fields) + [link["source"] for link in view.linked_from]
    offers = [
        (link, target)
        for link in LINK_TYPES.values()
        if kind in link.sources and not link.to_item and link.name != "related"
        for target in Kind
        if target in link.targets
    ]
    context = {
        **_shown(request, actor, specs, ids),
        "record": view,
        "facts": [
            (spec, view.fields[name])
            for name, spec in specs.items()
            if name in view.fields and spec.type is not FieldType.LINKS
        ],
        "withheld_specs": [spec for name, spec in specs.items() if name in view.withheld],
        "record_links": [
            ({"type": name, "target": value}, spec.label)
            for name, spec in specs.items()
            if spec.type is FieldType.RECORD and isinstance(value := view.fields.get(name), str)
        ]
        + [(link, _link_label(link["type"], view.kind)) for link in links if not _to_item(link)],
        "evidence": [link["target"] for link in links if _to_item(link)],
        "linked_from": [
            (link, _link_label(link["type"], link["kind"])) for link in view.linked_from
        ],
        "offers": offers,
        "new_labels": NEW_LABELS,
    }
    return render(request, "records/record.html", context)


def _history_page(
    request: Request,
    actor: Actor,
    record_id: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    node = node_of(request)
    revisions = viewing.history(node, actor, record_id)
    record = named(node, actor, [record_id])[record_id]
    kind = Kind(record.kind)
    context = {
        "record": record,
        "labels": {n: s.label for n, s in specs_of(node, kind).items()},
        "revisions": list(reversed(revisions)),
        "current": revisions[-1].number,
        "record_kinds": KIND_NAMES,
        "error": error,
    }
    return render(request, "records/history.html", context, status=status)


@router.get("/{record_id}/history", openapi_extra=permission("records:read"))
def history_page(request: Request, actor: Caller, record_id: str) -> Response:
    return _history_page(request, actor, record_id)


def _revision(revisions: list[RevisionView], number: int) -> RevisionView:
    for revision in revisions:
        if revision.number == number:
            return revision
    raise NotFound(f"The record has no revision {number}.")


@router.get("/{record_id}/history/{number}", openapi_extra=permission("records:read"))
def diff_page(request: Request, actor: Caller, record_id: str, number: int) -> Response:
    node = node_of(request)
    changes = viewing.diff(node, actor, record_id, number)
    revisions = viewing.history(node, actor, record_id)
    record = named(node, actor, [record_id])[record_id]
    specs = specs_of(node, Kind(record.kind))
    ids: list[str] = []
    for change in changes:
        ids += _named_ids(specs, {change.name: change.before})
        ids += _named_ids(specs, {change.name: change.after})
    context = {
        **_shown(request, actor, specs, ids),
        "record": record,
        "revision": _revision(revisions, number),
        "current": revisions[-1].number,
        "changes": changes,
    }
    return render(request, "records/diff.html", context)


@router.post("/{record_id}/history/{number}/restore", openapi_extra=permission("records:write"))
def restore(
    request: Request, actor: Caller, record_id: str, number: int, posted: Posted
) -> Response:
    note = posted.get("note", "")
    try:
        editing.restore_revision(
            node_of(request),
            actor,
            record_id,
            number,
            base_revision=base_revision(posted),
            note=note if isinstance(note, str) else "",
        )
    except (ValidationError, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _history_page(request, actor, record_id, error=exc.message, status=status)
    return RedirectResponse(f"/records/{record_id}", status_code=303)
