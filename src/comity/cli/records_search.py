"""``comity records search``: full-text search with filters, and saved searches.

The words match in any script, with or without diacritics, as the beginnings of words
of a record; filters narrow by kind, vocabulary term (a broader term finds narrower
ones), date range, place, suspected perpetrator and victims' attributes. A search can be
saved by name (``--save``) and run again (``--saved``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from comity.cli.common import JsonOutput, console, opened_node, plural, print_json, table
from comity.node import local_operator
from comity.records import searching
from comity.records.searching import SearchPage

# The filters every command that selects records by a search shares.
Terms = Annotated[
    list[str] | None,
    typer.Option("--term", help="vocabulary:code, e.g. rome-statute:art8 (repeat: all must hold)."),
]
DateFrom = Annotated[str, typer.Option("--from", help="From this date (2024, 2024-03 …).")]
DateTo = Annotated[str, typer.Option("--to", help="Up to this date.")]
Country = Annotated[str, typer.Option(help="Two-letter country code.")]
Region = Annotated[str, typer.Option(help="Region (admin1) as written on records.")]


def search(
    text: Annotated[str, typer.Argument(help="Words to look for (any script).")] = "",
    *,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="incident, act, person, organisation, source."),
    ] = None,
    term: Terms = None,
    date_from: DateFrom = "",
    date_to: DateTo = "",
    country: Country = "",
    region: Region = "",
    perpetrator: Annotated[
        str, typer.Option(help="Record id of a suspected perpetrator (person or unit).")
    ] = "",
    victim_sex: Annotated[str, typer.Option(help="Code of the sex vocabulary.")] = "",
    victim_age_band: Annotated[str, typer.Option(help="Code of the age-bands vocabulary.")] = "",
    limit: Annotated[int, typer.Option(help="At most this many results.")] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many results (paging).")] = 0,
    save: Annotated[str, typer.Option("--save", help="Save this search under a name.")] = "",
    saved: Annotated[str, typer.Option("--saved", help="Run the search saved under a name.")] = "",
    as_json: JsonOutput = False,
) -> None:
    """Search records. Protected people appear by pseudonym unless you are cleared.

    Example: comity records search market --kind incident --term rome-statute:art8 --from 2024
    """
    actor = local_operator()
    with opened_node() as node:
        if saved:
            query = searching.saved_search(node, actor, saved)
        else:
            query = searching.parse_query(
                {
                    "text": text,
                    "kinds": kind or [],
                    "terms": term or [],
                    "date_from": date_from,
                    "date_to": date_to,
                    "country": country,
                    "admin1": region,
                    "perpetrator": perpetrator,
                    "victim_sex": victim_sex,
                    "victim_age_band": victim_age_band,
                    "limit": limit,
                    "offset": offset,
                }
            )
        page = searching.search(node, actor, query)
        if save:
            searching.save_search(node, actor, save, query)
    if as_json:
        print_json(page_json(page))
        return
    _print(page, offset=query.offset)
    if save:
        console.print(f"Saved as '{save}'.")


def page_json(page: SearchPage) -> dict[str, Any]:
    return {
        "total": page.total,
        "hits": [
            {
                "id": hit.id,
                "kind": hit.kind,
                "title": hit.title,
                "date": hit.date,
                "earliest": hit.earliest,
                "latest": hit.latest,
                "latitude": hit.latitude,
                "longitude": hit.longitude,
                "snippet": hit.snippet,
            }
            for hit in page.hits
        ],
    }


def _print(page: SearchPage, *, offset: int) -> None:
    if not page.hits:
        console.print(f"No records found ({plural(page.total, 'match', 'matches')}).")
        return
    rows = table("id", "kind", "date", "title", "snippet", whole=("id", "kind"))
    for hit in page.hits:
        rows.add_row(hit.id, hit.kind, hit.date or "", hit.title, hit.snippet)
    console.print(rows)
    shown = f"{offset + 1} to {offset + len(page.hits)}"
    console.print(f"{shown} of {plural(page.total, 'record')}.")
