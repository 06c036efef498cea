"""The scope the records pages share: the search, the timeline, the map and the charts
take the same query string, read here into a
:class:`~comity.records.searching.SearchQuery` and written back into links and hidden
fields, so that moving from one page to another, or saving a search, keeps the scope."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import ImmutableMultiDict

from comity.errors import ValidationError
from comity.records.searching import SearchQuery, parse_query

# Single-valued parameters named as the query's fields.
_SINGLE = (
    "text",
    "date_from",
    "date_to",
    "country",
    "admin1",
    "perpetrator",
    "victim_sex",
    "victim_age_band",
)
SCOPE_NAMES = frozenset({*_SINGLE, "kind", "term", "bbox"})
Params = ImmutableMultiDict[str, Any]


def _text(params: Params, name: str) -> str:
    value = params.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _texts(params: Params, name: str) -> list[str]:
    return [v.strip() for v in params.getlist(name) if isinstance(v, str) and v.strip()]


def read_scope(params: Params) -> SearchQuery:
    """The scope named by ``params`` (a query string or a posted form); a
    :class:`ValidationError` that says what is wrong with it otherwise."""
    data: dict[str, Any] = {name: _text(params, name) for name in _SINGLE}
    data["kinds"] = _texts(params, "kind")
    data["terms"] = _texts(params, "term")
    box = _text(params, "bbox")
    if box:
        parts = box.split(",")
        if len(parts) != 4:
            raise ValidationError("Search: bbox is south,west,north,east.")
        data["bbox"] = parts
    return parse_query(data)


def given_scope(params: Params) -> list[tuple[str, str]]:
    """The scope parameters of ``params`` as given (even if they do not make a valid
    scope), to show them again and carry them to the other pages."""
    return [
        (name, value.strip())
        for name, value in params.multi_items()
        if name in SCOPE_NAMES and isinstance(value, str) and value.strip()
    ]


def scope_params(query: SearchQuery) -> list[tuple[str, str]]:
    """``query`` as query-string pairs (its limit and offset aside)."""
    pairs = [("text", query.text)] if query.text else []
    pairs += [("kind", kind.value) for kind in query.kinds]
    pairs += [("term", term) for term in query.terms]
    pairs += [(name, getattr(query, name)) for name in _SINGLE[1:] if getattr(query, name)]
    if query.bbox is not None:
        pairs.append(("bbox", ",".join(str(edge) for edge in query.bbox)))
    return pairs


def with_query(path: str, pairs: list[tuple[str, str]]) -> str:
    return path + ("?" + urlencode(pairs) if pairs else "")
