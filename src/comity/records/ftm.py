"""Exporting records as FollowTheMoney entities, for Aleph and other investigative tools.

FollowTheMoney (FtM) is OCCRP's model of people, organisations, events and the links
between them. :func:`export_ftm` writes the records a search finds as FtM entities, one
JSON object per line (``entity.to_dict()``), built with the ``followthemoney`` library
so that every property exists in the model and every value is cleaned by it. The
mapping is documented in ``docs/formats/ftm.md``:

* an incident or an act is an ``Event`` (its title, dates, place, description, terms as
  keywords, suspected perpetrators as ``involved``; coordinates in an ``Address``);
* a person is a ``Person``, an organisation a ``PublicBody`` (state forces and
  authorities), a ``Company`` (businesses) or an ``Organization``, and a source a
  ``LegalEntity``;
* a membership or a unit's place in a larger one is a ``Membership``; every other link
  (victim, witness, source, interviewer, commands, related, an act's incident) an
  ``UnknownLink`` whose ``role`` names it. Links to evidence items are not exported.

Each entity is made from the exporter's :class:`~comity.records.viewing.RecordView`: a
protected person's name is replaced by the pseudonym, and no other identifying field is
written, unless the exporter is cleared. Entity ids are stable: a hash of this node's key
fingerprint and the record's id (and, for a link, its type and target), so a second
export of the same records updates the same entities.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from followthemoney import model
from followthemoney.proxy import EntityProxy
from followthemoney.util import make_entity_id

from comity.identity.permissions import Actor, Permission, require
from comity.node import Node
from comity.records.exporting import ExportReport, audit_export, records_in_scope
from comity.records.schema import LINK_TYPES, Kind
from comity.records.searching import SearchQuery
from comity.records.viewing import RecordView, sealer_of, view_of
from comity.records.vocabularies import TermIndex

# The roots of the organisation-types vocabulary that are parts of a state.
STATE_ROOTS = frozenset(
    {"armed-forces", "police", "intelligence", "border", "detention", "paramilitary", "government"}
)
GENDERS = {"female": "female", "male": "male", "intersex": "other"}
MEMBERSHIPS = frozenset({"member_of", "part_of"})
_POINT = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2}(?:T\d{2}:\d{2})?)?)?$")


def _moment(stamp: str, *, end: bool) -> str:
    """An interval's first or last minute, as a day when it is the whole day."""
    whole_day = stamp.endswith("T23:59" if end else "T00:00")
    return stamp[:10] if whole_day else stamp


def _terms(terms: TermIndex, vocabulary: str, codes: Any) -> list[str]:
    return [
        terms.label(vocabulary, code) for code in ([codes] if isinstance(codes, str) else codes)
    ]


