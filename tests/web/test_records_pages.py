"""The records pages that make and correct records, through HTTP: the forms (vocabularies
enforced, refusals shown with nothing saved, stale forms refused, links to records and
evidence, a victim made from an incident's page), a record's page, its history, diffs
and restoring. The pages that look at a whole search are in ``test_records_views.py``,
a protected person on every page in ``test_records_protection_pages.py``."""

from __future__ import annotations

import re

from sqlalchemy import select

from comity.identity.permissions import Role
from comity.node import Node
from comity.records.models import Link
from comity.records.viewing import get_record
from factories import MadeUser, actor_for, make_user
from web.conftest import csrf_from
from web.recording import (  # noqa: F401 - the fixtures are used by name
    MARKET,
    Browser,
    analyst_fixture,
    counts,
    documenter_fixture,
    evidence_item_fixture,
    make,
    text_of,
)


def test_records_are_in_the_navigation_of_those_who_may_read_them(
    node: Node, documenter: MadeUser, signed_in: Browser
) -> None:
    nav = signed_in(documenter).get("/").text.split('aria-label="Main"')[1].split("</nav>")[0]
    assert 'href="/records"' in nav
    caseworker = make_user(node, Role.CASEWORKER, username="case")
    nav = signed_in(caseworker).get("/").text.split('aria-label="Main"')[1].split("</nav>")[0]
    assert 'href="/records"' not in nav
    assert signed_in(caseworker).get("/records").status_code == 403


def test_an_incident_made_with_the_form_shows_its_fields_with_labels(
    node: Node, documenter: MadeUser, signed_in: Browser
) -> None:
    browser = signed_in(documenter)
    form = browser.get("/records/new/incident")
    assert form.status_code == 200
    assert "2024-03-03T09:00/2024-03-03T10:30" in text_of(form)  # the date help
    assert '<optgroup label="Violations of the right to life">' in form.text
    posted = browser.post(
        "/records/new/incident",
        data={
            "csrf_token": csrf_from(form.text),
            "title": "Shelling of Varesh market",
            "date": "about 2024-03",
            "country": "UA",
            "latitude": "48.5",
            "longitude": "35.1",
            "violations": ["life", "life.extrajudicial-execution"],
            "note": "From two witnesses.",
        },
    )
    assert posted.status_code == 303, posted.text
    record_id = posted.headers["location"].rsplit("/", 1)[1]
    page = browser.get(posted.headers["location"])
    shown = text_of(page)
    assert "Shelling of Varesh market" in shown
    assert "2024-03~" in shown
    assert "between 2024-02-01 00:00 and 2024-04-30 23:59" in shown
    assert "Extrajudicial, summary or arbitrary execution" in shown  # a term by its label
    assert "<code>life.extrajudicial-execution</code>" in page.text
    assert "Ukraine" in shown
    assert f'href="/records/{record_id}/edit"' in page.text
    history = text_of(browser.get(f"/records/{record_id}/history"))
    assert "From two witnesses." in history
    assert "amira" in history


def test_a_term_outside_the_vocabulary_is_refused_on_the_form_and_nothing_saved(
    node: Node, documenter: MadeUser, signed_in: Browser
) -> None:
    incident = make(node, documenter, "incident", title="Market")
    browser = signed_in(documenter)
    form = browser.get(f"/records/new/act?incident={incident.id}")
    assert f'value="{incident.id}"' in form.text  # the incident comes filled in
    before = counts(node)
    refused = browser.post(
        "/records/new/act",
        data={
            "csrf_token": csrf_from(form.text),
            "incident": incident.id,
            "crimes": ["art8.2.b.1"],  # posted by hand: no such option on the form
            "description": "Shells fired at the market",
        },
    )
    assert refused.status_code == 422
    shown = text_of(refused)
    assert "'art8.2.b.1' is not a term of the vocabulary 'rome-statute'" in shown
    allowed = shown.split("Allowed: ")[1].split(" … ")[0].split(", ")
    assert "art8.2.b.i" in allowed  # the allowed choices, the closest first
    assert "Nothing was saved." in shown
    assert re.search(r'class="field field-error">\s*<label for="field-crimes"', refused.text)
    assert 'id="field-crimes" name="crimes" multiple size="8" aria-invalid="true"' in refused.text
    assert "Shells fired at the market" in shown  # what was typed is shown again
    assert counts(node) == before


