"""The filter form above the search, timeline, map and chart pages: what it offers (the
terms of every vocabulary, countries, the organisations that may be named as suspected
perpetrators), what it shows as given, and the tabs that move between those pages in
the same scope."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from comity.identity.permissions import Actor
from comity.records import searching
from comity.records.schema import Kind
from comity.records.searching import MAX_LIMIT, SearchQuery
from comity.web.pages.records_choices import KIND_NAMES, countries, pickers
from comity.web.pages.records_lookup import named
from comity.web.pages.records_scope import Params, given_scope, with_query
from comity.web.requests import locale_of, node_of

TABS = ("/records", "/records/timeline", "/records/map", "/records/charts")


def filter_context(
    request: Request,
    actor: Actor,
    params: Params,
    *,
    action: str,
    kinds: bool = True,
) -> dict[str, Any]:
    """What ``records/_filters.html`` needs to show the scope given in ``params`` again
    in a form sent to ``action``; ``kinds=False`` on the pages that show incidents only."""
    node = node_of(request)
    given = given_scope(params)
    offered = pickers(node_of(request), actor)
    chosen: dict[str, str] = {}
    extra_terms: list[str] = []  # a saved search may hold two terms of one vocabulary
    for name, term in given:
        if name != "term":
            continue
        vocabulary = term.partition(":")[0]
        if vocabulary in offered and vocabulary not in chosen:
            chosen[vocabulary] = term
        else:
            extra_terms.append(term)
    organisations = SearchQuery(kinds=(Kind.ORGANISATION,), limit=MAX_LIMIT)
    listed = searching.search(node, actor, organisations).hits
    perpetrators = [(hit.id, hit.title) for hit in listed]
    perpetrator = dict(given).get("perpetrator", "")
    if perpetrator and perpetrator not in dict(perpetrators):
        found = named(node, actor, [perpetrator]).get(perpetrator)
        perpetrators.append((perpetrator, found.title if found else perpetrator))
    return {
        "action": action,
        "given": dict(given),
        "given_pairs": given,
        "record_kinds": KIND_NAMES,
        "given_kinds": [value for name, value in given if name == "kind"],
        "show_kinds": kinds,
        "pickers": offered,
        "chosen_terms": chosen,
        "extra_terms": extra_terms,
        "countries": countries(locale_of(request)),
        "perpetrators": perpetrators,
        "tabs": {path: with_query(path, given) for path in TABS},
    }
