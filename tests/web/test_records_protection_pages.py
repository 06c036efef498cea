"""A protected person on the records pages: an analyst, not cleared for protected people,
never meets their name or contact on any page or in the map's points, where an
investigator, who is cleared, sees them; a documenter who is not cleared corrects the
record without seeing, or sending back, what identifies them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from comity.node import Node
from comity.records.editing import change_record
from comity.records.viewing import get_record
from factories import MadeUser, actor_for
from web.conftest import csrf_from
from web.recording import (  # noqa: F401 - the fixtures are used by name
    MARKET,
    Browser,
    analyst_fixture,
    documenter_fixture,
    investigator_fixture,
    make,
    text_of,
)

NAME = "Layla Haddad"
CONTACT = "+380 55 123 4567"
IDENTIFYING = (NAME, "Layla", "Haddad", CONTACT)


@dataclass(frozen=True)
class Case:
    person: str
    incident: str
    act: str


@pytest.fixture
def case(node: Node, documenter: MadeUser, investigator: MadeUser) -> Case:
    """A victim named in revision 1, protected in revision 2, linked to an incident (with
    a place and a date) and its act."""
    person = make(node, documenter, "person", name=NAME, contact=CONTACT, occupation="Teacher")
    change_record(node, actor_for(investigator), person.id, {"protected": True}, base_revision=1)
    incident = make(
        node, documenter, "incident", **MARKET, links=[{"type": "victim", "target": person.id}]
    )
    act = make(
        node,
        documenter,
        "act",
        incident=incident.id,
        crimes=["art8.2.b.i"],
        links=[{"type": "victim", "target": person.id}],
    )
    return Case(person.id, incident.id, act.id)


def pages(case: Case) -> list[str]:
    return [
        "/records",
        "/records?kind=person",
        "/records?text=teacher",
        "/records/timeline",
        "/records/map",
        "/records/charts",
        f"/records/{case.person}",
        f"/records/{case.incident}",
        f"/records/{case.act}",
        f"/records/{case.person}/history",
        f"/records/{case.person}/history/1",
        f"/records/{case.person}/history/2",
        f"/records/{case.incident}/history/1",
    ]


def test_an_analyst_never_sees_a_protected_persons_name(
    node: Node, case: Case, analyst: MadeUser, signed_in: Browser
) -> None:
    browser = signed_in(analyst)
    pseudonym = get_record(node, actor_for(analyst), case.person).pseudonym
    assert pseudonym is not None
    for url in pages(case):
        page = browser.get(url)
        assert page.status_code == 200, url
        shown = text_of(page)
        for secret in IDENTIFYING:
            assert secret not in shown, (url, secret)
    assert "0 records found" in text_of(browser.get("/records?text=Layla"))
    person = text_of(browser.get(f"/records/{case.person}"))
    assert pseudonym in person
    assert "Protected" in person
    assert "these fields are withheld: Name, Contact." in person
    assert pseudonym in text_of(browser.get(f"/records/{case.incident}"))  # its victim
    assert "(withheld: protected)" in text_of(browser.get(f"/records/{case.person}/history/1"))
    points = browser.get("/records/map/points", headers={"Accept": "application/json"})
    assert [point["id"] for point in points.json()["points"]] == [case.incident]
    for secret in IDENTIFYING:
        assert secret not in points.text
    refused = browser.get(f"/records/{case.person}/edit")  # an analyst may not correct
    assert refused.status_code == 403
    assert NAME not in text_of(refused)


def test_an_investigator_sees_the_name_where_the_analyst_does_not(
    node: Node, case: Case, investigator: MadeUser, signed_in: Browser
) -> None:
    browser = signed_in(investigator)
    assert NAME in text_of(browser.get(f"/records/{case.person}"))
    assert CONTACT in text_of(browser.get(f"/records/{case.person}/history/1"))
    form = browser.get(f"/records/{case.person}/edit")
    assert f'value="{NAME}"' in text_of(form)
    assert 'name="protected" value="yes" checked' in form.text


def test_an_uncleared_documenter_corrects_a_protected_record_without_its_identity(
    node: Node, case: Case, documenter: MadeUser, investigator: MadeUser, signed_in: Browser
) -> None:
    browser = signed_in(documenter)
    form = browser.get(f"/records/{case.person}/edit")
    assert form.status_code == 200
    shown = text_of(form)
    for secret in IDENTIFYING:
        assert secret not in shown
    assert 'name="name"' not in form.text
    assert 'name="contact"' not in form.text
    assert 'name="protected"' not in form.text  # shown as set, never sent
    assert "not shown and stay as they are when you save: Name, Other names" in shown
    saved = browser.post(
        f"/records/{case.person}/edit",
        data={
            "csrf_token": csrf_from(form.text),
            "base_revision": "2",
            "occupation": "Head teacher",
            "name": "Someone else",  # posted by hand: not a field of this form, ignored
        },
    )
    assert saved.status_code == 303, saved.text
    seen = get_record(node, actor_for(investigator), case.person)
    assert seen.fields["name"] == NAME
    assert seen.fields["contact"] == CONTACT
    assert seen.fields["occupation"] == "Head teacher"
    assert seen.protected
