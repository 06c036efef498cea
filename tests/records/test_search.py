"""Search: any script with or without diacritics, filters, snippets that protect people.

The suite runs on SQLite and on PostgreSQL (``.ci/run`` runs it twice), and every
assertion here names the exact records expected, so both engines must agree.
"""

from __future__ import annotations

import pytest

from comity.errors import ValidationError
from comity.identity.permissions import Actor
from comity.node import Node
from comity.records.editing import change_record, create_record, delete_record
from comity.records.searching import SearchQuery, search

TEXTS = {
    "arabic": ("قصف السوق المركزي", "سقطت قذائف على المدرسة الابتدائية في الصباح"),
    "arabic_vowelled": ("قَصْفُ المَدْرَسَةِ", "أُصيبَ طِفلٌ"),
    "ukrainian": ("Обстріл ринку в Харкові", "Снаряди влучили в школу та лікарню"),
    "french": (
        "Frappe sur l'école élémentaire",
        "Des éclats ont blessé trois élèves près de l'hôpital",
    ),
}


@pytest.fixture
def corpus(node: Node, documenter: Actor) -> dict[str, str]:
    return {
        key: create_record(
            node, documenter, "incident", {"title": title, "description": description}
        ).id
        for key, (title, description) in TEXTS.items()
    }


def found(node: Node, actor: Actor, **query: object) -> set[str]:
    return {hit.id for hit in search(node, actor, SearchQuery.model_validate(query)).hits}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("المدرسة", {"arabic", "arabic_vowelled"}),  # vowels ignored, ta marbuta folded
        ("المَدرسة", {"arabic", "arabic_vowelled"}),
        ("اصيب", {"arabic_vowelled"}),  # hamza on alef folded
        ("قصف", {"arabic", "arabic_vowelled"}),
        ("школу", {"ukrainian"}),
        ("ШКОЛ", {"ukrainian"}),  # prefix, any case
        ("харкові", {"ukrainian"}),
        ("ecole", {"french"}),
        ("École ÉLÈVES", {"french"}),
        ("hopital", {"french"}),
        ("école ринку", set()),  # every word must match
        ("zzz", set()),
    ],
)
def test_full_text_in_any_script_with_or_without_diacritics(
    node: Node, analyst: Actor, corpus: dict[str, str], text: str, expected: set[str]
) -> None:
    assert found(node, analyst, text=text) == {corpus[key] for key in expected}


def test_the_index_follows_changes_and_deletions(node: Node, documenter: Actor) -> None:
    record = create_record(node, documenter, "incident", {"title": "Checkpoint detention"})
    assert found(node, documenter, text="checkpoint") == {record.id}
    change_record(node, documenter, record.id, {"title": "Roadblock detention"}, base_revision=1)
    assert found(node, documenter, text="checkpoint") == set()
    assert found(node, documenter, text="roadblock") == {record.id}
    delete_record(node, documenter, record.id, base_revision=2, note="Entered twice.")
    assert found(node, documenter, text="roadblock") == set()


def test_pages_give_the_total_of_matches_even_past_the_end(
    node: Node, documenter: Actor, analyst: Actor
) -> None:
    made = [
        create_record(
            node, documenter, "incident", {"title": f"Roadblock {n}", "date": f"202{n}"}
        ).id
        for n in range(5)
    ]
    pages = [
        search(node, analyst, SearchQuery(text="roadblock", limit=2, offset=offset))
        for offset in (0, 2, 4, 6)
    ]
    assert [page.total for page in pages] == [5, 5, 5, 5]
    assert [hit.id for page in pages for hit in page.hits] == made[::-1]
    assert pages[-1].hits == []


def test_term_labels_are_searchable(node: Node, documenter: Actor) -> None:
    record = create_record(
        node,
        documenter,
        "incident",
        {"title": "Varesh", "event_types": ["indirect-fire.artillery-mortar"]},
    )
    assert found(node, documenter, text="artillery") == {record.id}


def test_filters_by_term_date_place_perpetrator_and_victims(node: Node, documenter: Actor) -> None:
    child = create_record(node, documenter, "person", {"name": "A", "age": 9, "sex": "female"})
    adult = create_record(
        node, documenter, "person", {"name": "B", "age_band": "adult", "sex": "male"}
    )
    unit = create_record(node, documenter, "organisation", {"name": "Unit 12"})
    market = create_record(
        node,
        documenter,
        "incident",
        {
            "title": "Market",
            "date": "2024-03-03T09:00/2024-03-03T10:30",
            "country": "UA",
            "admin1": "Kharkiv oblast",
            "latitude": 49.99,
            "longitude": 36.23,
            "links": [{"type": "victim", "target": child.id}],
        },
    )
    create_record(
        node,
        documenter,
        "act",
        {
            "incident": market.id,
            "crimes": ["art8.2.b.i"],
            "links": [{"type": "suspected_perpetrator", "target": unit.id}],
        },
    )
    school = create_record(
        node,
        documenter,
        "incident",
        {
            "title": "School",
            "date": "about 2023-06",
            "country": "SY",
            "links": [{"type": "victim", "target": adult.id}],
        },
    )
    undated = create_record(node, documenter, "incident", {"title": "Undated"})
    incidents = {"kinds": ["incident"]}
    # A broader term finds the incident through its act.
    assert found(node, documenter, terms=["rome-statute:art8"], **incidents) == {market.id}
    assert found(node, documenter, terms=["rome-statute:art7"], **incidents) == set()
    assert found(node, documenter, date_from="2024", **incidents) == {market.id}
    assert found(node, documenter, date_to="2023-07", **incidents) == {school.id}
    assert found(node, documenter, date_from="2023-05-20", date_to="2023-05-25", **incidents) == {
        school.id
    }
    assert undated.id not in found(node, documenter, date_to="2030", **incidents)
    assert found(node, documenter, country="ua", **incidents) == {market.id}
    assert found(node, documenter, admin1="Kharkiv oblast") == {market.id}
    assert found(node, documenter, bbox=[49, 35, 51, 37]) == {market.id}
    assert found(node, documenter, perpetrator=unit.id, **incidents) == {market.id}
    assert len(found(node, documenter, perpetrator=unit.id)) == 2  # the act and its incident
    assert found(node, documenter, victim_age_band="child") == {market.id}  # derived from age 9
    assert found(node, documenter, victim_sex="male") == {school.id}
    page = search(node, documenter, SearchQuery(kinds=("incident",)))
    assert [hit.id for hit in page.hits] == [market.id, school.id, undated.id]  # newest first
    assert page.total == 3


def test_protected_names_never_reach_snippets_or_results(
    node: Node, documenter: Actor, investigator: Actor, analyst: Actor
) -> None:
    witness = create_record(
        node,
        documenter,
        "person",
        {"name": "Karim Haddad", "notes": "Saw the launch site.", "protected": True},
    )
    open_person = create_record(node, documenter, "person", {"name": "Lena Haddad"})
    assert found(node, analyst, text="haddad") == {open_person.id}
    assert found(node, investigator, text="karim") == set()  # never indexed
    (hit,) = search(node, analyst, SearchQuery(text="launch")).hits
    assert hit.id == witness.id
    assert "Karim" not in hit.title + hit.snippet
    assert hit.title == witness.title
    assert hit.title.startswith("Person ")
    assert found(node, analyst, text=witness.title) == {witness.id}  # by pseudonym


def test_a_query_with_nothing_to_look_for_is_refused(node: Node, analyst: Actor) -> None:
    with pytest.raises(ValidationError):
        search(node, analyst, SearchQuery(text="!!! ..."))
