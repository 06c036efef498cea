"""What a monitoring report reads beyond the counts of :mod:`comity.records.statistics`.

The acts and victims of the incidents in scope, the victims counted by sex and age band,
the sources cited counted by reliability and credibility grade, how many incidents have
uncertain or missing dates, and the incidents themselves as lines of a list. Every
function takes the session of the caller's unit of work and the ``select`` of the ids of
the incidents in scope, so one report reads one consistent state.

People are only ever counted here. An incident line is made from the
:class:`~comity.records.viewing.RecordView` of the reporting actor and holds its date,
place, title and classification, never a field of a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from babel import Locale
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from comity.identity.permissions import Actor
from comity.records.models import Facet, Link, Record, Term
from comity.records.protection import Sealer
from comity.records.schema import Kind
from comity.records.statistics import Count
from comity.records.viewing import view_of

NOT_RECORDED = "Not recorded"
CLASSIFYING = (
    ("crimes", "rome-statute"),
    ("violations", "violation-types"),
    ("event_types", "conflict-event-types"),
)
_COUNTRY_NAMES: dict[str, str] = {
    str(code): str(name) for code, name in Locale("en").territories.items()
}


@dataclass(frozen=True)
class IncidentLine:
    date: str
    place: tuple[str, ...]
    """From the most precise part (place, district, region) to the country."""
    title: str
    classification: tuple[str, ...]


def is_country(code: str) -> bool:
    return len(code) == 2 and code in _COUNTRY_NAMES


def country_name(code: str) -> str:
    return f"{_COUNTRY_NAMES.get(code, code)} ({code})"


def acts_of(incidents: Select[Any]) -> Select[Any]:
    """The ids of the acts (not deleted) of ``incidents``."""
    return (
        select(Link.source_id)
        .join(Record, Record.id == Link.source_id)
        .where(
            Link.type == "incident",
            Link.target.in_(incidents),
            Record.kind == Kind.ACT.value,
            Record.deleted.is_(False),
        )
    )


def _linked(incidents: Select[Any], link_type: str, kind: Kind) -> Select[Any]:
    """The ids of the records of ``kind`` that ``incidents`` or their acts link to as
    ``link_type`` (each once)."""
    events = or_(Link.source_id.in_(incidents), Link.source_id.in_(acts_of(incidents)))
    return (
        select(Link.target)
        .join(Record, Record.id == Link.target)
        .where(Link.type == link_type, events, Record.kind == kind.value, Record.deleted.is_(False))
        .distinct()
    )


def count_of(session: Session, ids: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(ids.subquery())) or 0)


def _labels(session: Session, vocabulary: str) -> dict[str, str]:
    rows = session.execute(
        select(Term.code, Term.label).where(Term.vocabulary == vocabulary).order_by(Term.position)
    )
    return {str(code): str(label) for code, label in rows}


def counted_by(session: Session, ids: Select[Any], vocabulary: str) -> list[Count]:
    """The records among ``ids`` per term of ``vocabulary`` (in its order), then those
    holding none of its terms as "Not recorded"; terms nobody holds are left out."""
    labels = _labels(session, vocabulary)
    rows = session.execute(
        select(Facet.value, func.count(func.distinct(Facet.record_id)))
        .where(Facet.name == f"term:{vocabulary}", Facet.record_id.in_(ids))
        .group_by(Facet.value)
    ).all()
    counts = {str(value): int(number) for value, number in rows}
    holding = count_of(
        session,
        select(Facet.record_id)
        .where(Facet.name == f"term:{vocabulary}", Facet.record_id.in_(ids))
        .distinct(),
    )
    found = [Count(code, label, counts[code]) for code, label in labels.items() if code in counts]
    missing = count_of(session, ids) - holding
    return found + ([Count("", NOT_RECORDED, missing)] if missing else [])


def acts(session: Session, incidents: Select[Any]) -> int:
    return count_of(session, acts_of(incidents))


def victims(incidents: Select[Any]) -> Select[Any]:
    """The ids of the people linked as victims to ``incidents`` or their acts."""
    return _linked(incidents, "victim", Kind.PERSON)


def sources(incidents: Select[Any]) -> Select[Any]:
    """The ids of the source records cited by ``incidents`` or their acts."""
    return _linked(incidents, "source", Kind.SOURCE)


def people_as_sources(session: Session, incidents: Select[Any]) -> int:
    """People cited directly as sources (their testimony), who carry no grade."""
    return count_of(session, _linked(incidents, "source", Kind.PERSON))


def outside(session: Session, incidents: Select[Any], start: str, end: str) -> int:
    """Incidents whose date allows a moment outside ``start`` … ``end`` (uncertain,
    open-ended or long dates that only overlap the period)."""
    return count_of(
        session,
        select(Record.id).where(
            Record.id.in_(incidents),
            or_(
                Record.earliest.is_(None),
                Record.latest.is_(None),
                Record.earliest < start,
                Record.latest > end,
            ),
        ),
    )


def undated(session: Session, incidents: Select[Any]) -> int:
    """Incidents among ``incidents`` with no date at all."""
    return count_of(
        session,
        select(Record.id).where(
            Record.id.in_(incidents), Record.earliest.is_(None), Record.latest.is_(None)
        ),
    )


def _place(fields: dict[str, Any]) -> tuple[str, ...]:
    parts = [str(fields[name]) for name in ("place", "admin2", "admin1") if fields.get(name)]
    if fields.get("country"):
        parts.append(country_name(str(fields["country"])))
    return tuple(parts)


def _codes(fields: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for name, vocabulary in CLASSIFYING:
        value = fields.get(name) or []
        for code in [value] if isinstance(value, str) else value:
            yield vocabulary, str(code)


def incident_lines(
    session: Session, sealer: Sealer, actor: Actor, incidents: Select[Any]
) -> list[IncidentLine]:
    """The incidents, earliest first (undated last), each as the actor may see it, with
    the labels of the terms it and its acts hold (crimes, violations, event types)."""
    labels = {vocabulary: _labels(session, vocabulary) for _, vocabulary in CLASSIFYING}
    classified: dict[str, list[tuple[str, str]]] = {}
    act_rows = session.execute(
        select(Link.target, Record)
        .join(Record, Record.id == Link.source_id)
        .where(Link.source_id.in_(acts_of(incidents)), Link.type == "incident")
        .order_by(Record.key)
    )
    for incident_id, act in act_rows:
        classified.setdefault(incident_id, []).extend(_codes(view_of(act, actor, sealer).fields))
    lines: list[IncidentLine] = []
    rows = session.scalars(
        select(Record)
        .where(Record.id.in_(incidents))
        .order_by(Record.earliest.is_(None), Record.earliest, Record.key)
    )
    for record in rows:
        view = view_of(record, actor, sealer)
        codes = [*_codes(view.fields), *classified.get(record.id, [])]
        order = {vocabulary: index for index, (_, vocabulary) in enumerate(CLASSIFYING)}
        seen = sorted(dict.fromkeys(codes), key=lambda pair: order[pair[0]])
        lines.append(
            IncidentLine(
                date=str(view.fields.get("date", "")),
                place=_place(view.fields),
                title=view.title,
                classification=tuple(labels[v].get(code, code) for v, code in seen),
            )
        )
    return lines