def test_a_refused_correction_keeps_what_was_typed_and_saves_nothing(
    node: Node, documenter: MadeUser, signed_in: Browser
) -> None:
    incident = make(node, documenter, "incident", **MARKET)
    browser = signed_in(documenter)
    form = browser.get(f"/records/{incident.id}/edit")
    assert 'name="base_revision" value="1"' in form.text
    before = counts(node)
    refused = browser.post(
        f"/records/{incident.id}/edit",
        data={
            "csrf_token": csrf_from(form.text),
            "base_revision": "1",
            "title": "Shelling of the old market",
            "date": "the third of March",
            "country": "UA",
        },
    )
    assert refused.status_code == 422
    assert "is not a date. Write a date as 2024-03-03" in text_of(refused)
    assert 'value="Shelling of the old market"' in refused.text
    assert counts(node) == before
    assert get_record(node, actor_for(documenter), incident.id).title == MARKET["title"]


def test_a_stale_form_is_refused_as_a_conflict_and_asks_for_a_reload(
    node: Node, documenter: MadeUser, signed_in: Browser
) -> None:
    incident = make(node, documenter, "incident", **MARKET)
    colleague = make_user(node, Role.DOCUMENTER, username="karim")
    mine, theirs = signed_in(documenter), signed_in(colleague)
    my_form = mine.get(f"/records/{incident.id}/edit")
    their_form = theirs.get(f"/records/{incident.id}/edit")
    saved = theirs.post(
        f"/records/{incident.id}/edit",
        data={"csrf_token": csrf_from(their_form.text), "base_revision": "1", "title": "Theirs"},
    )
    assert saved.status_code == 303
    before = counts(node)
    stale = mine.post(
        f"/records/{incident.id}/edit",
        data={"csrf_token": csrf_from(my_form.text), "base_revision": "1", "title": "Mine"},
    )
    assert stale.status_code == 409
    shown = text_of(stale)
    assert "reload it and make the change again" in shown
    assert f'href="/records/{incident.id}/edit">Reload the record' in stale.text
    # Shown again, the form still starts from revision 1: sending it again is refused too.
    assert 'name="base_revision" value="1"' in stale.text
    assert counts(node) == before
    assert get_record(node, actor_for(documenter), incident.id).title == "Theirs"


def test_more_link_rows_and_links_to_records_and_evidence(
    node: Node, documenter: MadeUser, signed_in: Browser, evidence_item: str
) -> None:
    victim = make(node, documenter, "person", name="Samir Haddad")
    browser = signed_in(documenter)
    form = browser.get("/records/new/incident")
    assert form.text.count('name="link_target"') == 2
    data = {
        "csrf_token": csrf_from(form.text),
        "title": "Raid on Varesh clinic",
        "link_type": ["victim", ""],
        "link_target": [victim.id, ""],
        "more_links": "1",
    }
    before = counts(node)
    more = browser.post("/records/new/incident", data=data)
    assert more.status_code == 200
    assert more.text.count('name="link_target"') == 3
    assert counts(node) == before
    data.pop("more_links")
    data["link_type"] = ["victim", "evidence", ""]
    data["link_target"] = [victim.id, evidence_item, ""]
    created = browser.post("/records/new/incident", data=data)
    assert created.status_code == 303, created.text
    page = browser.get(created.headers["location"])
    assert f'href="/records/{victim.id}"><bdi>Samir Haddad</bdi></a>' in text_of(page)
    assert f'href="/evidence/{evidence_item}"' in page.text
    person = text_of(browser.get(f"/records/{victim.id}"))
    assert "Raid on Varesh clinic" in person  # linked from
    assert "Victim" in person


