"""Searching records: full text in any script, with filters, the same on both databases.

A :class:`SearchQuery` combines folded full-text words (every word must begin a word of
the record, see :mod:`comity.records.search_index`) with filters: kinds, vocabulary
terms (a broader term finds its narrower ones; an incident is found by the terms of its
acts too), a date range (records whose interval overlaps it), country and region, a
bounding box, a suspected perpetrator, and attributes of victims (sex, age band).
Results come newest first (by the earliest minute of their date), then by creation.

Snippets are cut from the fields the searcher may see (:mod:`comity.records.viewing`),
never from the index, so a protected name cannot surface in one. Each person's searches
can be saved by name and run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticError
from sqlalchemy import ColumnElement, Select, SQLColumnExpression, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from comity.db import UnitOfWork
from comity.errors import Conflict, NotFound, ValidationError
from comity.identity.permissions import Actor, Permission, require
from comity.node import Node
from comity.records import search_index
from comity.records.dates import bound
from comity.records.models import Facet, Link, Record, SavedSearch
from comity.records.schema import Kind
from comity.records.text import fold, query_words
from comity.records.viewing import RecordView, sealer_of, view_of

SNIPPET = 160
MAX_LIMIT = 500
TermRef = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*:[a-z0-9][a-z0-9._-]*$")]


class SearchQuery(BaseModel):
    """What to look for; every part is optional and the parts are combined with AND."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: Annotated[str, StringConstraints(max_length=500)] = ""
    kinds: tuple[Kind, ...] = ()
    terms: tuple[TermRef, ...] = Field(
        default=(), description="vocabulary:code, e.g. rome-statute:art8"
    )
    date_from: str = ""
    date_to: str = ""
    country: str = ""
    admin1: str = ""
    bbox: tuple[float, float, float, float] | None = Field(
        default=None, description="south, west, north, east"
    )
    perpetrator: str = ""
    victim_sex: str = ""
    victim_age_band: str = ""
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0)


def parse_query(data: dict[str, Any]) -> SearchQuery:
    try:
        return SearchQuery.model_validate(data)
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "query"
        raise ValidationError(f"Search: {where}: {first['msg']}.") from None


@dataclass(frozen=True)
class SearchHit:
    id: str
    kind: str
    title: str
    date: str | None
    earliest: str | None
    latest: str | None
    latitude: float | None
    longitude: float | None
    snippet: str


@dataclass(frozen=True)
class SearchPage:
    total: int
    hits: list[SearchHit]


# Every filter is an EXISTS correlated with the record (through its acts, for an
# incident), not an IN over the set of every record holding the value: the full-text
# match already narrows the records to a few, and each is then looked up by its id,
# whereas the set of, say, every female victim's acts grows with the whole database and
# would be built anew for each query. Each role has its own alias, made once (an alias's
# columns are costly to set up, as much as running a small query): one EXISTS never nests
# inside another of the same alias, so each correlates with the right table, and sibling
# ones with the same name are separate scopes in SQL.
Holder = Callable[[SQLColumnExpression[str]], ColumnElement[bool]]
_FACET = Facet.__table__.alias("facet")
_LINK = Link.__table__.alias("link")
_ACT = Link.__table__.alias("act")


def _has_facet(name: str, value: str) -> Holder:
    """Whether the record with a given id holds the facet ``name`` = ``value``."""

    def held(record_id: SQLColumnExpression[str]) -> ColumnElement[bool]:
        return exists().where(
            _FACET.c.record_id == record_id, _FACET.c.name == name, _FACET.c.value == value
        )

    return held


def _links_to(link_type: str, target: str) -> Holder:
    """Whether the record with a given id links to ``target`` by ``link_type``."""

    def held(record_id: SQLColumnExpression[str]) -> ColumnElement[bool]:
        return exists().where(
            _LINK.c.source_id == record_id, _LINK.c.type == link_type, _LINK.c.target == target
        )

    return held


