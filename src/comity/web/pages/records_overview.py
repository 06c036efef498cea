"""Records pages that look at a whole search at once: the map of its incidents, with the
points its script fetches as JSON, and the charts of its counts (by violation, by month
and by place), drawn as SVG on the node by :mod:`comity.records.charts`, each with its
numbers in a table too.

The map needs no internet: its script (``static/records-map.js``) draws the vendored
Natural Earth country outlines and clusters the incidents with the vendored Leaflet and
Leaflet.markercluster. Each point carries only an id, a title (a protected person's name
never is one: titles are pseudonymised by the records services), a date and coordinates.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from comity.errors import ValidationError
from comity.identity.permissions import Actor
from comity.records import charts, searching, statistics
from comity.records.schema import Kind
from comity.records.searching import MAX_LIMIT, SearchQuery
from comity.records.statistics import Count
from comity.web.deps import permission
from comity.web.guards import page_actor
from comity.web.pages.records_choices import countries
from comity.web.pages.records_filters import filter_context
from comity.web.pages.records_scope import given_scope, read_scope, with_query
from comity.web.requests import locale_of, node_of
from comity.web.templating import render

router = APIRouter(prefix="/records")
Caller = Annotated[Actor, Depends(page_actor)]
WORLD = (-90.0, -180.0, 90.0, 180.0)
MAP_LIMIT = 10_000
OUTLINES = "/static/vendor/world-atlas-2.0.2/countries-110m.json"
MONTHS_SHOWN = 48  # more months than this are counted by year
VIOLATIONS = ("rome-statute", "violation-types")


def mapped(query: SearchQuery) -> SearchQuery:
    """The incidents of ``query`` that have coordinates (a box holds only those)."""
    changes: dict[str, Any] = {"kinds": (Kind.INCIDENT,), "bbox": query.bbox or WORLD}
    return query.model_copy(update={**changes, "limit": MAX_LIMIT, "offset": 0})


@router.get("/map", openapi_extra=permission("records:read"))
def map_page(request: Request, actor: Caller) -> Response:
    params = request.query_params
    total, problem = None, None
    try:
        scope = mapped(read_scope(params)).model_copy(update={"limit": 1})
        total = searching.search(node_of(request), actor, scope).total
    except ValidationError as exc:
        problem = exc.message
    context = {
        **filter_context(request, actor, params, action="/records/map", kinds=False),
        "total": total,
        "error": problem,
        "points_url": with_query("/records/map/points", given_scope(params)),
        "outlines_url": OUTLINES,
    }
    return render(request, "records/map.html", context, status=422 if problem else 200)


@router.get("/map/points", openapi_extra=permission("records:read"))
def map_points(request: Request, actor: Caller) -> JSONResponse:
    """The incidents in scope with coordinates, at most :data:`MAP_LIMIT`, newest first."""
    query = mapped(read_scope(request.query_params))
    node = node_of(request)
    points: list[dict[str, Any]] = []
    while True:
        found = searching.search(node, actor, query.model_copy(update={"offset": len(points)}))
        points += [
            {
                "id": hit.id,
                "title": hit.title,
                "date": hit.date,
                "latitude": hit.latitude,
                "longitude": hit.longitude,
            }
            for hit in found.hits
        ]
        if not found.hits or len(points) >= min(found.total, MAP_LIMIT):
            break
    return JSONResponse({"total": found.total, "points": points[:MAP_LIMIT]})


def _counts(request: Request, actor: Actor, query: SearchQuery) -> dict[str, list[Count]]:
    """The counts the charts page shows for ``query``, by name."""
    node = node_of(request)
    counts = {name: statistics.by_term(node, actor, query, name) for name in VIOLATIONS}
    counts["period"] = statistics.by_period(node, actor, query, unit="month")
    if len(counts["period"]) > MONTHS_SHOWN:
        counts["period"] = statistics.by_period(node, actor, query, unit="year")
    names = dict(countries(locale_of(request)))
    counts["country"] = [
        Count(c.key, names.get(c.key, c.key), c.count)
        for c in statistics.by_place(node, actor, query, level="country")
    ]
    counts["admin1"] = statistics.by_place(node, actor, query, level="admin1")
    return counts


@router.get("/charts", openapi_extra=permission("records:read"))
def charts_page(request: Request, actor: Caller) -> Response:
    params = request.query_params
    counts, problem = None, None
    try:
        counts = _counts(request, actor, read_scope(params))
    except ValidationError as exc:
        problem = exc.message
    context = {
        **filter_context(request, actor, params, action="/records/charts"),
        "counts": counts,
        "error": problem,
        # Called by the template with translated titles; their SVG escapes every label.
        "bar_chart": charts.bar_chart,
        "period_chart": charts.period_chart,
    }
    return render(request, "records/charts.html", context, status=422 if problem else 200)