def test_a_new_person_made_from_an_incident_comes_back_to_be_linked(
    node: Node, documenter: MadeUser, signed_in: Browser
) -> None:
    incident = make(node, documenter, "incident", title="Market")
    browser = signed_in(documenter)
    offer = f"/records/new/person?for_record={incident.id}&amp;for_link=victim"
    assert offer in browser.get(f"/records/{incident.id}").text
    form = browser.get(offer.replace("&amp;", "&"))
    created = browser.post(
        "/records/new/person",
        data={
            "csrf_token": csrf_from(form.text),
            "name": "Rana Saleh",
            "for_record": incident.id,
            "for_link": "victim",
        },
    )
    assert created.status_code == 303
    location = created.headers["location"]
    assert location.startswith(f"/records/{incident.id}/edit?add_link=victim%3A")
    person_id = location.rsplit("%3A", 1)[1]
    edit = browser.get(location)
    assert f'value="{person_id}"' in edit.text
    assert "Rana Saleh" in text_of(edit)
    saved = browser.post(
        f"/records/{incident.id}/edit",
        data={
            "csrf_token": csrf_from(edit.text),
            "base_revision": "1",
            "title": "Market",
            "link_type": ["victim", ""],
            "link_target": [person_id, ""],
        },
    )
    assert saved.status_code == 303
    with node.uow() as uow:
        links = uow.session.scalars(select(Link.target).where(Link.source_id == incident.id))
        assert list(links) == [person_id]


def test_history_diff_and_restoring_a_revision(
    node: Node, documenter: MadeUser, signed_in: Browser
) -> None:
    incident = make(node, documenter, "incident", **MARKET)
    browser = signed_in(documenter)
    form = browser.get(f"/records/{incident.id}/edit")
    browser.post(
        f"/records/{incident.id}/edit",
        data={
            "csrf_token": csrf_from(form.text),
            "base_revision": "1",
            "title": "Shelling of the covered market",
            "violations": ["life", "detention"],
            "note": "Renamed after the second visit.",
        },
    )
    history = browser.get(f"/records/{incident.id}/history")
    shown = text_of(history)
    assert "Renamed after the second visit." in shown
    assert "Title, " in shown  # the fields changed, by label
    # Newest first, each with a link to what it changed.
    assert history.text.index("/history/2") < history.text.index("/history/1")
    diff = browser.get(f"/records/{incident.id}/history/2")
    changed = text_of(diff)
    assert "Shelling of Varesh market" in changed
    assert "Shelling of the covered market" in changed
    assert "Arbitrary arrest and detention" in changed  # a term by its label
    assert "Varesh central market" in changed  # the place, cleared by the form
    csrf = csrf_from(diff.text)
    restored = browser.post(
        f"/records/{incident.id}/history/1/restore", data={"csrf_token": csrf, "base_revision": "2"}
    )
    assert restored.status_code == 303
    view = get_record(node, actor_for(documenter), incident.id)
    assert (view.revision, view.title) == (3, MARKET["title"])
    assert view.fields["place"] == MARKET["place"]
    assert "restores 1" in text_of(browser.get(f"/records/{incident.id}/history"))
    stale = browser.post(
        f"/records/{incident.id}/history/2/restore", data={"csrf_token": csrf, "base_revision": "2"}
    )
    assert stale.status_code == 409
    assert "reload it" in text_of(stale)
    forged = browser.post(f"/records/{incident.id}/history/2/restore", data={"base_revision": "3"})
    assert forged.status_code == 403
    assert get_record(node, actor_for(documenter), incident.id).revision == 3


def test_an_act_lists_its_incident_among_its_links(
    node: Node, documenter: MadeUser, signed_in: Browser
) -> None:
    incident = make(node, documenter, "incident", title="Raid on Varesh clinic")
    act = make(node, documenter, "act", incident=incident.id, crimes=["art8.2.e.iv"])
    page = text_of(signed_in(documenter).get(f"/records/{act.id}"))
    links = page[page.index('id="links-heading"') : page.index("Linked from")]
    assert f'href="/records/{incident.id}"><bdi>Raid on Varesh clinic</bdi></a>' in links
    assert "This record links to no other record." not in links
