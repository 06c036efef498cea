"""The records pages that look at a whole search through HTTP: the search with its
filters, paging and saved searches, the timeline, the map's page and points, and the
charts, each in the scope of the same query string."""

from __future__ import annotations

import re

from comity.node import Node
from factories import MadeUser
from web.conftest import csrf_from
from web.recording import (  # noqa: F401 - the fixtures are used by name
    MARKET,
    Browser,
    analyst_fixture,
    documenter_fixture,
    make,
    text_of,
)


def test_search_with_filters_paging_and_saved_searches(
    node: Node, documenter: MadeUser, analyst: MadeUser, signed_in: Browser
) -> None:
    make(node, documenter, "incident", **MARKET)
    make(node, documenter, "incident", title="Raid on Dovra clinic", date="2023-11", country="GE")
    browser = signed_in(analyst)
    everything = text_of(browser.get("/records"))
    assert "2 records found" in everything
    assert "New incident" not in everything  # an analyst may not write
    found = text_of(browser.get("/records?text=covered"))
    assert "1 record found" in found
    assert "Shells hit the covered market in the morning." in found  # the snippet
    assert "Raid on Dovra clinic" not in found
    by_term = text_of(browser.get("/records?term=violation-types:life"))
    assert "Shelling of Varesh market" in by_term
    assert "Raid on Dovra" not in by_term
    by_date = text_of(browser.get("/records?date_from=2023-10&date_to=2023-12&country=GE"))
    assert "Raid on Dovra clinic" in by_date
    assert "Shelling of Varesh" not in by_date
    bad = browser.get("/records?date_from=March")
    assert bad.status_code == 422
    assert "'March' is not a date" in text_of(bad)
    assert 'value="March"' in bad.text  # what was typed is shown again
    page = browser.get("/records?country=UA")
    saved = browser.post(
        "/records/saved",
        data={"csrf_token": csrf_from(page.text), "name": "Ukraine", "country": "UA"},
    )
    assert saved.status_code == 303
    listed = browser.get("/records")
    assert '<a href="/records?country=UA"><bdi>Ukraine</bdi></a>' in listed.text
    again = browser.post(
        "/records/saved", data={"csrf_token": csrf_from(listed.text), "name": "Ukraine"}
    )
    assert again.status_code == 409
    assert "You already have a search named 'Ukraine'." in text_of(again)


def test_the_timeline_groups_the_incidents_in_scope_by_month_newest_first(
    node: Node, documenter: MadeUser, analyst: MadeUser, signed_in: Browser
) -> None:
    make(node, documenter, "incident", **MARKET)
    make(node, documenter, "incident", title="Raid on Dovra clinic", date="2023-11", country="GE")
    make(node, documenter, "incident", title="Arrests at Dovra", date="2023-11-20", country="GE")
    make(node, documenter, "incident", title="Undated shelling", country="UA")
    make(node, documenter, "person", name="Not an incident")
    browser = signed_in(analyst)
    shown = text_of(browser.get("/records/timeline"))
    assert "4 incidents" in shown
    assert "Not an incident" not in shown
    order = ["March 2024", "Shelling of Varesh", "November 2023", "Arrests at Dovra"]
    order += ["Raid on Dovra", "No earliest date", "Undated shelling"]
    positions = [shown.index(text) for text in order]
    assert positions == sorted(positions)
    scoped = text_of(browser.get("/records/timeline?country=GE"))
    assert "2 incidents" in scoped
    assert "Shelling of Varesh" not in scoped
    assert 'href="/records/map?country=GE"' in scoped  # the other views keep the scope


def test_the_map_points_are_the_located_incidents_in_scope(
    node: Node, documenter: MadeUser, analyst: MadeUser, signed_in: Browser
) -> None:
    market = make(node, documenter, "incident", **MARKET)
    make(node, documenter, "incident", title="No place known", date="2024-03-04", country="UA")
    tbilisi = make(
        node, documenter, "incident", title="Tbilisi", country="GE", latitude=41.7, longitude=44.8
    )
    browser = signed_in(analyst)
    page = browser.get("/records/map?country=UA")
    assert page.status_code == 200
    assert "1 incident of this search has a location." in text_of(page)
    assert 'data-points="/records/map/points?country=UA"' in page.text
    assert 'src="/static/records-map.js"' in page.text
    points = browser.get("/records/map/points?country=UA", headers={"Accept": "application/json"})
    assert points.json() == {
        "total": 1,
        "points": [
            {
                "id": market.id,
                "title": MARKET["title"],
                "date": MARKET["date"],
                "latitude": 48.5,
                "longitude": 35.1,
            }
        ],
    }
    every = browser.get("/records/map/points").json()
    assert {point["id"] for point in every["points"]} == {market.id, tbilisi.id}
    json = {"Accept": "application/json"}
    refused = browser.get("/records/map/points?date_to=soon", headers=json)
    assert refused.status_code == 422
    assert refused.json()["error"] == "validation_error"


def test_the_map_works_with_no_internet(node: Node, analyst: MadeUser, signed_in: Browser) -> None:
    browser = signed_in(analyst)
    page = browser.get("/records/map")
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        assert browser.get(asset).status_code == 200, asset
    assert "http://" not in page.text.split("<main")[1]
    assert "https://" not in page.text.split("<main")[1]
    outlines = browser.get("/static/vendor/world-atlas-2.0.2/countries-110m.json").json()
    assert outlines["type"] == "Topology"


def test_charts_count_the_records_in_scope_by_violation_time_and_place(
    node: Node, documenter: MadeUser, analyst: MadeUser, signed_in: Browser
) -> None:
    market = make(node, documenter, "incident", **MARKET)
    make(node, documenter, "act", incident=market.id, crimes=["art8.2.b.i", "art8.2.b.ii"])
    make(
        node,
        documenter,
        "incident",
        title="Raid on Dovra clinic",
        date="2023-11",
        country="GE",
        admin1="<b>Shida</b> Kartli",
        violations=["detention"],
    )
    browser = signed_in(analyst)
    page = browser.get("/records/charts")
    assert page.status_code == 200
    assert page.text.count('role="img"') == 5
    shown = text_of(page)
    assert "War crimes: 1." in shown  # the incident once, through its act's two crimes
    assert "Violations of the right to life: 1; Arbitrary arrest and detention: 1." in shown
    assert "2023-11: 1; 2023-12: 0; 2024-01: 0; 2024-02: 0; 2024-03: 1." in shown
    assert "Ukraine: 1; Georgia: 1." in shown or "Georgia: 1; Ukraine: 1." in shown
    assert "<b>Shida</b>" not in page.text  # a region typed by someone is only text
    assert "&lt;b&gt;Shida&lt;/b&gt; Kartli" in page.text
    scoped = text_of(browser.get("/records/charts?country=GE"))
    assert "War crimes: " not in scoped
    assert "Arbitrary arrest and detention: 1." in scoped
    assert "No record of this search has one." in scoped  # none has a Rome Statute crime
    bad = browser.get("/records/charts?date_from=soon")
    assert bad.status_code == 422
    assert 'role="img"' not in bad.text
