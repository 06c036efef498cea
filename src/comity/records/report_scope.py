"""A report's scope and dates in words, for readers who do not know Comity.

:func:`describe_scope` says in sentences which incidents a report covers (its period,
place, classification and other filters); :func:`date_in_words` reads a date of the
notation of :mod:`comity.records.dates` aloud ("about 2024-03", "before 2024-03-03").
A suspected perpetrator in the scope is named only when it is an organisation; a person
appears by pseudonym.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.errors import ValidationError
from comity.records.dates import STAMP, bound
from comity.records.models import Record, Term
from comity.records.protection import Sealer
from comity.records.report_data import country_name, is_country
from comity.records.schema import Kind
from comity.records.searching import SearchQuery

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def date_in_words(text: str) -> str:
    """A stored date as a reader outside would say it."""
    text = text.replace("T", " ")
    if text.endswith("~"):
        return f"about {text[:-1]}"
    start, slash, end = text.partition("/")
    if not slash:
        return text
    if start == "..":
        return f"before {end}"
    if end == "..":
        return f"after {start}"
    return f"{start} to {end}"


def long_date(stamp: str, *, with_time: bool = False) -> str:
    """``2024-03-31T23:59`` as ``31 March 2024`` (with ``23:59`` if asked)."""
    moment = dt.datetime.strptime(stamp, STAMP)  # noqa: DTZ007 - local time of the place, as written
    day = f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"
    return f"{day}, {moment:%H:%M}" if with_time else day


def _label(session: Session, vocabulary: str, code: str) -> str:
    label = session.scalar(
        select(Term.label).where(Term.vocabulary == vocabulary, Term.code == code)
    )
    return label or code


def _perpetrator(session: Session, sealer: Sealer, record_id: str) -> str:
    row = session.execute(select(Record.kind, Record.title).where(Record.id == record_id)).first()
    if row is None:
        return f"a record that does not exist ({record_id})"
    kind, title = row
    if kind == Kind.ORGANISATION.value:
        return f"the organisation “{title}”"
    return f"the person recorded as {sealer.pseudonym(kind, record_id)}"


def check_scope(session: Session, scope: SearchQuery) -> None:
    """Refuse a country or a term that does not exist: in a report's scope it is a typo,
    and would quietly count nothing."""
    if scope.country and not is_country(scope.country.strip().upper()):
        raise ValidationError(
            f"'{scope.country}' is not a two-letter country code (ISO 3166-1), e.g. SY.",
            fields={"country": "unknown"},
        )
    for term in scope.terms:
        vocabulary, _, code = term.partition(":")
        known = session.scalar(
            select(Term.code).where(Term.vocabulary == vocabulary, Term.code == code)
        )
        if known is None:
            raise ValidationError(
                f"The vocabulary '{vocabulary}' has no term '{code}' ({term}).",
                fields={"terms": "unknown"},
            )


def describe_scope(session: Session, sealer: Sealer, scope: SearchQuery) -> list[str]:
    """One sentence per condition of ``scope``, the period first."""
    start, end = bound(scope.date_from, end=False), bound(scope.date_to, end=True)
    timed = "T" in scope.date_from or "T" in scope.date_to
    lines = [
        f"Incidents whose date falls in, or overlaps, the period from "
        f"{long_date(start, with_time=timed)} to {long_date(end, with_time=timed)} "
        f"(given as {scope.date_from} to {scope.date_to})."
    ]
    if scope.country:
        lines.append(f"In {country_name(scope.country.strip().upper())}.")
    if scope.admin1:
        lines.append(f"In the region (first-level administrative division) {scope.admin1}.")
    for term in scope.terms:
        vocabulary, _, code = term.partition(":")
        lines.append(
            f"Classified as {_label(session, vocabulary, code)} ({term}) or a narrower term, "
            "on the incident itself or on one of its acts."
        )
    if scope.text.strip():
        lines.append(f"Whose text holds the words: {scope.text.strip()}.")
    if scope.bbox is not None:
        south, west, north, east = scope.bbox
        lines.append(
            f"Located between latitudes {south:g} and {north:g} and longitudes {west:g} "
            f"and {east:g}."
        )
    if scope.perpetrator:
        lines.append(
            f"With, as suspected perpetrator, {_perpetrator(session, sealer, scope.perpetrator)}."
        )
    if scope.victim_sex:
        lines.append(f"With a victim recorded as {_label(session, 'sex', scope.victim_sex)}.")
    if scope.victim_age_band:
        band = _label(session, "age-bands", scope.victim_age_band)
        lines.append(f"With a victim in the age band {band}.")
    if len(lines) == 1:
        lines.append("All incidents documented on this node, with no other condition.")
    return lines
