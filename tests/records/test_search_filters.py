"""Search filters combined with full text, each reached through an incident's acts too.

The filters are EXISTS sub-queries nested up to three deep (incident → act → victim →
the victim's facet), each correlated with the row around it; these cases pin down that
every level looks at the right record, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from comity.identity.permissions import Actor
from comity.node import Node
from comity.records.editing import create_record
from comity.records.searching import SearchQuery, search
from comity.records.statistics import by_place


def found(node: Node, actor: Actor, **query: object) -> set[str]:
    return {hit.id for hit in search(node, actor, SearchQuery.model_validate(query)).hits}


def test_text_with_filters_reached_through_acts(node: Node, documenter: Actor) -> None:
    girl = create_record(node, documenter, "person", {"name": "A", "age": 8, "sex": "female"})
    man = create_record(
        node, documenter, "person", {"name": "B", "age_band": "adult", "sex": "male"}
    )
    unit = create_record(node, documenter, "organisation", {"name": "Unit 7"})
    # The girl is a victim of the market shelling's act, not of the incident itself.
    market = create_record(
        node,
        documenter,
        "incident",
        {"title": "Shelling of the market", "admin1": "Varesh", "date": "2021-05-02"},
    )
    act = create_record(
        node,
        documenter,
        "act",
        {
            "incident": market.id,
            "crimes": ["art8.2.e.i"],
            "links": [
                {"type": "victim", "target": girl.id},
                {"type": "suspected_perpetrator", "target": unit.id},
            ],
        },
    )
    # The man is the school shelling's own victim; it has no acts.
    school = create_record(
        node,
        documenter,
        "incident",
        {
            "title": "Shelling of the school",
            "admin1": "Helgar",
            "date": "2022-01-10",
            "links": [{"type": "victim", "target": man.id}],
        },
    )
    shelling = {"text": "shelling"}
    assert found(node, documenter, **shelling) == {market.id, school.id}
    assert found(node, documenter, victim_sex="female", **shelling) == {market.id}
    assert found(node, documenter, victim_age_band="child", admin1="Varesh", **shelling) == {
        market.id
    }
    assert found(node, documenter, victim_age_band="child", admin1="Helgar", **shelling) == set()
    assert found(node, documenter, victim_sex="male", date_from="2022", **shelling) == {school.id}
    assert found(node, documenter, victim_sex="male", date_to="2021", **shelling) == set()
    assert found(node, documenter, terms=["rome-statute:art8"], victim_sex="female") == {
        market.id,
        act.id,
    }
    assert found(node, documenter, terms=["rome-statute:art8"], victim_sex="male") == set()
    assert found(node, documenter, perpetrator=unit.id, kinds=["incident"], **shelling) == {
        market.id
    }
    assert found(node, documenter, perpetrator=man.id) == set()
    # A victim's own facets never stand for the incident's: Varesh is the market's region.
    assert found(node, documenter, admin1="Varesh", victim_sex="female") == {market.id}
    # Counts cover the same scope as the search.
    scope = SearchQuery(text="shelling", victim_sex="female")
    assert [(c.key, c.count) for c in by_place(node, documenter, scope, level="admin1")] == [
        ("Varesh", 1)
    ]
    page = search(node, documenter, SearchQuery(text="shelling", victim_sex="male"))
    assert page.total == 1
    assert [hit.id for hit in page.hits] == [school.id]