def _links_to_holder(link_type: str, holds: Holder) -> Holder:
    """Whether the record with a given id links by ``link_type`` to a record that
    ``holds``."""

    def held(record_id: SQLColumnExpression[str]) -> ColumnElement[bool]:
        return exists().where(
            _LINK.c.source_id == record_id, _LINK.c.type == link_type, holds(_LINK.c.target)
        )

    return held


def _self_or_acts(holds: Holder) -> ColumnElement[bool]:
    """The record ``holds``, or it is an incident one of whose acts ``holds``."""
    of_acts = exists().where(
        _ACT.c.target == Record.id, _ACT.c.type == "incident", holds(_ACT.c.source_id)
    )
    return or_(holds(Record.id), of_acts)


def _in_sets(sets: Select[Any]) -> ColumnElement[bool]:
    """Without text to narrow the records, a filter over ``sets`` (the ids that hold it)
    reads each set once instead of probing every record of the table: the older shape,
    kept where it is the quicker one."""
    of_acts = select(Link.target).where(Link.type == "incident", Link.source_id.in_(sets))
    return or_(Record.id.in_(sets), Record.id.in_(of_acts))


def _facet_ids(name: str, value: str) -> Select[Any]:
    return select(Facet.record_id).where(Facet.name == name, Facet.value == value)


def _place(name: str, value: str, by_record: bool) -> ColumnElement[bool]:
    if by_record:
        return _has_facet(name, value)(Record.id)
    return Record.id.in_(_facet_ids(name, value))


def _when_and_where(query: SearchQuery, by_record: bool) -> list[ColumnElement[bool]]:
    """The date, country, region and bounding-box filters."""
    where: list[ColumnElement[bool]] = []
    dated = or_(Record.earliest.is_not(None), Record.latest.is_not(None))
    if query.date_from:
        start = bound(query.date_from, end=False)
        where += [or_(Record.latest.is_(None), Record.latest >= start), dated]
    if query.date_to:
        end = bound(query.date_to, end=True)
        where += [or_(Record.earliest.is_(None), Record.earliest <= end), dated]
    if query.country:
        where.append(_place("country", query.country.strip().upper(), by_record))
    if query.admin1:
        where.append(_place("admin1", query.admin1.strip(), by_record))
    if query.bbox is not None:
        south, west, north, east = query.bbox
        where.append(and_(Record.latitude >= south, Record.latitude <= north))
        if west <= east:
            where.append(and_(Record.longitude >= west, Record.longitude <= east))
        else:  # a box across the antimeridian
            where.append(or_(Record.longitude >= west, Record.longitude <= east))
    return where


def conditions(session: Session, query: SearchQuery) -> list[ColumnElement[bool]]:
    """The WHERE clauses on ``records_records`` of ``query`` (limit and offset aside)."""
    where: list[ColumnElement[bool]] = [Record.deleted.is_(False)]
    if query.kinds:
        where.append(Record.kind.in_([kind.value for kind in query.kinds]))
    words = query_words(query.text)
    if query.text.strip() and not words:
        raise ValidationError("The search text holds no letters or digits to look for.")
    if words:
        keys, params = search_index.matching_keys(session, words)
        where.append(Record.key.in_(keys.bindparams(**params).columns(key=Record.key.type)))
    # With text, the matches are few and each is probed (EXISTS); without, the sets.
    by_record = bool(words)
    for term in query.terms:
        vocabulary, _, code = term.partition(":")
        holds = _has_facet(f"term:{vocabulary}", code)
        sets = _facet_ids(f"term:{vocabulary}", code)
        where.append(_self_or_acts(holds) if by_record else _in_sets(sets))
    where += _when_and_where(query, by_record)
    if query.perpetrator:
        holds = _links_to("suspected_perpetrator", query.perpetrator)
        sets = select(Link.source_id).where(
            Link.type == "suspected_perpetrator", Link.target == query.perpetrator
        )
        where.append(_self_or_acts(holds) if by_record else _in_sets(sets))
    for name, value in (("term:sex", query.victim_sex), ("term:age-bands", query.victim_age_band)):
        if value:
            holds = _links_to_holder("victim", _has_facet(name, value))
            sets = select(Link.source_id).where(
                Link.type == "victim", Link.target.in_(_facet_ids(name, value))
            )
            where.append(_self_or_acts(holds) if by_record else _in_sets(sets))
    return where


