"""What each kind of record holds, and the check of every value written to it.

Five kinds: ``incident`` (what happened, when and where), ``act`` (one act or violation
within an incident, classified), ``person`` (a victim, witness, suspected perpetrator,
source or interviewer, by the links that name them), ``organisation`` (an armed group,
a state unit, an authority, with command relations) and ``source`` (where information
came from, with its reliability and credibility grades). Each kind has built-in fields;
an organisation adds its own (:class:`~comity.records.models.CustomField`) without code.

Fields marked *identifying* (a person's name, contact, address …) are sealed at rest and
shown only to people cleared for protected records when the record is protected
(:mod:`comity.records.protection`). Every write path — form, API, import — goes through
:func:`check_fields`, so a vocabulary is enforced everywhere or nowhere.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from babel import Locale

from comity.errors import ValidationError
from comity.records.dates import parse_date
from comity.records.vocabularies import TermIndex


class Kind(StrEnum):
    INCIDENT = "incident"
    ACT = "act"
    PERSON = "person"
    ORGANISATION = "organisation"
    SOURCE = "source"


class FieldType(StrEnum):
    TEXT = "text"
    LONGTEXT = "longtext"
    DATE = "date"
    INTEGER = "integer"
    LATITUDE = "latitude"
    LONGITUDE = "longitude"
    COUNTRY = "country"
    BOOLEAN = "boolean"
    TERM = "term"
    TERMS = "terms"
    RECORD = "record"
    LINKS = "links"


CUSTOM_TYPES = (
    FieldType.TEXT,
    FieldType.LONGTEXT,
    FieldType.DATE,
    FieldType.INTEGER,
    FieldType.BOOLEAN,
    FieldType.TERM,
    FieldType.TERMS,
)
# The upper age of each band of the shipped ``age-bands`` vocabulary, to derive a band
# from an age when only the age is known.
AGE_BANDS = (("infant", 1), ("child", 11), ("adolescent", 17), ("adult", 59), ("older", 130))
TEXT_LIMIT = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
LONGTEXT_LIMIT = 20_000


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: FieldType
    vocabulary: str | None = None
    identifying: bool = False
    required: bool = False
    target: Kind | None = None
    minimum: int = 0
    maximum: int = 10**9


@dataclass(frozen=True)
class LinkType:
    """A typed link from a record to a record of one of ``targets``, or to a vault item."""

    name: str
    label: str
    sources: frozenset[Kind]
    targets: frozenset[Kind]
    to_item: bool = False


_PEOPLE = frozenset({Kind.PERSON})
_EVENTS = frozenset({Kind.INCIDENT, Kind.ACT})
_ANY = frozenset(Kind)

LINK_TYPES: dict[str, LinkType] = {
    link.name: link
    for link in (
        LinkType("victim", "Victim", _EVENTS, _PEOPLE),
        LinkType("witness", "Witness", _EVENTS, _PEOPLE),
        LinkType(
            "suspected_perpetrator",
            "Suspected perpetrator",
            _EVENTS,
            frozenset({Kind.PERSON, Kind.ORGANISATION}),
        ),
        LinkType("source", "Source", _ANY, frozenset({Kind.SOURCE, Kind.PERSON})),
        LinkType("interviewer", "Interviewer", frozenset({Kind.INCIDENT, Kind.SOURCE}), _PEOPLE),
        LinkType(
            "member_of", "Member of", frozenset({Kind.PERSON}), frozenset({Kind.ORGANISATION})
        ),
        LinkType(
            "commands",
            "Commands",
            frozenset({Kind.PERSON, Kind.ORGANISATION}),
            frozenset({Kind.ORGANISATION}),
        ),
        LinkType(
            "part_of", "Part of", frozenset({Kind.ORGANISATION}), frozenset({Kind.ORGANISATION})
        ),
        LinkType("related", "Related", _ANY, _ANY),
        LinkType("evidence", "Evidence item", _ANY, frozenset(), to_item=True),
    )
}

_REFERENCE = FieldSpec("reference", "Reference", FieldType.TEXT)
_LINKS = FieldSpec("links", "Links", FieldType.LINKS)
_NOTES = FieldSpec("notes", "Notes", FieldType.LONGTEXT)
_PROTECTED = FieldSpec("protected", "Protected", FieldType.BOOLEAN)

BUILT_IN: dict[Kind, tuple[FieldSpec, ...]] = {
    Kind.INCIDENT: (
        _REFERENCE,
        FieldSpec("title", "Title", FieldType.TEXT, required=True),
        FieldSpec("description", "Description", FieldType.LONGTEXT),
        FieldSpec("date", "Date", FieldType.DATE),
        FieldSpec("place", "Place", FieldType.TEXT),
        FieldSpec("admin2", "District", FieldType.TEXT),
        FieldSpec("admin1", "Region", FieldType.TEXT),
        FieldSpec("country", "Country", FieldType.COUNTRY),
        FieldSpec("latitude", "Latitude", FieldType.LATITUDE),
        FieldSpec("longitude", "Longitude", FieldType.LONGITUDE),
        FieldSpec("precision_m", "Location precision (m)", FieldType.INTEGER, maximum=1_000_000),
        FieldSpec("event_types", "Event types", FieldType.TERMS, "conflict-event-types"),
        FieldSpec("violations", "Violations", FieldType.TERMS, "violation-types"),
        _LINKS,
    ),
    Kind.ACT: (
        _REFERENCE,
        FieldSpec("incident", "Incident", FieldType.RECORD, required=True, target=Kind.INCIDENT),
        FieldSpec("crimes", "Crimes (Rome Statute)", FieldType.TERMS, "rome-statute"),
        FieldSpec("violations", "Violations", FieldType.TERMS, "violation-types"),
        FieldSpec("date", "Date", FieldType.DATE),
        FieldSpec("description", "Description", FieldType.LONGTEXT),
        _LINKS,
    ),
    Kind.PERSON: (
        _REFERENCE,
        FieldSpec("name", "Name", FieldType.TEXT, identifying=True),
        FieldSpec("other_names", "Other names", FieldType.TEXT, identifying=True),
        FieldSpec("birth_date", "Date of birth", FieldType.DATE, identifying=True),
        FieldSpec("contact", "Contact", FieldType.TEXT, identifying=True),
        FieldSpec("address", "Address", FieldType.TEXT, identifying=True),
        FieldSpec("identifying_notes", "Identifying notes", FieldType.LONGTEXT, identifying=True),
        FieldSpec("sex", "Sex", FieldType.TERM, "sex"),
        FieldSpec("age", "Age", FieldType.INTEGER, maximum=130),
        FieldSpec("age_band", "Age band", FieldType.TERM, "age-bands"),
        FieldSpec("nationality", "Nationality", FieldType.COUNTRY),
        FieldSpec("occupation", "Occupation", FieldType.TEXT),
        _NOTES,
        _PROTECTED,
        _LINKS,
    ),
    Kind.ORGANISATION: (
        _REFERENCE,
        FieldSpec("name", "Name", FieldType.TEXT, required=True),
        FieldSpec("organisation_type", "Type", FieldType.TERM, "organisation-types"),
        FieldSpec("country", "Country", FieldType.COUNTRY),
        _NOTES,
        _LINKS,
    ),
    Kind.SOURCE: (
        _REFERENCE,
        FieldSpec("name", "Name", FieldType.TEXT, identifying=True),
        FieldSpec("contact", "Contact", FieldType.TEXT, identifying=True),
        FieldSpec("source_type", "Type of source", FieldType.TEXT),
        FieldSpec("reliability", "Reliability", FieldType.TERM, "source-reliability"),
        FieldSpec("credibility", "Credibility", FieldType.TERM, "information-credibility"),
        _NOTES,
        _PROTECTED,
        _LINKS,
    ),
}

_COUNTRIES = frozenset(
    code for code in Locale("en").territories if isinstance(code, str) and len(code) == 2
)


def fields_of(kind: Kind, custom: tuple[FieldSpec, ...] = ()) -> dict[str, FieldSpec]:
    return {spec.name: spec for spec in (*BUILT_IN[kind], *custom)}


def parse_kind(text: str) -> Kind:
    try:
        return Kind(text)
    except ValueError:
        choices = ", ".join(kind.value for kind in Kind)
        raise ValidationError(
            f"'{text}' is not a kind of record. Choose one of: {choices}."
        ) from None


class Targets(Protocol):
    """What the check asks the database: the kind of a record, whether an item exists."""

    def record_kind(self, record_id: str) -> Kind | None: ...

    def item_exists(self, item_id: str) -> bool: ...


def _refuse(spec: FieldSpec, message: str) -> ValidationError:
    return ValidationError(f"{spec.label}: {message}", fields={spec.name: message})


def _text(spec: FieldSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise _refuse(spec, "must be text.")
    limit = LONGTEXT_LIMIT if spec.type is FieldType.LONGTEXT else TEXT_LIMIT
    cleaned = value.replace("\r\n", "\n").strip()
    if spec.type is FieldType.TEXT:
        cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        raise _refuse(spec, f"is longer than {limit} characters.")
    if _CONTROL.search(cleaned):
        raise _refuse(spec, "contains control characters.")
    return cleaned


def _number(spec: FieldSpec, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _refuse(spec, "must be a number.")
    try:
        number = float(value)
    except ValueError:
        raise _refuse(spec, f"'{value}' is not a number.") from None
    if not math.isfinite(number):
        raise _refuse(spec, "must be a finite number.")
    return number


def _date(spec: FieldSpec, value: Any, _terms: TermIndex, _kept: Any) -> str:
    return parse_date(_text(spec, value)).text


def _integer(spec: FieldSpec, value: Any, _terms: TermIndex, _kept: Any) -> int:
    number = _number(spec, value)
    if number != int(number) or not spec.minimum <= number <= spec.maximum:
        raise _refuse(spec, f"must be a whole number from {spec.minimum} to {spec.maximum}.")
    return int(number)


def _coordinate(spec: FieldSpec, value: Any, _terms: TermIndex, _kept: Any) -> float:
    limit = 90.0 if spec.type is FieldType.LATITUDE else 180.0
    number = _number(spec, value)
    if not -limit <= number <= limit:
        raise _refuse(spec, f"must be between -{limit:g} and {limit:g}.")
    return round(number, 7)


def _country(spec: FieldSpec, value: Any, _terms: TermIndex, _kept: Any) -> str:
    code = _text(spec, value).upper()
    if code not in _COUNTRIES:
        raise _refuse(spec, f"'{value}' is not a two-letter country code (ISO 3166-1).")
    return code


_YES = ("yes", "true", "1")
_NO = ("no", "false", "0")


def _boolean(spec: FieldSpec, value: Any, _terms: TermIndex, _kept: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _YES + _NO:
        return value.strip().lower() in _YES
    raise _refuse(spec, "must be yes or no.")


def _kept_codes(kept: Any) -> list[str]:
    if isinstance(kept, str):
        return [kept]
    return [code for code in kept or () if isinstance(code, str)]


def _term(spec: FieldSpec, value: Any, terms: TermIndex, kept: Any) -> str:
    codes = [_code(spec, value)]
    return terms.check(spec.name, spec.vocabulary or "", codes, _kept_codes(kept))[0]


def _terms(spec: FieldSpec, value: Any, terms: TermIndex, kept: Any) -> list[str]:
    values = value if isinstance(value, list) else _split(spec, value)
    codes = [_code(spec, item) for item in values]
    return terms.check(spec.name, spec.vocabulary or "", codes, _kept_codes(kept))


def _plain_text(spec: FieldSpec, value: Any, _terms: TermIndex, _kept: Any) -> str:
    return _text(spec, value)


_SCALARS: dict[FieldType, Callable[[FieldSpec, Any, TermIndex, Any], Any]] = {
    FieldType.TEXT: _plain_text,
    FieldType.LONGTEXT: _plain_text,
    FieldType.DATE: _date,
    FieldType.INTEGER: _integer,
    FieldType.LATITUDE: _coordinate,
    FieldType.LONGITUDE: _coordinate,
    FieldType.COUNTRY: _country,
    FieldType.BOOLEAN: _boolean,
    FieldType.TERM: _term,
    FieldType.TERMS: _terms,
}


def _split(spec: FieldSpec, value: Any) -> list[str]:
    if not isinstance(value, str):
        raise _refuse(spec, "must be a list of terms.")
    return [part.strip() for part in value.split(";") if part.strip()]


def _code(spec: FieldSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise _refuse(spec, "must be a term's code.")
    code = value.strip()
    prefix = f"{spec.vocabulary}:"
    return code[len(prefix) :] if code.startswith(prefix) else code


def _empty(value: Any) -> bool:
    return value is None or value in ("", [])


def _links(kind: Kind, value: Any, targets: Targets) -> list[dict[str, str]]:
    spec = _LINKS
    if not isinstance(value, list):
        raise _refuse(spec, "must be a list of {type, target}.")
    links: list[dict[str, str]] = []
    for entry in value:
        if not isinstance(entry, Mapping) or set(entry) != {"type", "target"}:
            raise _refuse(spec, "each link is {type, target}.")
        link = LINK_TYPES.get(str(entry["type"]))
        target = str(entry["target"]).strip()
        if link is None or kind not in link.sources:
            allowed = ", ".join(n for n, t in LINK_TYPES.items() if kind in t.sources)
            raise _refuse(
                spec, f"'{entry['type']}' is not a link a {kind} can have. Allowed: {allowed}."
            )
        if link.to_item:
            if not targets.item_exists(target):
                raise _refuse(spec, f"no evidence item has the id '{target}'.")
        else:
            target_kind = targets.record_kind(target)
            if target_kind is None:
                raise _refuse(spec, f"no record has the id '{target}'.")
            if target_kind not in link.targets:
                raise _refuse(spec, f"a {link.label.lower()} link cannot point to a {target_kind}.")
        pair = {"type": link.name, "target": target}
        if pair not in links:
            links.append(pair)
    return links


def check_fields(
    kind: Kind,
    values: Mapping[str, Any],
    specs: Mapping[str, FieldSpec],
    terms: TermIndex,
    targets: Targets,
    *,
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``values`` checked and normalised for a record of ``kind``; empty values dropped.

    ``previous`` is what the record held before: its retired terms stay allowed.

    Refuses unknown fields, terms outside their vocabulary, links to records that do not
    exist or may not be linked so, and missing required fields, naming the field.
    """
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise ValidationError(
            f"A {kind} has no field '{unknown[0]}'. Its fields: {', '.join(specs)}.",
            fields={unknown[0]: "unknown field"},
        )
    previous = previous or {}
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if _empty(value):
            continue
        spec = specs[name]
        if spec.type is FieldType.LINKS:
            normalised: Any = _links(kind, value, targets)
        elif spec.type is FieldType.RECORD:
            normalised = _text(spec, value)
            if spec.target is not None and targets.record_kind(normalised) is not spec.target:
                raise _refuse(spec, f"no {spec.target} has the id '{normalised}'.")
        else:
            normalised = _SCALARS[spec.type](spec, value, terms, previous.get(name))
        if not _empty(normalised):
            checked[name] = normalised
    for spec in specs.values():
        if spec.required and _empty(checked.get(spec.name)):
            raise _refuse(spec, "is required.")
    if (checked.get("latitude") is None) != (checked.get("longitude") is None):
        raise ValidationError(
            "Give both latitude and longitude, or neither.", fields={"latitude": "needs both"}
        )
    return checked
