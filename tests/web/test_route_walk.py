"""Walk every route of the app: anonymous callers are refused except on a reviewed
allowlist, and each role gets exactly what the permission table grants.

Every route either is public (listed here and in ``comity.web.guards``), is self-service
for any signed-in person (listed here), or names the permission its service checks in
its ``x-comity-permission`` metadata. A new route that is none of these fails the walk.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from comity.audit.models import AuditEvent
from comity.identity.models import ApiToken, Organisation, User
from comity.identity.organisations import add_peer
from comity.identity.permissions import ROLE_PERMISSIONS, Role
from comity.ledger.checkpoints import make_checkpoint
from comity.node import Node, local_operator
from comity.records.editing import create_record
from comity.vault.ingest import add_file
from comity.vault.models import VaultItem
from comity.web.guards import PUBLIC_API, PUBLIC_PAGES
from factories import make_user
from web.conftest import api_token_for, csrf_from, sign_in
from web.pictures import png_bytes

# Reviewed: reachable without signing in.
PUBLIC = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/language"),
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/ledger/checkpoint"),
    ("GET", "/api/v1/ledger/proof/consistency"),
    ("POST", "/api/v1/ledger/cosignatures"),
    ("GET", "/api/v1/node/descriptor"),
    ("POST", "/api/v1/exchange/envelopes"),
    ("POST", "/api/v1/exchange/payloads"),
    ("PUT", "/api/v1/exchange/payloads/{payload_id}/chunks/{number}"),
    ("GET", "/api/v1/exchange/payloads/{payload_id}"),
    ("GET", "/api/v1/openapi.json"),
}
# Reviewed: any signed-in person, about themselves only.
SELF_SERVICE = {
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/roles"),
    ("POST", "/logout"),
    ("GET", "/account/password"),
    ("POST", "/account/password"),
    ("GET", "/account/second-factor"),
    ("POST", "/account/second-factor"),
    ("GET", "/login/second-factor"),
    ("POST", "/login/second-factor"),
}
API_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/users"): {"username": "walker", "roles": ["analyst"]},
    ("PUT", "/api/v1/users/{user_id}/roles"): {"roles": ["analyst"]},
    ("POST", "/api/v1/organisations"): {"name": "Walk Org", "kind": "ngo"},
    ("PUT", "/api/v1/organisations/{organisation_id}"): {"name": "Renamed", "kind": "court"},
    ("POST", "/api/v1/tokens"): {"name": "walk", "scopes": ["node:view"], "days": 1},
    ("POST", "/api/v1/evidence/uploads"): {"name": "walk.txt", "size": 5},
    ("POST", "/api/v1/records/search"): {"text": "walk"},
    ("POST", "/api/v1/records"): {"kind": "incident", "fields": {"title": "Walk"}},
    ("POST", "/api/v1/records/import"): {"kind": "incident", "rows": [{"title": "Walk"}]},
    ("POST", "/api/v1/records/saved-searches"): {"name": "walk", "query": {"text": "walk"}},
    ("POST", "/api/v1/records/custom-fields"): {
        "kind": "incident",
        "name": "walk_field",
        "label": "Walk",
        "type": "text",
    },
    ("PATCH", "/api/v1/records/{record_id}"): {"base_revision": 1, "changes": {"place": "Walk"}},
    ("POST", "/api/v1/records/{record_id}/restore"): {"revision": 1, "base_revision": 99},
    ("POST", "/api/v1/records/{record_id}/delete"): {"base_revision": 99, "note": "walk"},
    ("POST", "/api/v1/vocabularies"): {
        "name": "walk",
        "version": "1",
        "title": "Walk",
        "terms": [{"code": "a", "label": "A"}],
    },
}
# Page routes that the pages' scripts call with JSON and the CSRF token in a header.
PAGE_JSON: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/evidence/uploads"): {"name": "walk.txt", "size": 5},
}
API_QUERIES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/ledger/entries"): "?start=0&end=1",
    ("GET", "/api/v1/ledger/proof/inclusion"): "?index=0",
}
PAGE_FORMS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/users"): {"username": "walker", "roles": ["analyst"]},
    ("POST", "/users/{user_id}/roles"): {"roles": ["analyst"]},
    ("POST", "/organisations"): {"name": "Walk Org", "kind": "ngo"},
    ("POST", "/organisations/{organisation_id}"): {"name": "Renamed", "kind": "court"},
    ("POST", "/account/tokens"): {"name": "walk", "scopes": ["node:view"], "days": "1"},
    ("POST", "/records/saved"): {"name": "walk"},
    ("POST", "/records/new/{kind}"): {"title": "Walked"},
    ("POST", "/records/{record_id}/edit"): {"base_revision": "1", "title": "Walked"},
    ("POST", "/records/{record_id}/history/{number}/restore"): {"base_revision": "1"},
}


def routes(app: FastAPI) -> list[tuple[str, str, str | None]]:
    """(method, path, permission) for every HTTP route of the app."""
    found = []
    for route in app.routes:
        # Included routers are flattened lazily by FastAPI; their contexts carry full paths.
        contexts = getattr(route, "effective_route_contexts", None)
        for context in contexts() if contexts else [route]:
            original = getattr(context, "original_route", context)
            path = getattr(context, "path", "")
            if isinstance(original, APIRoute):
                extra = getattr(context, "openapi_extra", None) or {}
                for method in sorted(original.methods):
                    found.append((method, path, extra.get("x-comity-permission")))
            elif path == "/api/v1/openapi.json":
                found.append(("GET", path, None))
    return found


def test_every_route_is_classified(app: FastAPI) -> None:
    unclassified = [
        (method, path)
        for method, path, perm in routes(app)
        if perm is None and (method, path) not in PUBLIC | SELF_SERVICE
    ]
    assert unclassified == [], "routes with no permission, not public, not self-service"
    public_in_guards = {(m, p) for m, p in PUBLIC if p in PUBLIC_PAGES or (m, p) in PUBLIC_API}
    assert public_in_guards | {("GET", "/api/v1/openapi.json")} == PUBLIC
    assert PUBLIC_API <= PUBLIC
    with_perm_and_listed = [
        (m, p) for m, p, perm in routes(app) if perm and (m, p) in PUBLIC | SELF_SERVICE
    ]
    assert with_perm_and_listed == []
    assert len(routes(app)) > 30


class World:
    """Targets for path parameters, made fresh for each walk."""

    def __init__(self, node: Node) -> None:
        self.target = make_user(node, Role.CASEWORKER, username="target")
        with node.uow() as uow:
            peer = add_peer(uow, local_operator(), name="Peer Prosecutor", kind="prosecutor")
            self.organisation_id = peer.id
        evidence = node.settings.home / "walk.png"
        evidence.write_bytes(png_bytes())
        self.item = add_file(node, local_operator(), evidence)
        with node.uow() as uow:
            self.ingest_index = uow.session.get(VaultItem, self.item.item_id).ledger_index
            make_checkpoint(uow, node.keys, local_operator())
        self.record = create_record(node, local_operator(), "incident", {"title": "Walked"})

    def fill(self, path: str, token_id: str) -> str:
        return (
            path.replace("{user_id}", self.target.id)
            .replace("{organisation_id}", self.organisation_id)
            .replace("{token_id}", token_id)
            .replace("{size}", "1")  # the genesis checkpoint
            .replace("{item_id}", self.item.item_id)
            .replace("{index}", str(self.ingest_index))
            .replace("{upload_id}", "00000000-0000-0000-0000-000000000000")
            .replace("{record_id}", self.record.id)
            .replace("{kind}", "incident")
            .replace("{number}", "1")
            .replace("{node_id}", "no-such-node")
        )


def snapshot(node: Node) -> tuple[Any, ...]:
    with node.uow() as uow:
        s = uow.session
        return (
            s.scalars(select(User.username, User.is_active, User.password_hash)).all(),
            s.scalars(select(Organisation.name)).all(),
            s.scalar(select(func.count(ApiToken.id))),
            s.scalars(select(ApiToken.revoked_at)).all(),
        )


def test_anonymous_callers_are_refused(app: FastAPI, node: Node) -> None:
    from fastapi.testclient import TestClient

    world = World(node)
    before = snapshot(node)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as anon:
        for method, path, _ in routes(app):
            if (method, path) in PUBLIC:
                continue
            url = world.fill(path, token_id="00000000-0000-0000-0000-000000000000")
            response = anon.request(method, url)
            if path.startswith("/api/"):
                assert response.status_code == 401, (method, path, response.status_code)
                assert response.json()["error"] == "authentication_required"
            elif method == "GET":
                assert response.status_code == 303, (method, path)
                assert response.headers["location"].startswith("/login?next=")
            else:
                # A forged form from elsewhere has no valid token: refused before anything.
                assert response.status_code == 403, (method, path, response.status_code)
    assert snapshot(node) == before


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_what_the_table_grants(app: FastAPI, node: Node, role: Role) -> None:
    world = World(node)
    actor = make_user(node, role, username="walker-" + role.value.replace("_", "-"))
    granted = {p.value for p in ROLE_PERMISSIONS[role]}
    spare_token = api_token_for(node, actor, ["tokens:own"])
    with node.uow() as uow:
        spare_id = uow.session.scalars(
            select(ApiToken.id).where(ApiToken.user_id == actor.id)
        ).one()
    secret = api_token_for(node, actor)
    assert spare_token != secret
    browser = sign_in(app, actor)
    csrf = csrf_from(browser.get("/account").text)
    denied_before = 0
    with node.uow() as uow:
        denied_before = uow.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "access.denied")
        )
    expected_denials = 0
    for method, path, perm in routes(app):
        if (method, path) in PUBLIC or path in {"/logout"}:
            continue
        url = world.fill(path, token_id=spare_id)
        if path.startswith("/api/"):
            response = browser.request(
                method,
                url + API_QUERIES.get((method, path), ""),
                json=API_BODIES.get((method, path)),
                headers={"Authorization": f"Bearer {secret}"},
            )
        elif (method, path) in PAGE_JSON:
            response = browser.request(
                method, url, json=PAGE_JSON[(method, path)], headers={"X-CSRF-Token": csrf}
            )
        else:
            data = dict(PAGE_FORMS.get((method, path), {}))
            if method == "POST":
                data["csrf_token"] = csrf
            headers = {"X-CSRF-Token": csrf} if method in {"PUT", "DELETE"} else None
            response = browser.request(
                method, url, data=data if method != "GET" else None, headers=headers
            )
        allowed = perm is None or perm in granted
        if allowed:
            assert response.status_code not in (401, 403), (role, method, path, response.text[:300])
        else:
            assert response.status_code == 403, (role, method, path, response.status_code)
            expected_denials += 1
    browser.close()
    with node.uow() as uow:
        denied_after = uow.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "access.denied")
        )
    assert denied_after - denied_before == expected_denials
