"""Counts of records for charts and reports: by term, by month or year, by place.

Every count takes the same :class:`~comity.records.searching.SearchQuery` as search, so
a chart or a report covers exactly the records a search with that scope finds (its
``limit`` and ``offset`` are ignored). Counts are of records, never of people's names,
so they need no protection beyond ``records:read``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from comity.identity.permissions import Actor, Permission, require
from comity.node import Node
from comity.records.models import Facet, Link, Record, Term
from comity.records.searching import SearchQuery, conditions


@dataclass(frozen=True)
class Count:
    key: str
    label: str
    count: int


def by_term(
    node: Node, actor: Actor, query: SearchQuery, vocabulary: str, *, top_level: bool = True
) -> list[Count]:
    """Records in scope per term of ``vocabulary`` (its top-level terms by default; a
    record counts once under each term it holds, directly or through its acts)."""
    require(actor, Permission.RECORDS_READ)
    with node.uow() as uow:
        session = uow.session
        scope = select(Record.id).where(*conditions(session, query))
        acts_of_scope = select(Link.source_id).where(
            Link.type == "incident", Link.target.in_(scope)
        )
        # A record's own facets, and for an incident those of its acts (counted once).
        holder = func.coalesce(
            select(Link.target)
            .where(
                Link.type == "incident", Link.source_id == Facet.record_id, Link.target.in_(scope)
            )
            .scalar_subquery(),
            Facet.record_id,
        )
        terms = select(Term.code, Term.label).where(Term.vocabulary == vocabulary)
        if top_level:
            terms = terms.where(Term.parent.is_(None))
        labels = dict(session.execute(terms.order_by(Term.position)).all())
        rows = session.execute(
            select(Facet.value, func.count(func.distinct(holder)))
            .where(
                Facet.name == f"term:{vocabulary}",
                Facet.value.in_(list(labels)),
                Facet.record_id.in_(scope) | Facet.record_id.in_(acts_of_scope),
            )
            .group_by(Facet.value)
        ).all()
        counts = dict(rows)
    return [Count(code, label, counts[code]) for code, label in labels.items() if counts.get(code)]


def by_period(node: Node, actor: Actor, query: SearchQuery, *, unit: str = "month") -> list[Count]:
    """Dated records in scope per month (``YYYY-MM``) or year, by the earliest minute of
    their date, in order and with empty periods between the first and last filled."""
    require(actor, Permission.RECORDS_READ)
    width = {"month": 7, "year": 4}.get(unit)
    if width is None:
        raise ValueError(f"unit must be month or year, not {unit!r}")
    with node.uow() as uow:
        period = func.substr(Record.earliest, 1, width)
        rows = uow.session.execute(
            select(period, func.count())
            .where(*conditions(uow.session, query), Record.earliest.is_not(None))
            .group_by(period)
            .order_by(period)
        ).all()
    counts = {str(key): int(count) for key, count in rows}
    if not counts:
        return []
    return [Count(key, key, counts.get(key, 0)) for key in _periods(min(counts), max(counts), unit)]


def _periods(first: str, last: str, unit: str) -> list[str]:
    if unit == "year":
        return [f"{year:04d}" for year in range(int(first), int(last) + 1)]
    start = int(first[:4]) * 12 + int(first[5:7]) - 1
    end = int(last[:4]) * 12 + int(last[5:7]) - 1
    return [f"{index // 12:04d}-{index % 12 + 1:02d}" for index in range(start, end + 1)]


def by_place(
    node: Node, actor: Actor, query: SearchQuery, *, level: str = "country"
) -> list[Count]:
    """Records in scope per country code, region (``admin1``) or district (``admin2``),
    most first."""
    require(actor, Permission.RECORDS_READ)
    if level not in ("country", "admin1", "admin2"):
        raise ValueError(f"level must be country, admin1 or admin2, not {level!r}")
    with node.uow() as uow:
        scope = select(Record.id).where(*conditions(uow.session, query))
        rows = uow.session.execute(
            select(Facet.value, func.count())
            .where(Facet.name == level, Facet.record_id.in_(scope))
            .group_by(Facet.value)
            .order_by(func.count().desc(), Facet.value)
        ).all()
    return [Count(str(value), str(value), int(count)) for value, count in rows]
