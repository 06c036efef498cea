"""Creating and changing records: every write checked, every save a revision on the ledger."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from comity.errors import Conflict, PermissionDenied, ValidationError
from comity.identity.permissions import Actor, cli_actor
from comity.ledger.models import LedgerEntry
from comity.node import Node
from comity.records.custom_fields import add_custom_field, list_custom_fields
from comity.records.editing import change_record, create_record, delete_record, restore_revision
from comity.records.models import Facet, Link, Record, Revision
from comity.records.viewing import diff, get_record, history
from factories import audit_events

VARESH = {
    "title": "Shelling of Varesh market",
    "description": "Shells hit the covered market in the morning.",
    "date": "2024-03-03T09:00/2024-03-03T10:30",
    "place": "Varesh central market",
    "admin2": "Varesh district",
    "country": "UA",
    "latitude": 48.5,
    "longitude": 35.1,
    "event_types": ["indirect-fire.artillery-mortar"],
}


def counts(node: Node) -> tuple[int, int, int]:
    with node.uow() as uow:
        s = uow.session
        return (
            s.scalar(select(func.count()).select_from(Record)) or 0,
            s.scalar(select(func.count()).select_from(Revision)) or 0,
            s.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
        )


def test_an_incident_is_created_as_revision_one_on_the_ledger(
    node: Node, documenter: Actor
) -> None:
    before = counts(node)
    view = create_record(node, documenter, "incident", VARESH)
    assert view.revision == 1
    assert view.title == "Shelling of Varesh market"
    assert (view.earliest, view.latest) == ("2024-03-03T09:00", "2024-03-03T10:30")
    assert counts(node) == (before[0] + 1, before[1] + 1, before[2] + 1)
    with node.uow() as uow:
        entry = uow.session.scalar(select(LedgerEntry).order_by(LedgerEntry.idx.desc()))
        assert entry is not None
        body = entry.entry.decode()
        assert '"records.revision"' in body
        assert "Varesh" not in body  # the content is only a salted commitment
        facets = set(
            uow.session.execute(select(Facet.name, Facet.value).where(Facet.record_id == view.id))
        )
    assert ("country", "UA") in facets
    assert audit_events(node, "records.create")


def test_a_term_outside_its_vocabulary_is_refused_with_the_choices(
    node: Node, documenter: Actor
) -> None:
    incident = create_record(node, documenter, "incident", {"title": "x"})
    before = counts(node)
    with pytest.raises(ValidationError) as refused:
        create_record(node, documenter, "act", {"incident": incident.id, "crimes": ["art8.2.b.1"]})
    assert "art8.2.b.i" in refused.value.message  # the closest allowed choice is offered
    assert refused.value.fields == {"crimes": "not in rome-statute"}
    assert counts(node) == before
    with pytest.raises(ValidationError) as by_word:
        create_record(node, documenter, "incident", {"title": "x", "event_types": "shelling"})
    offered = by_word.value.message.split("Allowed: ")[1].split(", ")
    assert "indirect-fire.artillery-mortar" in offered[:3]  # its label says "shelling"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x", "country": "Narnia"}, "country"),
        ({"title": "x", "latitude": 91, "longitude": 0}, "latitude"),
        ({"title": "x", "latitude": 10}, "latitude"),
        ({"title": "x", "date": "last spring"}, None),
        ({"title": "x", "colour": "red"}, "colour"),
        ({"title": "x", "links": [{"type": "victim", "target": "nobody"}]}, "links"),
        ({"title": "x", "description": "bad\x00byte"}, "description"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(
    node: Node, documenter: Actor, values: dict[str, object], field: str | None
) -> None:
    before = counts(node)
    with pytest.raises(ValidationError) as refused:
        create_record(node, documenter, "incident", values)
    if field is not None:
        assert field in refused.value.fields
    assert counts(node) == before


def test_links_name_people_in_roles_and_acts_belong_to_incidents(
    node: Node, documenter: Actor
) -> None:
    victim = create_record(
        node, documenter, "person", {"name": "Mira K.", "sex": "female", "age": 9}
    )
    unit = create_record(node, documenter, "organisation", {"name": "3rd Artillery Brigade"})
    incident = create_record(
        node,
        documenter,
        "incident",
        {
            **VARESH,
            "links": [
                {"type": "victim", "target": victim.id},
                {"type": "suspected_perpetrator", "target": unit.id},
            ],
        },
    )
    act = create_record(
        node,
        documenter,
        "act",
        {
            "incident": incident.id,
            "crimes": ["art8.2.b.i"],
            "links": [{"type": "victim", "target": victim.id}],
        },
    )
    assert act.title == "Act (art8.2.b.i)"
    with pytest.raises(ValidationError, match="cannot point to a organisation"):
        create_record(
            node,
            documenter,
            "act",
            {"incident": incident.id, "links": [{"type": "victim", "target": unit.id}]},
        )
    with pytest.raises(ValidationError, match="no incident"):
        create_record(node, documenter, "act", {"incident": victim.id})
    seen = get_record(node, documenter, victim.id)
    assert {(link["type"], link["source"]) for link in seen.linked_from} == {
        ("victim", incident.id),
        ("victim", act.id),
    }
    with node.uow() as uow:
        facets = set(
            uow.session.execute(select(Facet.name, Facet.value).where(Facet.record_id == act.id))
        )
        links = set(
            uow.session.execute(select(Link.type, Link.target).where(Link.source_id == act.id))
        )
    # A crime is found under its broader terms too: war crimes, art. 8(2)(b).
    assert {
        ("term:rome-statute", "art8.2.b.i"),
        ("term:rome-statute", "art8.2.b"),
        ("term:rome-statute", "art8"),
    } <= facets
    assert ("incident", incident.id) in links


def test_a_correction_keeps_the_old_value_in_the_history(
    node: Node, documenter: Actor, analyst: Actor
) -> None:
    incident = create_record(node, documenter, "incident", VARESH)
    corrected = change_record(
        node,
        documenter,
        incident.id,
        {"date": "2024-03-04T09:00/2024-03-04T10:30"},
        base_revision=1,
        note="Witness 2 confirmed the date.",
    )
    assert corrected.revision == 2
    assert corrected.earliest == "2024-03-04T09:00"
    revisions = history(node, analyst, incident.id)
    assert [(r.number, r.changed) for r in revisions] == [
        (1, tuple(sorted(VARESH))),
        (2, ("date",)),
    ]
    assert revisions[1].note == "Witness 2 confirmed the date."
    (change,) = diff(node, analyst, incident.id, 2)
    assert (change.name, change.before, change.after) == (
        "date",
        VARESH["date"],
        "2024-03-04T09:00/2024-03-04T10:30",
    )


def test_nothing_is_silently_overwritten(node: Node, documenter: Actor) -> None:
    incident = create_record(node, documenter, "incident", VARESH)
    change_record(node, documenter, incident.id, {"place": "Market square"}, base_revision=1)
    with pytest.raises(Conflict, match="revision 2"):
        change_record(node, documenter, incident.id, {"place": "Bus station"}, base_revision=1)
    assert get_record(node, documenter, incident.id).fields["place"] == "Market square"


def test_restore_and_delete_are_revisions_too(node: Node, documenter: Actor) -> None:
    incident = create_record(node, documenter, "incident", VARESH)
    change_record(node, documenter, incident.id, {"title": "Wrong", "place": ""}, base_revision=1)
    restored = restore_revision(node, documenter, incident.id, 1, base_revision=2)
    assert restored.revision == 3
    assert restored.fields == get_record(node, documenter, incident.id).fields
    assert restored.fields["title"] == VARESH["title"]
    assert restored.fields["place"] == VARESH["place"]
    with pytest.raises(ValidationError, match="why"):
        delete_record(node, documenter, incident.id, base_revision=3, note=" ")
    gone = delete_record(node, documenter, incident.id, base_revision=3, note="Duplicate of INC-7.")
    assert gone.deleted
    before = counts(node)
    with pytest.raises(Conflict, match="deleted"):
        change_record(node, documenter, incident.id, {"title": "Revived"}, base_revision=4)
    with pytest.raises(Conflict, match="deleted"):
        delete_record(node, documenter, incident.id, base_revision=4, note="Again.")
    assert counts(node) == before
    assert get_record(node, documenter, incident.id).deleted
    back = restore_revision(node, documenter, incident.id, 3, base_revision=4)
    assert not back.deleted
    assert [r.restored_from for r in history(node, documenter, incident.id)] == [
        None,
        None,
        1,
        None,
        3,
    ]


def test_revisions_are_append_only(node: Node, documenter: Actor) -> None:
    incident = create_record(node, documenter, "incident", VARESH)
    with node.engine.connect() as connection, pytest.raises(Exception, match="append-only"):
        connection.execute(text("UPDATE records_revisions SET note = 'x'"))
    with node.engine.connect() as connection, pytest.raises(Exception, match="append-only"):
        connection.execute(
            text("DELETE FROM records_revisions WHERE record_id = :r"), {"r": incident.id}
        )


def test_reading_and_writing_need_their_permissions(node: Node, analyst: Actor) -> None:
    with pytest.raises(PermissionDenied):
        create_record(node, analyst, "incident", VARESH)


def test_references_are_unique_per_kind(node: Node, documenter: Actor) -> None:
    create_record(node, documenter, "incident", {**VARESH, "reference": "INC-2024-031"})
    with pytest.raises(ValidationError, match="INC-2024-031"):
        create_record(node, documenter, "incident", {"title": "Other", "reference": "INC-2024-031"})
    create_record(node, documenter, "organisation", {"name": "Unit", "reference": "INC-2024-031"})


def test_custom_fields_join_the_schema_and_identifying_ones_are_protected(
    node: Node, documenter: Actor, analyst: Actor, investigator: Actor
) -> None:
    admin = cli_actor("admin")
    add_custom_field(
        node,
        admin,
        kind="person",
        name="tribe",
        label="Tribe or clan",
        type="text",
        identifying=True,
    )
    add_custom_field(
        node, admin, kind="incident", name="weather", label="Weather", type="term", vocabulary="sex"
    )
    with pytest.raises(ValidationError, match="built-in"):
        add_custom_field(node, admin, kind="person", name="name", label="Name", type="text")
    with pytest.raises(ValidationError, match="vocabulary"):
        add_custom_field(node, admin, kind="person", name="clan2", label="Clan", type="term")
    with pytest.raises(PermissionDenied):
        add_custom_field(node, documenter, kind="person", name="clan3", label="Clan", type="text")
    person = create_record(
        node, documenter, "person", {"name": "Z", "tribe": "Hill clan", "protected": True}
    )
    assert "tribe" in get_record(node, analyst, person.id).withheld
    assert get_record(node, investigator, person.id).fields["tribe"] == "Hill clan"
    with pytest.raises(ValidationError, match="weather"):
        create_record(node, documenter, "incident", {"title": "x", "weather": "sunny"})
    assert [f.name for f in list_custom_fields(node, analyst)] == ["weather", "tribe"]


def test_reading_a_protected_persons_names_in_a_diff_is_audited(
    node: Node, documenter: Actor, investigator: Actor, analyst: Actor
) -> None:
    person = create_record(
        node, documenter, "person", {"name": "Yusra Qadir", "sex": "female", "protected": True}
    )
    change_record(node, investigator, person.id, {"name": "Yusra Q."}, base_revision=1)
    hidden = diff(node, analyst, person.id, 2)
    assert [(c.name, c.before, c.after) for c in hidden] == [
        ("name", "(withheld: protected)", "(withheld: protected)")
    ]
    assert audit_events(node, "records.read_protected") == []
    shown = diff(node, investigator, person.id, 2)
    assert [(c.name, c.before, c.after) for c in shown] == [("name", "Yusra Qadir", "Yusra Q.")]
    (event,) = audit_events(node, "records.read_protected")
    assert (event.target_id, event.detail["fields"]) == (person.id, ["name"])
    assert "Yusra" not in str(event.detail)
