"""Monitoring reports: what an NGO sends to a UN mechanism, for a period and a scope.

:func:`build_report` gathers, for the incidents a search finds in a period: the scope in
words; totals (incidents, acts, victims linked, victims by sex and age band — counts
only); counts by Rome Statute crime and by violation type, top-level terms and, for the
tables, their narrower terms; counts by month (or year) and by place; a list of the
incidents (date, place, title, classification); and a methodology drawn from what the
node knows (sources by grade, vocabularies and versions, how dates are counted, the
ledger's size and root when the report was made, to tie it to the tamper-evident log).

A report goes outside the organisation, so it names nobody: people are counted, never
listed, whoever asks for the report; incidents are read through
:mod:`comity.records.viewing` as the reporting actor may see them. The counts are read
again if a change to records reaches the ledger meanwhile (every change to a record is a
ledger entry), so totals, charts and tables agree, and agree with the ledger's size.
:func:`render_html` and :func:`render_pdf` turn a report into a self-contained document
(:mod:`comity.records.report_render`).
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from comity.db import UnitOfWork, utcnow
from comity.errors import Conflict, ValidationError
from comity.identity.organisations import local_organisation
from comity.identity.permissions import Actor, Permission, require
from comity.ledger import checkpoints
from comity.ledger.models import LedgerEntry
from comity.ledger.services import prove_consistency
from comity.node import Node
from comity.records import report_data
from comity.records.dates import bound
from comity.records.models import Record, Term
from comity.records.report_data import IncidentLine, count_of, counted_by
from comity.records.report_render import render_html, render_pdf
from comity.records.report_scope import check_scope, describe_scope
from comity.records.schema import Kind
from comity.records.searching import SearchQuery, conditions
from comity.records.statistics import Count, by_period, by_place, by_term
from comity.records.viewing import sealer_of
from comity.records.vocabularies import list_vocabularies

__all__ = ["Report", "build_report", "render_html", "render_pdf"]

TITLE_LIMIT = 200
ATTEMPTS = 3
YEARLY_AFTER_MONTHS = 36
USED_VOCABULARIES = (
    "rome-statute",
    "violation-types",
    "conflict-event-types",
    "sex",
    "age-bands",
    "source-reliability",
    "information-credibility",
)


@dataclass(frozen=True)
class TermRow:
    """A term with its count; ``depth`` 0 for a top-level term, 1 for its narrower terms …"""

    code: str
    label: str
    reference: str
    depth: int
    count: int


@dataclass(frozen=True)
class Breakdown:
    vocabulary: str
    top: list[Count]
    rows: list[TermRow]


@dataclass(frozen=True)
class Totals:
    incidents: int
    acts: int
    victims: int
    by_sex: list[Count]
    by_age_band: list[Count]


@dataclass(frozen=True)
class VocabularyUsed:
    name: str
    title: str
    version: str
    source: str


@dataclass(frozen=True)
class DateCoverage:
    """How uncertain dates entered the counts."""

    outside_period: int
    """Incidents counted whose date also allows moments outside the period."""
    before_chart: int
    """Incidents whose earliest possible moment is before the period (not in the chart)."""
    open_start: int
    """Incidents dated only 'before …', with no earliest moment (not in the chart)."""
    undated: int
    """Incidents of the scope with no date at all: not in a report for a period."""


@dataclass(frozen=True)
class LedgerAnchor:
    origin: str
    size: int
    root: str
    """Base64 of the root hash of the ledger's first ``size`` entries."""
    checkpoint_size: int | None
    checkpoint_at: dt.datetime | None


@dataclass(frozen=True)
class Methodology:
    sources: int
    people_as_sources: int
    by_reliability: list[Count]
    by_credibility: list[Count]
    vocabularies: list[VocabularyUsed]
    dates: DateCoverage
    generated_at: dt.datetime
    ledger: LedgerAnchor


@dataclass(frozen=True)
class Report:
    title: str
    author_organisation: str
    period_from: str
    period_to: str
    scope: list[str]
    totals: Totals
    crimes: Breakdown
    violations: Breakdown
    period_unit: str
    by_period: list[Count]
    by_country: list[Count]
    by_region: list[Count]
    incidents: list[IncidentLine]
    methodology: Methodology