class Entities:
    """Makes the FtM entities of records for one export."""

    def __init__(self, prefix: str, terms: TermIndex, publisher: str) -> None:
        self.prefix = prefix
        self.terms = terms
        self.publisher = publisher

    def entity_id(self, *parts: str) -> str:
        made = make_entity_id(*parts, key_prefix=self.prefix)
        assert made is not None  # noqa: S101 - parts are never empty
        return made

    def _new(self, schema: str, *parts: str) -> EntityProxy:
        entity = model.make_entity(schema)
        entity.id = self.entity_id(*parts)
        return entity

    def of(self, view: RecordView) -> Iterator[EntityProxy]:
        """The entity of the record, then those of its links (and its place)."""
        kind = Kind(view.kind)
        fields = view.fields
        if kind in (Kind.INCIDENT, Kind.ACT):
            main = self._event(view)
            if kind is Kind.INCIDENT and "latitude" in fields:
                place = self._place(view, main)
                main.add("addressEntity", place.id)
                yield place
        elif kind is Kind.PERSON:
            main = self._person(view)
        elif kind is Kind.ORGANISATION:
            main = self._organisation(view)
        else:
            main = self._source(view)
        if "reference" in fields and main.schema.get("recordId") is None:
            main.add("keywords", f"reference {fields['reference']}")
        main.add("publisher", self.publisher)
        yield main
        if kind is Kind.ACT and "incident" in fields:
            yield self._link(view.id, "incident", str(fields["incident"]), "Act in incident")
        for link in fields.get("links", []):
            if link["type"] == "suspected_perpetrator" and main.schema.is_a("Event"):
                continue  # an Event's "involved"
            if not LINK_TYPES[link["type"]].to_item:
                yield self._link(view.id, link["type"], link["target"], None)

    def _event(self, view: RecordView) -> EntityProxy:
        fields = view.fields
        event = self._new("Event", "record", view.id)
        event.add("name", view.title)
        date = str(fields.get("date", ""))
        if _POINT.match(date):
            event.add("date", date)
        else:
            event.add("startDate", view.earliest and _moment(view.earliest, end=False))
            event.add("endDate", view.latest and _moment(view.latest, end=True))
        event.add("country", fields.get("country"))
        place = ", ".join(str(fields[n]) for n in ("place", "admin2", "admin1") if n in fields)
        event.add("location", place or None)
        event.add("summary", fields.get("description"))
        event.add("recordId", fields.get("reference"))
        for name, vocabulary in (
            ("event_types", "conflict-event-types"),
            ("violations", "violation-types"),
            ("crimes", "rome-statute"),
        ):
            event.add("keywords", _terms(self.terms, vocabulary, fields.get(name, [])))
        event.add(
            "involved",
            [
                self.entity_id("record", link["target"])
                for link in fields.get("links", [])
                if link["type"] == "suspected_perpetrator"
            ],
        )
        return event

    def _place(self, view: RecordView, event: EntityProxy) -> EntityProxy:
        fields = view.fields
        place = self._new("Address", "place", view.id)
        place.add("full", event.get("location") or view.title)
        place.add("latitude", str(fields["latitude"]))
        place.add("longitude", str(fields["longitude"]))
        place.add("country", fields.get("country"))
        return place

    def _person(self, view: RecordView) -> EntityProxy:
        fields = view.fields
        person = self._new("Person", "record", view.id)
        person.add("name", fields.get("name") or view.pseudonym)
        person.add("alias", fields.get("other_names"))
        birth = str(fields.get("birth_date", ""))
        person.add("birthDate", birth if _POINT.match(birth) else None)
        person.add("address", fields.get("address"))
        person.add("gender", GENDERS.get(str(fields.get("sex"))))
        person.add("nationality", fields.get("nationality"))
        person.add("profession", fields.get("occupation"))
        about = [f"Age {fields['age']}"] if "age" in fields else []
        about += _terms(self.terms, "age-bands", fields.get("age_band", []))
        person.add("description", "; ".join(about) or None)
        self._notes(person, fields, view.protected)
        return person

    def _organisation(self, view: RecordView) -> EntityProxy:
        fields = view.fields
        code = str(fields.get("organisation_type", ""))
        root = code.split(".", maxsplit=1)[0]
        schema = "PublicBody" if root in STATE_ROOTS else "Company" if root == "business" else None
        organisation = self._new(schema or "Organization", "record", view.id)
        organisation.add("name", view.title)
        organisation.add("country", fields.get("country"))
        if code:
            organisation.add("classification", self.terms.label("organisation-types", code))
        self._notes(organisation, fields, view.protected)
        return organisation

    def _source(self, view: RecordView) -> EntityProxy:
        fields = view.fields
        source = self._new("LegalEntity", "record", view.id)
        source.add("name", fields.get("name") or view.pseudonym)
        source.add("classification", fields.get("source_type"))
        grades = [
            f"{label}: {self.terms.label(vocabulary, str(fields[name]))}"
            for name, label, vocabulary in (
                ("reliability", "Reliability", "source-reliability"),
                ("credibility", "Credibility", "information-credibility"),
            )
            if name in fields
        ]
        source.add("description", "; ".join(grades) or None)
        self._notes(source, fields, view.protected)
        return source

    @staticmethod
    def _notes(entity: EntityProxy, fields: Mapping[str, Any], protected: bool) -> None:
        """Notes, and the identifying notes and contact where the view holds them."""
        entity.add("notes", fields.get("notes"))
        entity.add("notes", fields.get("identifying_notes"))
        if "contact" in fields:
            entity.add("notes", f"Contact: {fields['contact']}")
        if protected:
            entity.add("keywords", "protected")

    def _link(self, source: str, link_type: str, target: str, role: str | None) -> EntityProxy:
        label = role or LINK_TYPES[link_type].label
        if link_type in MEMBERSHIPS:
            link = self._new("Membership", "link", source, link_type, target)
            link.add("member", self.entity_id("record", source))
            link.add("organization", self.entity_id("record", target))
        else:
            link = self._new("UnknownLink", "link", source, link_type, target)
            link.add("subject", self.entity_id("record", source))
            link.add("object", self.entity_id("record", target))
        link.add("role", label)
        link.add("publisher", self.publisher)
        return link


def export_ftm(
    node: Node, actor: Actor, query: SearchQuery, out: TextIO, *, target: str = ""
) -> ExportReport:
    """Write the records ``query`` finds (every kind, unless it names some) to ``out`` as
    FtM entities, one JSON object a line, as ``actor`` may see them; audited."""
    require(actor, Permission.RECORDS_READ)
    kinds = query.kinds or tuple(Kind)
    sealer = sealer_of(node)
    report = ExportReport(format="ftm", kinds=tuple(kind.value for kind in kinds))
    prefix = "comity-" + node.keys.fingerprint().replace(" ", "")
    with node.uow() as uow:
        session = uow.session
        entities = Entities(prefix, TermIndex(session), node.settings.node_name)
        for batch in records_in_scope(session, query, kinds):
            for record in batch:
                view = view_of(record, actor, sealer)
                for entity in entities.of(view):
                    out.write(json.dumps(entity.to_dict(), ensure_ascii=False, sort_keys=True))
                    out.write("\n")
                    report.entities += 1
                report.count(view, record)
        audit_export(session, actor, report, query, target)
        uow.commit()
    return report
