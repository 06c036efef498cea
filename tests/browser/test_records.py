"""A documenter records an incident from the browser, in a real headless Chromium against
the real app (scenario 1): the incident with its place, date and an evidence item, a
victim made from the incident's page and linked to it, an act classified under the Rome
Statute; then finds it by search, on the map (drawn with no internet: vendored Leaflet
and Natural Earth outlines) and on the timeline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from comity.identity.permissions import Role
from comity.node import InitReport, Node, local_operator
from comity.vault.ingest import add_file
from factories import DEFAULT_PASSWORD, make_user

pytestmark = pytest.mark.browser

TITLE = "Shelling of Varesh market"


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(url + "/")


def test_a_documenter_records_an_incident_and_finds_it_on_the_map_and_timeline(
    *,
    live_url: str,
    initialised: tuple[Node, InitReport],
    page: Page,
    console_errors: list[str],
    tmp_path: Path,
    screenshots: Path,
) -> None:
    node, _ = initialised
    make_user(node, Role.DOCUMENTER, username="amira.haddad")
    statement = tmp_path / "witness-statement.txt"
    statement.write_text("The shells came from the east at nine.\n", encoding="utf-8")
    item_id = add_file(node, local_operator(), statement).item_id
    # Nothing may come from elsewhere: every request goes to the node itself.
    outside: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(live_url) else outside.append(request.url),
    )
    sign_in(page, live_url, "amira.haddad")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Records").click()
    expect(page.get_by_role("heading", name="Records", exact=True)).to_be_visible()
    page.get_by_role("link", name="New incident").click()
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Description").fill("Shells hit the covered market in the morning.")
    page.get_by_label("Date", exact=True).fill("2024-03-03T09:00/2024-03-03T10:30")
    page.get_by_label("Country").select_option("UA")
    page.get_by_label("Latitude").fill("48.5")
    page.get_by_label("Longitude").fill("35.1")
    page.locator("#link-type-1").select_option("evidence")
    page.locator("#link-target-1").fill(item_id)
    page.get_by_label("Note on this change").fill("From the field team's first report.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
    expect(page.get_by_text("between 2024-03-03 09:00 and 2024-03-03 10:30")).to_be_visible()
    expect(page.locator(f'a[href="/evidence/{item_id}"]')).to_be_visible()
    incident_url = page.url

    # A victim, made from the incident's page, comes back to be linked.
    page.get_by_role("link", name="Victim — New person").click()
    page.locator("#field-name").fill("Rana Saleh")  # labelled "Name", "identifying"
    page.get_by_label("Age", exact=True).fill("34")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Correct the record")).to_be_visible()
    expect(page.get_by_text("Rana Saleh")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(incident_url)
    links = page.locator("section", has=page.get_by_role("heading", name="Links"))
    expect(links.get_by_role("link", name="Rana Saleh")).to_be_visible()

    # An act of the incident, classified under the Rome Statute.
    page.get_by_role("link", name="An act committed in this incident (new act)").click()
    page.get_by_label("Crimes (Rome Statute)").select_option("art8.2.b.i")
    page.get_by_label("Description").fill("Artillery fire directed at the market's stalls.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("art8.2.b.i", exact=True)).to_be_visible()
    expect(page.get_by_text("Intentionally directing attacks against the civilian")).to_be_visible()
    page.screenshot(path=str(screenshots / "records-act.png"), full_page=True)

    # Found by search, on the map and on the timeline.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Records").click()
    page.get_by_label("Words").fill("covered market")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status")).to_have_text("1 record found")
    expect(page.get_by_role("link", name=TITLE)).to_be_visible()

    page.get_by_role("navigation", name="Ways to look at these records").get_by_role(
        "link", name="Map"
    ).click()
    expect(page).to_have_url(re.compile(r"/records/map\?text=covered\+market$"))
    map_area = page.get_by_role("region", name="Map of incidents")
    expect(map_area).to_have_attribute("data-loaded", "1")
    marker = map_area.locator(".leaflet-marker-icon")
    expect(marker).to_have_count(1)
    expect(marker).to_have_attribute("title", TITLE)
    assert map_area.locator(".leaflet-overlay-pane path").count() > 100  # the outlines
    marker.click()
    expect(map_area.locator(".leaflet-popup").get_by_role("link", name=TITLE)).to_be_visible()
    expect(map_area.locator(".leaflet-zoom-anim, .leaflet-pan-anim")).to_have_count(0)
    expect(map_area.locator(".leaflet-popup")).to_have_css("opacity", "1")
    page.screenshot(path=str(screenshots / "records-map.png"), full_page=True)

    page.get_by_role("navigation", name="Ways to look at these records").get_by_role(
        "link", name="Timeline"
    ).click()
    expect(page.get_by_role("heading", name="March 2024")).to_be_visible()
    page.get_by_role("link", name=TITLE).click()
    expect(page).to_have_url(incident_url)
    assert outside == []
    assert console_errors == []
