"""The forms that create and correct records, one for every kind, built from its field
specs (:mod:`comity.web.pages.records_form_fields`).

A refused save shows the form again with what was typed, the message and the field at
fault, and saves nothing. A correction carries the revision it started from, so one made
on a page left open while someone else saved is refused (a conflict) and never
overwrites theirs. Asking for more link rows shows the form again without saving.

A new person (or other record) can be made from an incident's page as, say, its victim:
the form remembers the incident, and once the person is saved the incident's own form
opens with the link filled in, for the documenter to check and save.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from comity.errors import Conflict, ValidationError
from comity.identity.permissions import Actor, Permission, require
from comity.node import Node
from comity.records import editing, searching, viewing
from comity.records.dates import HELP as DATE_HELP
from comity.records.protection import may_see_identifying
from comity.records.schema import LINK_TYPES, FieldType, Kind, parse_kind
from comity.records.searching import SearchQuery
from comity.records.viewing import RecordView
from comity.vault.viewing import page_of_items
from comity.web.deps import permission
from comity.web.guards import page_actor
from comity.web.pages.records_choices import KIND_NAMES, NEW_LABELS, countries, pickers, specs_of
from comity.web.pages.records_form_fields import (
    BLANK_LINK_ROWS,
    INPUT_TYPES,
    Posted,
    RecordForm,
    base_revision,
    chosen,
    form_of,
    link_rows,
    read_form,
    shown_value,
)
from comity.web.pages.records_lookup import named
from comity.web.pages.records_scope import Params
from comity.web.requests import locale_of, node_of
from comity.web.templating import render

router = APIRouter(prefix="/records")
Caller = Annotated[Actor, Depends(page_actor)]
CHOICES = 200
ITEM_CHOICES = 50


@dataclass
class Filled:
    """What a form shows: its values, note and link rows, and why it was refused."""

    values: dict[str, Any]
    note: str = ""
    blank_rows: int = BLANK_LINK_ROWS
    base_revision: str = ""
    error: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    conflict: bool = False


def _link_back(params: Params) -> tuple[str, str] | None:
    """The record and link type a new record is made for (``for_record``, ``for_link``)."""
    source, link_type = params.get("for_record", ""), params.get("for_link", "")
    if isinstance(source, str) and source and link_type in LINK_TYPES:
        return source, str(link_type)
    return None


def _targets(request: Request, actor: Actor) -> dict[str, list[tuple[str, str, str]]]:
    """Suggestions for link targets, (id, title, kind), by kind: recent records, and for
    those who may list evidence, recent evidence items (kind ``evidence``)."""
    node = node_of(request)
    found: dict[str, list[tuple[str, str, str]]] = {}
    kinds = ((Kind.PERSON, Kind.ORGANISATION, Kind.SOURCE), (Kind.INCIDENT, Kind.ACT))
    for group in kinds:
        for hit in searching.search(node, actor, SearchQuery(kinds=group, limit=CHOICES)).hits:
            found.setdefault(hit.kind, []).append((hit.id, hit.title, hit.kind))
    if actor.can(Permission.EVIDENCE_READ):
        items = page_of_items(node, actor, offset=0, limit=ITEM_CHOICES).items
        found["evidence"] = [(i.item.id, i.item.original_name, "evidence") for i in items]
    return found


def _render(
    request: Request,
    actor: Actor,
    form: RecordForm,
    filled: Filled,
    *,
    record: RecordView | None = None,
    link_back: tuple[str, str] | None = None,
    status: int = 200,
) -> Response:
    vocabularies = {s.vocabulary for s in form.fields if s.vocabulary}
    values = filled.values
    links = values.get("links") or []
    context = {
        "form": form,
        "record": record,
        "values": values,
        "rows": link_rows(links, filled.blank_rows),
        "note": filled.note,
        "base_revision": filled.base_revision,
        "error": filled.error,
        "errors": filled.errors,
        "conflict": filled.conflict,
        "link_back": link_back,
        "link_labels": {name: link.label for name, link in LINK_TYPES.items()},
        "linked": named(node_of(request), actor, [link["target"] for link in links]),
        "pickers": pickers(node_of(request), actor, sorted(vocabularies)),
        "countries": countries(locale_of(request)),
        "targets": _targets(request, actor),
        "record_kinds": KIND_NAMES,
        "new_labels": NEW_LABELS,
        "input_types": INPUT_TYPES,
        "date_help": DATE_HELP,
        "chosen": chosen,
        "shown_value": shown_value,
    }
    return render(request, "records/form.html", context, status=status)


def _note(posted: Params) -> str:
    note = posted.get("note", "")
    return note if isinstance(note, str) else ""


def _more_rows(posted: Params) -> int:
    """How many blank link rows to show again (one more if asked for)."""
    blank = sum(1 for value in posted.getlist("link_target") if value == "")
    return blank + 1 if posted.get("more_links") else max(blank, 1)


@router.get("/new/{kind}", openapi_extra=permission("records:write"))
def new_form(request: Request, actor: Caller, kind: str) -> Response:
    require(actor, Permission.RECORDS_WRITE)
    record_kind = parse_kind(kind)
    form = form_of(record_kind, specs_of(node_of(request), record_kind), hide_identifying=False)
    params = request.query_params
    # A record field (an act's incident) may come filled from the page that offers it.
    values = {
        spec.name: params[spec.name]
        for spec in form.fields
        if spec.type is FieldType.RECORD and params.get(spec.name)
    }
    return _render(request, actor, form, Filled(values), link_back=_link_back(params))


@router.post("/new/{kind}", openapi_extra=permission("records:write"))
def create(request: Request, actor: Caller, kind: str, posted: Posted) -> Response:
    record_kind = parse_kind(kind)
    form = form_of(record_kind, specs_of(node_of(request), record_kind), hide_identifying=False)
    filled = Filled(read_form(form, posted), _note(posted), _more_rows(posted))
    link_back = _link_back(posted)
    if posted.get("more_links"):
        return _render(request, actor, form, filled, link_back=link_back)
    try:
        view = editing.create_record(node_of(request), actor, kind, filled.values, note=filled.note)
    except ValidationError as exc:
        filled.error, filled.errors = exc.message, exc.fields
        return _render(request, actor, form, filled, link_back=link_back, status=422)
    if link_back is not None:
        source, link_type = link_back
        query = urlencode({"add_link": f"{link_type}:{view.id}"})
        return RedirectResponse(f"/records/{quote(source, safe='')}/edit?{query}", status_code=303)
    return RedirectResponse(f"/records/{view.id}", status_code=303)


def _edit_form(node: Node, actor: Actor, view: RecordView) -> RecordForm:
    kind = Kind(view.kind)
    hide = not may_see_identifying(actor, view.protected)
    return form_of(kind, specs_of(node, kind), hide_identifying=hide)


@router.get("/{record_id}/edit", openapi_extra=permission("records:write"))
def edit_form(request: Request, actor: Caller, record_id: str, add_link: str = "") -> Response:
    require(actor, Permission.RECORDS_WRITE)
    view = viewing.get_record(node_of(request), actor, record_id)
    form = _edit_form(node_of(request), actor, view)
    values = dict(view.fields)
    link_type, _, target = add_link.partition(":")
    if link_type and target:
        added = {"type": link_type, "target": target}
        values["links"] = [*values.get("links", []), added]
    filled = Filled(values, base_revision=str(view.revision))
    return _render(request, actor, form, filled, record=view)


@router.post("/{record_id}/edit", openapi_extra=permission("records:write"))
def update(request: Request, actor: Caller, record_id: str, posted: Posted) -> Response:
    node = node_of(request)
    view = viewing.get_record(node, actor, record_id)
    form = _edit_form(node, actor, view)
    # Shown again, the form keeps the revision it started from: only a reload moves it on.
    base = str(posted.get("base_revision", ""))
    filled = Filled(read_form(form, posted), _note(posted), _more_rows(posted), base)
    if posted.get("more_links"):
        return _render(request, actor, form, filled, record=view)
    try:
        editing.change_record(
            node,
            actor,
            record_id,
            filled.values,
            base_revision=base_revision(posted),
            note=filled.note,
        )
    except ValidationError as exc:
        filled.error, filled.errors = exc.message, exc.fields
        return _render(request, actor, form, filled, record=view, status=422)
    except Conflict as exc:
        filled.error, filled.conflict = exc.message, True
        return _render(request, actor, form, filled, record=view, status=409)
    return RedirectResponse(f"/records/{record_id}", status_code=303)
