"""Exports: CSV that imports again, FollowTheMoney entities valid per the model, and
nothing identifying of protected people for anyone not cleared for them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from followthemoney import model

from comity.identity.permissions import Actor
from comity.node import Node, initialise, local_operator
from comity.records import exporting
from comity.records.custom_fields import add_custom_field
from comity.records.editing import create_record
from comity.records.exporting import export_csv
from comity.records.ftm import export_ftm
from comity.records.importing import import_rows
from comity.records.searching import SearchQuery
from comity.settings import load_settings
from conftest import TEST_SECRET
from factories import audit_events

SECRET_NAME = "Layla Qasim"


@pytest.fixture
def world(node: Node, documenter: Actor) -> dict[str, str]:
    """A protected victim, a witness, a unit, an incident with an act, and a source."""
    victim = create_record(
        node,
        documenter,
        "person",
        {
            "reference": "P-1",
            "name": SECRET_NAME,
            "other_names": "Umm Sami",
            "birth_date": "1988-04",
            "address": "12 Olive Street",
            "sex": "female",
            "age": 36,
            "protected": True,
        },
    )
    witness = create_record(
        node, documenter, "person", {"reference": "P-2", "name": "Omar Said", "sex": "male"}
    )
    unit = create_record(
        node,
        documenter,
        "organisation",
        {"reference": "U-1", "name": "3rd Artillery Brigade", "organisation_type": "armed-forces"},
    )
    incident = create_record(
        node,
        documenter,
        "incident",
        {
            "reference": "INC-1",
            "title": '=HYPERLINK("http://example.org")',
            "description": "+Shells hit the covered market",
            "date": "2024-03-03T09:00/2024-03-03T10:30",
            "place": "@market",
            "country": "UA",
            "latitude": 48.5,
            "longitude": -35.25,
            "violations": ["life.conflict-killing"],
            "links": [
                {"type": "victim", "target": victim.id},
                {"type": "witness", "target": witness.id},
                {"type": "suspected_perpetrator", "target": unit.id},
            ],
        },
    )
    act = create_record(
        node, documenter, "act", {"incident": incident.id, "crimes": ["art8.2.b.i"]}
    )
    source = create_record(
        node,
        documenter,
        "source",
        {
            "name": "Radio Varesh",
            "reliability": "b",
            "links": [{"type": "related", "target": incident.id}],
        },
    )
    return {
        "victim": victim.id,
        "witness": witness.id,
        "unit": unit.id,
        "incident": incident.id,
        "act": act.id,
        "source": source.id,
    }


def csv_of(node: Node, actor: Actor, kind: str, query: SearchQuery | None = None) -> str:
    out = io.StringIO(newline="")
    export_csv(node, actor, kind, query or SearchQuery(), out, target=f"{kind}.csv")
    return out.getvalue()


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def ftm_of(node: Node, actor: Actor, query: SearchQuery | None = None) -> list[dict[str, Any]]:
    out = io.StringIO()
    export_ftm(node, actor, query or SearchQuery(), out, target="entities.ftm.json")
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture
def fresh_node(new_database: Callable[[str], str], tmp_path: Path) -> Iterator[Node]:
    settings = load_settings(
        home=tmp_path / "fresh", database_url=new_database("fresh"), secret_key=TEST_SECRET
    )
    node, _ = initialise(settings)
    yield node
    node.close()


COMPARED_OUT = (
    "id",
    "revision",
    "pseudonym",
    "created_by",
    "created_at",
    "updated_by",
    "updated_at",
)


def comparable(text: str, kind: str) -> list[dict[str, str]]:
    """What must survive a round trip: every field (and, except for people, the title)."""
    dropped = (*COMPARED_OUT, "title") if kind in ("person", "source") else COMPARED_OUT
    return [{k: v for k, v in row.items() if k not in dropped} for row in rows_of(text)]


@pytest.mark.parametrize("role", ["investigator", "analyst"])
def test_csv_round_trip_keeps_what_the_exporter_sees(
    node: Node,
    world: dict[str, str],
    fresh_node: Node,
    role: str,
    request: pytest.FixtureRequest,
) -> None:
    exporter: Actor = request.getfixturevalue(role)
    operator = local_operator()
    for kind in ("person", "organisation", "incident", "act", "source"):
        exported = csv_of(node, exporter, kind)
        headers = next(csv.reader(io.StringIO(exported)))
        report = import_rows(
            fresh_node, operator, kind, rows_of(exported), None, dry_run=False, headers=headers
        )
        assert report.problems == []
        assert report.ignored == [
            h
            for h in headers
            if h in (*COMPARED_OUT, "withheld") or (h == "title" and kind != "incident")
        ]
        again = csv_of(fresh_node, operator, kind)
        if role == "investigator" or kind != "person":
            assert comparable(again, kind) == comparable(exported, kind)
    people = {row["reference"]: row for row in rows_of(csv_of(fresh_node, operator, "person"))}
    assert (people["P-1"]["name"] == SECRET_NAME) == (role == "investigator")
    assert people["P-2"]["name"] == "Omar Said"


def test_protected_names_only_for_the_cleared(
    node: Node, world: dict[str, str], analyst: Actor, investigator: Actor
) -> None:
    seen = rows_of(csv_of(node, analyst, "person"))
    protected = next(row for row in seen if row["reference"] == "P-1")
    assert protected["name"] == protected["address"] == protected["birth_date"] == ""
    assert protected["withheld"] == "address; birth_date; name; other_names"
    assert protected["title"] == protected["pseudonym"]
    assert protected["title"].startswith("Person ")
    assert protected["sex"] == "female"
    everything = csv_of(node, analyst, "person") + csv_of(node, analyst, "incident")
    for secret in (SECRET_NAME, "Umm Sami", "Olive"):
        assert secret not in everything
    cleared = rows_of(csv_of(node, investigator, "person"))
    shown = next(row for row in cleared if row["reference"] == "P-1")
    assert (shown["name"], shown["withheld"]) == (SECRET_NAME, "")
    events = audit_events(node, "records.export")
    analyst_event, investigator_event = events[0], events[-1]
    assert analyst_event.detail["includes_protected_identifying"] is False
    assert analyst_event.detail["withheld"] == 1
    assert investigator_event.detail["includes_protected_identifying"] is True
    assert investigator_event.detail["records"] == 2
    assert SECRET_NAME not in json.dumps(investigator_event.detail)


def test_csv_cells_cannot_run_as_formulas(
    node: Node, world: dict[str, str], analyst: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exporting, "BATCH", 1)  # rows streamed across several batches
    (incident,) = rows_of(csv_of(node, analyst, "incident"))
    assert incident["title"] == '\'=HYPERLINK("http://example.org")'
    assert incident["description"] == "'+Shells hit the covered market"
    assert incident["place"] == "'@market"
    assert incident["longitude"] == "-35.25"  # a number is not a formula
    assert incident["victim"] == "ref:P-1"
    assert incident["suspected_perpetrator"] == "organisation:ref:U-1"
    (act,) = rows_of(csv_of(node, analyst, "act"))
    assert act["incident"] == "ref:INC-1"
    found = rows_of(csv_of(node, analyst, "incident", SearchQuery(text="market", date_from="2025")))
    assert found == []


def valid(entity: dict[str, Any]) -> None:
    """The entity as the model itself re-reads and cleans it: nothing dropped or changed."""
    schema = model.get(entity["schema"])
    assert schema is not None
    assert schema.validate(entity) is None
    proxy = model.get_proxy(entity, cleaned=False)
    assert proxy.to_dict()["properties"] == entity["properties"]
    assert proxy.id == entity["id"]


def test_ftm_entities_are_valid_stable_and_protect_people(
    node: Node, world: dict[str, str], analyst: Actor, investigator: Actor
) -> None:
    entities = ftm_of(node, analyst)
    for entity in entities:
        valid(entity)
    assert [e["id"] for e in ftm_of(node, analyst)] == [e["id"] for e in entities]
    by_schema: dict[str, list[dict[str, Any]]] = {}
    for entity in entities:
        by_schema.setdefault(entity["schema"], []).append(entity)
    events = {e["properties"]["name"][0]: e for e in by_schema["Event"]}
    incident = events['=HYPERLINK("http://example.org")']["properties"]
    assert incident["startDate"] == ["2024-03-03T09:00"]
    assert incident["endDate"] == ["2024-03-03T10:30"]
    assert incident["country"] == ["ua"]
    assert incident["recordId"] == ["INC-1"]
    (unit,) = by_schema["PublicBody"]
    assert incident["involved"] == [unit["id"]]
    (place,) = by_schema["Address"]
    assert incident["addressEntity"] == [place["id"]]
    assert place["properties"]["longitude"] == ["-35.25"]
    roles = sorted(e["properties"]["role"][0] for e in by_schema["UnknownLink"])
    assert roles == ["Act in incident", "Related", "Victim", "Witness"]
    people = {e["properties"]["name"][0]: e["properties"] for e in by_schema["Person"]}
    pseudonymous = next(p for name, p in people.items() if name.startswith("Person "))
    assert set(pseudonymous) == {"name", "gender", "description", "keywords", "publisher"}
    assert pseudonymous["description"] == ["Age 36"]
    assert SECRET_NAME not in json.dumps(entities, ensure_ascii=False)
    cleared = ftm_of(node, investigator)
    for entity in cleared:
        valid(entity)
    named = next(e for e in cleared if e["properties"].get("name") == [SECRET_NAME])
    assert named["id"] == pseudonymous_id(entities, pseudonymous)
    assert named["properties"]["birthDate"] == ["1988-04"]
    assert named["properties"]["alias"] == ["Umm Sami"]
    audit = audit_events(node, "records.export")[-1].detail
    assert (audit["format"], audit["entities"]) == ("ftm", len(cleared))
    assert audit["includes_protected_identifying"] is True


def pseudonymous_id(entities: list[dict[str, Any]], properties: dict[str, Any]) -> str:
    return next(e["id"] for e in entities if e["properties"] is properties)


def test_custom_fields_are_columns_and_identifying_ones_withheld(
    node: Node, documenter: Actor, analyst: Actor, investigator: Actor
) -> None:
    add_custom_field(
        node,
        local_operator(),
        kind="person",
        name="phone",
        label="Phone",
        type="text",
        identifying=True,
    )
    create_record(
        node, documenter, "person", {"name": "Noor", "phone": "+380 44", "protected": True}
    )
    (hidden,) = rows_of(csv_of(node, analyst, "person"))
    assert (hidden["phone"], hidden["withheld"]) == ("", "name; phone")
    (shown,) = rows_of(csv_of(node, investigator, "person"))
    assert shown["phone"] == "'+380 44"  # not a plain number: kept from running as a formula