def _checked_title(title: str) -> str:
    title = " ".join(title.split())
    if not 1 <= len(title) <= TITLE_LIMIT:
        raise ValidationError(
            f"Give the report a title of 1 to {TITLE_LIMIT} characters.", fields={"title": "length"}
        )
    return title


def _scoped(query: SearchQuery, period_from: str, period_to: str) -> SearchQuery:
    """``query`` narrowed to the incidents of the period (its paging ignored)."""
    if query.kinds and set(query.kinds) != {Kind.INCIDENT}:
        raise ValidationError("A report counts incidents: leave the kinds of the query empty.")
    if query.date_from or query.date_to:
        raise ValidationError("Give the report's period as its own, not as the query's dates.")
    if not period_from.strip() or not period_to.strip():
        raise ValidationError("Give the report's period: where it starts and where it ends.")
    if bound(period_to, end=True) < bound(period_from, end=False):
        raise ValidationError(f"The period ends ({period_to}) before it starts ({period_from}).")
    return query.model_copy(
        update={
            "kinds": (Kind.INCIDENT,),
            "date_from": period_from.strip(),
            "date_to": period_to.strip(),
            "limit": 1,
            "offset": 0,
        }
    )


def _ids(session: Session, query: SearchQuery) -> Select[Any]:
    return select(Record.id).where(*conditions(session, query))


def _breakdown(node: Node, actor: Actor, scope: SearchQuery, vocabulary: str) -> Breakdown:
    """Top-level counts, and every term with a count under its broader term, in the
    vocabulary's order."""
    counts = {c.key: c.count for c in by_term(node, actor, scope, vocabulary, top_level=False)}
    with node.uow() as uow:
        terms = list(
            uow.session.scalars(
                select(Term).where(Term.vocabulary == vocabulary).order_by(Term.position)
            )
        )
    children: dict[str | None, list[Term]] = {}
    for term in terms:
        children.setdefault(term.parent, []).append(term)
    rows: list[TermRow] = []

    def walk(parent: str | None, depth: int) -> None:
        for term in children.get(parent, []):
            if counts.get(term.code):
                rows.append(
                    TermRow(term.code, term.label, term.reference, depth, counts[term.code])
                )
                walk(term.code, depth + 1)

    walk(None, 0)
    top = [Count(r.code, r.label, r.count) for r in rows if r.depth == 0]
    return Breakdown(vocabulary, top, rows)


def _periods(first: str, last: str, unit: str) -> list[str]:
    if unit == "year":
        return [f"{year:04d}" for year in range(int(first[:4]), int(last[:4]) + 1)]
    start = int(first[:4]) * 12 + int(first[5:7]) - 1
    end = int(last[:4]) * 12 + int(last[5:7]) - 1
    return [f"{index // 12:04d}-{index % 12 + 1:02d}" for index in range(start, end + 1)]


def _over_time(
    node: Node, actor: Actor, scope: SearchQuery, start: str, end: str
) -> tuple[str, list[Count], int, int]:
    """The unit, the counts of every period of the report (empty ones too), how many
    incidents begin before the period, and how many are counted by period at all."""
    months = (int(end[:4]) - int(start[:4])) * 12 + int(end[5:7]) - int(start[5:7]) + 1
    unit = "month" if months <= YEARLY_AFTER_MONTHS else "year"
    width = 7 if unit == "month" else 4
    counted = by_period(node, actor, scope, unit=unit)
    found = {c.key: c.count for c in counted}
    series = [Count(k, k, found.get(k, 0)) for k in _periods(start, end, unit)]
    before = sum(c.count for c in counted if c.key < start[:width])
    return unit, series, before, sum(found.values())


def _anchor(uow: UnitOfWork) -> LedgerAnchor:
    """The ledger as it stands. Its size and root are public, like its checkpoints (a
    consistency proof from the empty tree is just that, with an empty proof)."""
    tree = prove_consistency(uow, 0)
    latest = checkpoints.latest(uow.session)
    return LedgerAnchor(
        origin=checkpoints.origin(uow.session),
        size=tree.new_size,
        root=base64.b64encode(tree.new_root).decode(),
        checkpoint_size=None if latest is None else latest.size,
        checkpoint_at=None if latest is None else latest.created_at,
    )


