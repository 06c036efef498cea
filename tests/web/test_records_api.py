"""The records API: vocabularies enforced on the API path, protection on every response,
stale changes refused, history and restore, vocabularies and custom fields, and the audit
trail and logs free of protected values."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from comity.audit.models import AuditEvent
from comity.identity.permissions import Role
from comity.node import Node
from comity.records.models import Record, Revision
from factories import MadeUser, make_user

Api = Callable[[MadeUser], TestClient]
SECRET_NAME = "Yusra Qadir"


@pytest.fixture
def documenter(api: Api, node: Node) -> TestClient:
    return api(make_user(node, Role.DOCUMENTER))


@pytest.fixture
def analyst(api: Api, node: Node) -> TestClient:
    return api(make_user(node, Role.ANALYST))


@pytest.fixture
def investigator(api: Api, node: Node) -> TestClient:
    return api(make_user(node, Role.INVESTIGATOR))


def counts(node: Node) -> tuple[int, int]:
    with node.uow() as uow:
        return (
            uow.session.scalar(select(func.count()).select_from(Record)) or 0,
            uow.session.scalar(select(func.count()).select_from(Revision)) or 0,
        )


def test_a_term_outside_its_vocabulary_is_refused_with_the_choices(
    node: Node, documenter: TestClient
) -> None:
    incident = documenter.post(
        "/api/v1/records", json={"kind": "incident", "fields": {"title": "x"}}
    )
    assert incident.status_code == 201
    before = counts(node)
    refused = documenter.post(
        "/api/v1/records",
        json={
            "kind": "act",
            "fields": {"incident": incident.json()["id"], "crimes": ["art8.2.b.1"]},
        },
    )
    assert refused.status_code == 422
    body = refused.json()
    assert body["fields"] == {"crimes": "not in rome-statute"}
    assert "art8.2.b.i" in body["message"]
    assert counts(node) == before
    unknown = documenter.post("/api/v1/records", json={"kind": "weapon", "fields": {}})
    assert unknown.status_code == 422


def test_protected_people_are_withheld_in_every_response(
    documenter: TestClient,
    analyst: TestClient,
    investigator: TestClient,
    caplog: pytest.LogCaptureFixture,
    node: Node,
) -> None:
    with caplog.at_level(logging.DEBUG):
        person = documenter.post(
            "/api/v1/records",
            json={
                "kind": "person",
                "fields": {
                    "name": SECRET_NAME,
                    "contact": "+000 555 0100",
                    "protected": True,
                    "sex": "female",
                },
                "note": "Fears reprisals",
            },
        ).json()
        record_id = person["id"]
        incident = documenter.post(
            "/api/v1/records",
            json={
                "kind": "incident",
                "fields": {
                    "title": "Raid on the clinic",
                    "links": [{"type": "witness", "target": record_id}],
                },
            },
        ).json()
        changed = investigator.patch(
            f"/api/v1/records/{record_id}",
            json={"base_revision": 1, "changes": {"name": SECRET_NAME + " Q."}},
        )
        assert changed.status_code == 200
        responses = [
            analyst.get(f"/api/v1/records/{record_id}"),
            analyst.get(f"/api/v1/records/{incident['id']}"),
            analyst.post("/api/v1/records/search", json={"text": "clinic"}),
            analyst.post("/api/v1/records/search", json={"kinds": ["person"]}),
            analyst.get(f"/api/v1/records/{record_id}/revisions"),
            analyst.get(f"/api/v1/records/{record_id}/revisions/1/changes"),
            analyst.get(f"/api/v1/records/{record_id}/revisions/2/changes"),
        ]
    for response in responses:
        assert response.status_code == 200, response.text
        assert "Yusra" not in response.text
        assert "555 0100" not in response.text
    seen = responses[0].json()
    assert seen["withheld"] == ["contact", "name"]
    assert seen["title"] == seen["pseudonym"]
    assert responses[6].json() == [
        {"field": "name", "before": "(withheld: protected)", "after": "(withheld: protected)"}
    ]
    cleared = investigator.get(f"/api/v1/records/{record_id}").json()
    assert cleared["fields"]["name"] == SECRET_NAME + " Q."
    assert "Yusra" not in caplog.text
    with node.uow() as uow:
        details = " ".join(str(e.detail) for e in uow.session.scalars(select(AuditEvent)))
    assert "Yusra" not in details
    # The uncleared may neither change nor unprotect what they cannot see.
    assert (
        analyst.patch(
            f"/api/v1/records/{record_id}", json={"base_revision": 2, "changes": {"notes": "x"}}
        ).status_code
        == 403
    )
    blind = documenter.patch(
        f"/api/v1/records/{record_id}",
        json={"base_revision": 2, "changes": {"name": "Someone else"}},
    )
    assert blind.status_code == 403
    lifted = documenter.patch(
        f"/api/v1/records/{record_id}", json={"base_revision": 2, "changes": {"protected": False}}
    )
    assert lifted.status_code == 403
    fine = documenter.patch(
        f"/api/v1/records/{record_id}",
        json={"base_revision": 2, "changes": {"notes": "Moved away"}},
    )
    assert fine.status_code == 200
    assert (
        investigator.get(f"/api/v1/records/{record_id}").json()["fields"]["name"]
        == SECRET_NAME + " Q."
    )


def test_stale_changes_history_and_restore(documenter: TestClient) -> None:
    made = documenter.post(
        "/api/v1/records",
        json={"kind": "incident", "fields": {"title": "Convoy", "date": "2024-02"}},
    ).json()
    url = f"/api/v1/records/{made['id']}"
    assert (
        documenter.patch(url, json={"base_revision": 1, "changes": {"date": "2024-03"}}).status_code
        == 200
    )
    stale = documenter.patch(url, json={"base_revision": 1, "changes": {"date": "2024-04"}})
    assert stale.status_code == 409
    assert "revision 2" in stale.json()["message"]
    restored = documenter.post(f"{url}/restore", json={"revision": 1, "base_revision": 2})
    assert restored.json()["fields"]["date"] == "2024-02"
    history = documenter.get(f"{url}/revisions").json()
    assert [(h["number"], h["restored_from"]) for h in history] == [(1, None), (2, None), (3, 1)]
    gone = documenter.post(f"{url}/delete", json={"base_revision": 3, "note": "Entered twice"})
    assert gone.json()["deleted"] is True
    assert documenter.get("/api/v1/records/nope").status_code == 404


def test_vocabularies_custom_fields_and_saved_searches(
    api: Api, node: Node, analyst: TestClient
) -> None:
    listed = analyst.get("/api/v1/vocabularies").json()
    assert "rome-statute" in {v["name"] for v in listed}
    rome = analyst.get("/api/v1/vocabularies/rome-statute").json()
    assert any(t["code"] == "art8bis" for t in rome["terms"])
    assert analyst.get("/api/v1/vocabularies/none").status_code == 404
    admin = api(make_user(node, Role.ADMINISTRATOR))
    added = admin.post(
        "/api/v1/vocabularies",
        json={
            "name": "weapons",
            "version": "1",
            "title": "Weapons",
            "terms": [{"code": "mortar", "label": "Mortar"}],
        },
    )
    assert added.status_code == 201
    assert added.json()["added"] == 1
    assert analyst.post("/api/v1/vocabularies", json={}).status_code in (403, 422)
    field = admin.post(
        "/api/v1/records/custom-fields",
        json={
            "kind": "incident",
            "name": "weapon",
            "label": "Weapon",
            "type": "term",
            "vocabulary": "weapons",
        },
    )
    assert field.status_code == 201
    assert [f["name"] for f in analyst.get("/api/v1/records/custom-fields").json()] == ["weapon"]
    saved = analyst.post(
        "/api/v1/records/saved-searches", json={"name": "Clinics", "query": {"text": "clinic"}}
    )
    assert saved.status_code == 201
    assert analyst.get("/api/v1/records/saved-searches").json()["Clinics"]["text"] == "clinic"
    again = analyst.post("/api/v1/records/saved-searches", json={"name": "Clinics", "query": {}})
    assert again.status_code == 409


def test_json_import_is_all_or_nothing_with_every_problem_listed(
    node: Node, documenter: TestClient, analyst: TestClient
) -> None:
    rows = [
        {"reference": "P-1", "Name": "Amira Haddad", "sex": "female", "age": 34},
        {"reference": "P-2", "Name": "Yusuf Tamer", "sex": "dragon", "age": 7},
        {"reference": "P-3", "Name": "Lina Farouk", "age": "old"},
    ]
    before = counts(node)
    refused = documenter.post("/api/v1/records/import", json={"kind": "person", "rows": rows})
    assert refused.status_code == 422
    body = refused.json()
    assert body["committed"] is False
    assert body["rows"] == 3
    assert [(p["row"], p["column"]) for p in body["problems"]] == [(3, "sex"), (4, "age")]
    assert "female" in body["problems"][0]["message"]
    assert counts(node) == before

    good = [row for row in rows if row["reference"] == "P-1"]
    dry = documenter.post(
        "/api/v1/records/import", json={"kind": "person", "rows": good, "dry_run": True}
    )
    assert dry.status_code == 200
    assert (dry.json()["committed"], dry.json()["problems"]) == (False, [])
    assert counts(node) == before

    forbidden = analyst.post("/api/v1/records/import", json={"kind": "person", "rows": good})
    assert forbidden.status_code == 403
    assert counts(node) == before

    done = documenter.post(
        "/api/v1/records/import",
        json={"kind": "person", "rows": good, "mapping": {"Name": "name"}},
    )
    assert done.status_code == 200, done.text
    assert (done.json()["committed"], done.json()["created"]) == (True, 1)
    assert counts(node) == (before[0] + 1, before[1] + 1)
    found = documenter.post("/api/v1/records/search", json={"text": "Haddad"}).json()
    assert found["total"] == 1