def _snippet(view: RecordView, words: list[str]) -> str:
    """Up to :data:`SNIPPET` characters of a visible text field around a query word."""
    texts = [v for v in view.fields.values() if isinstance(v, str)]
    for text in texts:
        folded = fold(text)
        # Folding can change lengths (ß → ss), so positions are found word by word.
        for word in words:
            at = folded.find(word)
            if at >= 0 and len(folded) == len(text):
                start = max(0, at - SNIPPET // 3)
                piece = text[start : start + SNIPPET]
                return ("…" if start else "") + piece + ("…" if start + SNIPPET < len(text) else "")
    first = next((t for t in texts if t != view.title), "")
    return first[:SNIPPET] + ("…" if len(first) > SNIPPET else "")


def run_query(uow: UnitOfWork, actor: Actor, sealer_node: Node, query: SearchQuery) -> SearchPage:
    session = uow.session
    where = conditions(session, query)
    # One pass over the matches gives both the page and the total (a window count taken
    # before LIMIT); a page past the end has no row to carry the total, so it is counted.
    found = session.execute(
        select(Record, func.count().over())
        .where(*where)
        .order_by(Record.earliest.is_(None), Record.earliest.desc(), Record.key.desc())
        .limit(query.limit)
        .offset(query.offset)
    ).all()
    if found:
        total = found[0][1]
    else:
        total = session.scalar(select(func.count()).select_from(Record).where(*where)) or 0
    sealer = sealer_of(sealer_node)
    words = query_words(query.text)
    hits = []
    for record, _ in found:
        view = view_of(record, actor, sealer)
        hits.append(
            SearchHit(
                id=record.id,
                kind=record.kind,
                title=record.title,
                date=view.fields.get("date"),
                earliest=record.earliest,
                latest=record.latest,
                latitude=record.latitude,
                longitude=record.longitude,
                snippet=_snippet(view, words),
            )
        )
    return SearchPage(total=total, hits=hits)


def search(node: Node, actor: Actor, query: SearchQuery) -> SearchPage:
    require(actor, Permission.RECORDS_READ)
    with node.uow() as uow:
        return run_query(uow, actor, node, query)


def _owner(actor: Actor) -> str:
    return actor.user_id or actor.label


def save_search(node: Node, actor: Actor, name: str, query: SearchQuery) -> None:
    require(actor, Permission.RECORDS_READ)
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise ValidationError("Name the search in 1 to 100 characters.")
    with node.uow() as uow:
        owner = _owner(actor)
        taken = uow.session.scalar(
            select(SavedSearch.id).where(SavedSearch.owner == owner, SavedSearch.name == name)
        )
        if taken is not None:
            raise Conflict(f"You already have a search named '{name}'.")
        uow.session.add(SavedSearch(owner=owner, name=name, query=query.model_dump(mode="json")))
        uow.commit()


def saved_searches(node: Node, actor: Actor) -> list[tuple[str, SearchQuery]]:
    require(actor, Permission.RECORDS_READ)
    with node.uow() as uow:
        rows = uow.session.scalars(
            select(SavedSearch).where(SavedSearch.owner == _owner(actor)).order_by(SavedSearch.name)
        )
        return [(row.name, parse_query(row.query)) for row in rows]


def saved_search(node: Node, actor: Actor, name: str) -> SearchQuery:
    for saved_name, query in saved_searches(node, actor):
        if saved_name == name:
            return query
    raise NotFound(f"You have no saved search named '{name}'.")