def _settled(uow: UnitOfWork, size: int) -> bool:
    """Whether no change to records (a save, an import, a vocabulary, a field) reached the
    ledger after its first ``size`` entries. Such a change commits with its entry, and
    entries are appended in commit order, so figures read after the ledger was seen at
    ``size`` are those of the records at that size. Other entries (evidence …) do not
    matter."""
    later = uow.session.scalar(
        select(LedgerEntry.idx)
        .where(LedgerEntry.idx >= size, LedgerEntry.kind.startswith("records."))
        .limit(1)
    )
    return later is None


def _vocabularies(node: Node, actor: Actor, scope: SearchQuery) -> list[VocabularyUsed]:
    wanted = {*USED_VOCABULARIES, *(term.partition(":")[0] for term in scope.terms)}
    with node.uow() as uow:
        return [
            VocabularyUsed(row.name, row.title, row.version, row.source)
            for row in list_vocabularies(uow, actor)
            if row.name in wanted
        ]


def build_report(
    node: Node,
    actor: Actor,
    query: SearchQuery,
    *,
    title: str,
    period_from: str,
    period_to: str,
    author_organisation: str | None = None,
) -> Report:
    """The report of the incidents ``query`` finds between ``period_from`` and
    ``period_to`` (dates in the notation of :mod:`comity.records.dates`; an incident is
    in when its date overlaps the period). Read again if records changed meanwhile."""
    require(actor, Permission.RECORDS_READ)
    title = _checked_title(title)
    scope = _scoped(query, period_from, period_to)
    with node.uow() as uow:
        check_scope(uow.session, scope)
    for _attempt in range(ATTEMPTS):
        report = _gather(node, actor, scope, title, author_organisation)
        with node.uow() as uow:
            if _settled(uow, report.methodology.ledger.size):
                return report
    raise Conflict("Records kept changing while the report was made; make it again.")


def _gather(
    node: Node, actor: Actor, scope: SearchQuery, title: str, author_organisation: str | None
) -> Report:
    start, end = bound(scope.date_from, end=False), bound(scope.date_to, end=True)
    with node.uow() as uow:
        anchor = _anchor(uow)
    crimes = _breakdown(node, actor, scope, "rome-statute")
    violations = _breakdown(node, actor, scope, "violation-types")
    unit, series, before, by_periods = _over_time(node, actor, scope, start, end)
    countries = [
        Count(c.key, report_data.country_name(c.key), c.count) for c in by_place(node, actor, scope)
    ]
    regions = by_place(node, actor, scope, level="admin1")
    vocabularies = _vocabularies(node, actor, scope)
    with node.uow() as uow:
        session = uow.session
        incidents = _ids(session, scope)
        victims = report_data.victims(incidents)
        sources = report_data.sources(incidents)
        total = count_of(session, incidents)
        undated = report_data.undated(
            session, _ids(session, scope.model_copy(update={"date_from": "", "date_to": ""}))
        )
        totals = Totals(
            incidents=total,
            acts=report_data.acts(session, incidents),
            victims=count_of(session, victims),
            by_sex=counted_by(session, victims, "sex"),
            by_age_band=counted_by(session, victims, "age-bands"),
        )
        methodology = Methodology(
            sources=count_of(session, sources),
            people_as_sources=report_data.people_as_sources(session, incidents),
            by_reliability=counted_by(session, sources, "source-reliability"),
            by_credibility=counted_by(session, sources, "information-credibility"),
            vocabularies=vocabularies,
            dates=DateCoverage(
                outside_period=report_data.outside(session, incidents, start, end),
                before_chart=before,
                open_start=total - by_periods,
                undated=undated,
            ),
            generated_at=utcnow(),
            ledger=anchor,
        )
        sealer = sealer_of(node)
        lines = report_data.incident_lines(session, sealer, actor, incidents)
        organisation = " ".join((author_organisation or "").split()) or (
            local_organisation(session).name
        )
        scope_words = describe_scope(session, sealer, scope)
    return Report(
        title=title,
        author_organisation=organisation,
        period_from=scope.date_from,
        period_to=scope.date_to,
        scope=scope_words,
        totals=totals,
        crimes=crimes,
        violations=violations,
        period_unit=unit,
        by_period=series,
        by_country=countries,
        by_region=regions,
        incidents=lines,
        methodology=methodology,
    )
