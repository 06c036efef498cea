"""The queries of the records benchmark, and each written by hand in SQL for both engines.

Each query has free text in one of the demo's scripts and two filters (a date range, a
Rome Statute term, a region, victims' sex or age band). :func:`direct` writes the same
query as a person would in SQL: the full-text match (FTS5 ``MATCH`` or ``tsvector @@``)
joined to the record, the total as a window count beside the page, and each filter as an
``EXISTS`` on ``records_facets`` and ``records_links`` correlated with the record (an
incident matches a term or a victim through its acts too, as the service does), nested
so that every facet is looked up by its record: joined instead, SQLite without
statistics reads the facet by name and value (every record holding the term) for each
candidate. :func:`service_sql` renders the statement :mod:`comity.records.searching`
builds for the same query, for timing it alone and for the engine's plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from comity.records.dates import bound
from comity.records.models import Record
from comity.records.searching import SearchQuery, conditions
from comity.records.text import query_words

QUERIES = (
    (
        "en 'market', 2021, rome-statute:art8.2.e.i",
        SearchQuery(
            text="market", date_from="2021", date_to="2021", terms=("rome-statute:art8.2.e.i",)
        ),
    ),
    (
        "uk 'школи', region Varesh, victim female",
        SearchQuery(text="школи", admin1="Varesh", victim_sex="female"),
    ),
    (
        "ar 'السوق', 2022, rome-statute:art8",
        SearchQuery(text="السوق", date_from="2022", date_to="2022", terms=("rome-statute:art8",)),
    ),
    (
        "fr 'école', region Helgar, rome-statute:art8.2.e.iv",
        SearchQuery(text="école", admin1="Helgar", terms=("rome-statute:art8.2.e.iv",)),
    ),
    (
        "en 'detention' (a broad word), 2020-03 to 2021-06, victim male",
        SearchQuery(text="detention", date_from="2020-03", date_to="2021-06", victim_sex="male"),
    ),
    (
        "en 'drone strike', region Natol, victim child",
        SearchQuery(text="drone strike", admin1="Natol", victim_age_band="child"),
    ),
)
_OF_ACT = "WHERE a.target = r.id AND a.type = 'incident'"
ORDER = "ORDER BY r.earliest IS NULL, r.earliest DESC, r.key DESC"


@dataclass(frozen=True)
class Direct:
    """A query in hand-written SQL: the page with the total of matches in each row (a
    window count), and its parameters."""

    page: str
    params: dict[str, Any]


def _facet(alias: str, record: str, name: str, value: str) -> str:
    return f"{alias}.record_id = {record} AND {alias}.name = '{name}' AND {alias}.value = :{value}"


def _self_or_acts(name: str, value: str) -> str:
    """The record has the facet, or one of its acts has it."""
    own = f"EXISTS (SELECT 1 FROM records_facets f WHERE {_facet('f', 'r.id', name, value)})"  # noqa: S608
    act = f"EXISTS (SELECT 1 FROM records_facets f WHERE {_facet('f', 'a.source_id', name, value)})"  # noqa: S608
    acts = f"EXISTS (SELECT 1 FROM records_links a {_OF_ACT} AND {act})"  # noqa: S608
    return f"({own} OR {acts})"


def _victims(name: str, value: str) -> str:
    """The record, or one of its acts, names a victim with the facet."""
    facet = _facet("f", "v.target", name, value)
    victim = f"v.type = 'victim' AND EXISTS (SELECT 1 FROM records_facets f WHERE {facet})"  # noqa: S608
    own = f"EXISTS (SELECT 1 FROM records_links v WHERE v.source_id = r.id AND {victim})"  # noqa: S608
    of_act = f"EXISTS (SELECT 1 FROM records_links v WHERE v.source_id = a.source_id AND {victim})"  # noqa: S608
    acts = f"EXISTS (SELECT 1 FROM records_links a {_OF_ACT} AND {of_act})"  # noqa: S608
    return f"({own} OR {acts})"


def direct(dialect: str, query: SearchQuery) -> Direct:
    """``query`` written by hand in SQL for ``dialect`` (the filters QUERIES use)."""
    words = query_words(query.text)
    params: dict[str, Any] = {}
    if dialect == "postgresql":
        source = "records_search s JOIN records_records r ON r.key = s.key"
        where = ["s.words @@ CAST(:fts AS tsquery)"]
        params["fts"] = " & ".join(f"'{word}':*" for word in words)
    else:
        source = "records_search s JOIN records_records r ON r.key = s.rowid"
        where = ["records_search MATCH :fts"]
        params["fts"] = " ".join(f'"{word}"*' for word in words)
    where.append("r.deleted = false" if dialect == "postgresql" else "r.deleted = 0")
    if query.date_from:
        params["start"] = bound(query.date_from, end=False)
        where.append("(r.latest IS NULL OR r.latest >= :start)")
    if query.date_to:
        params["end"] = bound(query.date_to, end=True)
        where.append("(r.earliest IS NULL OR r.earliest <= :end)")
    if query.date_from or query.date_to:
        where.append("(r.earliest IS NOT NULL OR r.latest IS NOT NULL)")
    for number, term in enumerate(query.terms):
        vocabulary, _, code = term.partition(":")
        params[f"term{number}"] = code
        where.append(_self_or_acts(f"term:{vocabulary}", f"term{number}"))
    if query.admin1:
        params["admin1"] = query.admin1
        facet = _facet("f", "r.id", "admin1", "admin1")
        where.append(f"EXISTS (SELECT 1 FROM records_facets f WHERE {facet})")  # noqa: S608
    if query.victim_sex:
        params["sex"] = query.victim_sex
        where.append(_victims("term:sex", "sex"))
    if query.victim_age_band:
        params["band"] = query.victim_age_band
        where.append(_victims("term:age-bands", "band"))
    condition = " AND ".join(where)
    return Direct(
        page=f"SELECT r.*, count(*) OVER () AS total FROM {source} "  # noqa: S608
        f"WHERE {condition} {ORDER} LIMIT {query.limit}",
        params=params,
    )


def service_sql(engine: Engine, session: Session, query: SearchQuery) -> str:
    """The statement :mod:`comity.records.searching` runs for ``query`` (the page with the
    total), rendered with its values in place."""
    where = conditions(session, query)
    page = (
        select(Record, func.count().over())
        .where(*where)
        .order_by(Record.earliest.is_(None), Record.earliest.desc(), Record.key.desc())
        .limit(query.limit)
    )
    return str(page.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
