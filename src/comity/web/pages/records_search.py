"""Records pages that list: the search, with its filters and each person's saved searches,
and the timeline of the incidents in the same scope, month by month, newest first.

Both read their scope from the query string (:mod:`comity.web.pages.records_scope`), so
a search can be bookmarked, saved, or looked at as a timeline, map or chart without
retyping it.
A scope that is not valid (a date that is not one) is shown again with what is wrong.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from babel.dates import format_skeleton
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from comity.errors import Conflict, ValidationError
from comity.identity.permissions import Actor
from comity.records import searching
from comity.records.schema import Kind
from comity.records.searching import SearchHit, SearchPage
from comity.web.deps import permission
from comity.web.guards import page_actor
from comity.web.pages.records_choices import NEW_LABELS
from comity.web.pages.records_filters import filter_context
from comity.web.pages.records_form_fields import Posted
from comity.web.pages.records_scope import Params, given_scope, read_scope, scope_params, with_query
from comity.web.requests import locale_of, node_of
from comity.web.templating import render

router = APIRouter(prefix="/records")
Caller = Annotated[Actor, Depends(page_actor)]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
PAGE_SIZE = 25
TIMELINE_SIZE = 200


@dataclass(frozen=True)
class Month:
    """The incidents of one month (``heading`` ``None``: those with no earliest date)."""

    key: str
    heading: str | None
    hits: list[SearchHit]


def _pager(
    path: str, params: Params, page: int, found: SearchPage | None, size: int
) -> dict[str, Any]:
    pages = max(1, -(-found.total // size)) if found is not None else 1
    given = given_scope(params)
    return {
        "page": page,
        "pages": pages,
        "newer_url": with_query(path, [*given, ("page", str(page - 1))]) if page > 1 else None,
        "older_url": with_query(path, [*given, ("page", str(page + 1))]) if page < pages else None,
    }


def _search(
    request: Request, actor: Actor, params: Params, *, page: int, size: int, incidents: bool
) -> tuple[SearchPage | None, str | None]:
    """A page of the records in scope, or what is wrong with the scope."""
    try:
        query = read_scope(params)
        changes: dict[str, Any] = {"limit": size, "offset": (page - 1) * size}
        if incidents:
            changes["kinds"] = (Kind.INCIDENT,)
        return searching.search(node_of(request), actor, query.model_copy(update=changes)), None
    except ValidationError as exc:
        return None, exc.message


def _search_page(
    request: Request,
    actor: Actor,
    params: Params,
    *,
    page: int = 1,
    error: str | None = None,
    status: int = 200,
) -> Response:
    found, problem = _search(request, actor, params, page=page, size=PAGE_SIZE, incidents=False)
    saved = searching.saved_searches(node_of(request), actor)
    context = {
        **filter_context(request, actor, params, action="/records"),
        **_pager("/records", params, page, found, PAGE_SIZE),
        "found": found,
        "error": error or problem,
        "saved": [(name, with_query("/records", scope_params(query))) for name, query in saved],
        "save_name": params.get("name", ""),
        "new_labels": NEW_LABELS,
    }
    if problem and status == 200:
        status = 422
    return render(request, "records/search.html", context, status=status)


@router.get("", openapi_extra=permission("records:read"))
def search_page(request: Request, actor: Caller, page: PageNumber = 1) -> Response:
    return _search_page(request, actor, request.query_params, page=page)


@router.post("/saved", openapi_extra=permission("records:read"))
def save_search(request: Request, actor: Caller, form: Posted) -> Response:
    name = form.get("name", "")
    try:
        query = read_scope(form)
        searching.save_search(node_of(request), actor, name if isinstance(name, str) else "", query)
    except (ValidationError, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _search_page(request, actor, form, error=exc.message, status=status)
    return RedirectResponse(with_query("/records", scope_params(query)), status_code=303)


def months_of(hits: list[SearchHit], locale: str) -> list[Month]:
    """``hits`` (newest first) grouped by the month of their earliest minute."""
    months: list[Month] = []
    for hit in hits:
        key = hit.earliest[:7] if hit.earliest else ""
        if not months or months[-1].key != key:
            heading = None
            if key:
                first = dt.date(int(key[:4]), int(key[5:7]), 1)
                heading = format_skeleton("yMMMM", first, locale=locale)
            months.append(Month(key, heading, []))
        months[-1].hits.append(hit)
    return months


@router.get("/timeline", openapi_extra=permission("records:read"))
def timeline(request: Request, actor: Caller, page: PageNumber = 1) -> Response:
    params = request.query_params
    found, problem = _search(request, actor, params, page=page, size=TIMELINE_SIZE, incidents=True)
    context = {
        **filter_context(request, actor, params, action="/records/timeline", kinds=False),
        **_pager("/records/timeline", params, page, found, TIMELINE_SIZE),
        "found": found,
        "months": months_of(found.hits, locale_of(request)) if found is not None else [],
        "error": problem,
    }
    return render(request, "records/timeline.html", context, status=422 if problem else 200)
