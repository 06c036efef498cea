"""Counts for charts and reports: by term (through acts), by period, by place."""

from __future__ import annotations

from comity.identity.permissions import Actor
from comity.node import Node
from comity.records.editing import create_record
from comity.records.searching import SearchQuery
from comity.records.statistics import by_period, by_place, by_term


def test_counts_follow_the_scope_of_a_search(node: Node, documenter: Actor) -> None:
    def incident(title: str, date: str, country: str, crimes: list[str]) -> None:
        made = create_record(
            node, documenter, "incident", {"title": title, "date": date, "country": country}
        )
        for crime in crimes:
            create_record(node, documenter, "act", {"incident": made.id, "crimes": [crime]})

    incident("A", "2024-01-05", "UA", ["art8.2.b.i", "art8.2.b.ii"])
    incident("B", "2024-03", "UA", ["art7.1.a"])
    incident("C", "2023-12-31", "SY", ["art8.2.e.i"])
    incidents = SearchQuery(kinds=("incident",))
    # A counts once under war crimes although two of its acts are war crimes.
    assert [(c.key, c.count) for c in by_term(node, documenter, incidents, "rome-statute")] == [
        ("art7", 1),
        ("art8", 2),
    ]
    assert [(c.key, c.count) for c in by_period(node, documenter, incidents)] == [
        ("2023-12", 1),
        ("2024-01", 1),
        ("2024-02", 0),
        ("2024-03", 1),
    ]
    assert [(c.key, c.count) for c in by_period(node, documenter, incidents, unit="year")] == [
        ("2023", 1),
        ("2024", 2),
    ]
    assert [(c.key, c.count) for c in by_place(node, documenter, incidents)] == [
        ("UA", 2),
        ("SY", 1),
    ]
    in_2024 = SearchQuery(kinds=("incident",), date_from="2024")
    assert [(c.key, c.count) for c in by_term(node, documenter, in_2024, "rome-statute")] == [
        ("art7", 1),
        ("art8", 1),
    ]
