"""The JSON API: bearer tokens, error shapes, OpenAPI document, and the main use cases."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from comity.identity.models import User
from comity.identity.permissions import Permission, Role
from comity.node import Node
from factories import MadeUser, make_user

Api = Callable[..., TestClient]


def test_health_is_public_and_says_little(client: TestClient) -> None:
    body = client.get("/api/v1/health").json()
    assert set(body) == {"status", "version"}


def test_missing_bad_and_revoked_tokens(client: TestClient, node: Node, api: Api) -> None:
    missing = client.get("/api/v1/me")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"] == "authentication_required"
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer comity_nope"})
    assert bad.status_code == 401
    user = make_user(node, Role.ANALYST)
    caller = api(user)
    me = caller.get("/api/v1/me").json()
    assert me["username"] == user.username
    assert me["via"] == "token"
    token_id = caller.get("/api/v1/tokens").json()[0]["id"]
    assert caller.delete(f"/api/v1/tokens/{token_id}").status_code == 200
    assert caller.get("/api/v1/me").status_code == 401


def test_scopes_limit_a_token(node: Node, api: Api) -> None:
    admin = make_user(node, Role.ADMINISTRATOR)
    reader = api(admin, ["users:read", "tokens:own"])
    assert reader.get("/api/v1/users").status_code == 200
    refused = reader.post("/api/v1/users", json={"username": "x-y-z", "roles": ["analyst"]})
    assert refused.status_code == 403
    assert refused.json()["error"] == "permission_denied"


def test_user_lifecycle_over_the_api(node: Node, api: Api) -> None:
    admin = api(make_user(node, Role.ADMINISTRATOR))
    created = admin.post(
        "/api/v1/users", json={"username": "Lina.K", "roles": ["legal_aid_lawyer"]}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["user"]["username"] == "lina.k"
    assert body["user"]["must_change_password"] is True
    assert len(body["one_time_password"]) >= 16
    user_id = body["user"]["id"]
    assert admin.put(f"/api/v1/users/{user_id}/roles", json={"roles": ["caseworker"]}).json()[
        "roles"
    ] == ["caseworker"]
    assert admin.post(f"/api/v1/users/{user_id}/disable").json()["is_active"] is False
    again = admin.post(f"/api/v1/users/{user_id}/disable")
    assert again.status_code == 409
    assert admin.post(f"/api/v1/users/{user_id}/enable").json()["is_active"] is True
    reset = admin.post(f"/api/v1/users/{user_id}/reset-password").json()
    assert reset["one_time_password"] != body["one_time_password"]


def test_bad_input_changes_nothing(node: Node, api: Api) -> None:
    admin = api(make_user(node, Role.ADMINISTRATOR))

    def users() -> int:
        with node.uow() as uow:
            return uow.session.scalar(select(func.count(User.id))) or 0

    before = users()
    cases = [
        {"username": "ok-name", "roles": ["nonexistent"]},
        {"username": "a", "roles": ["analyst"]},
        {"username": "ok-name", "roles": []},
        {"username": "ok-name", "roles": ["analyst"], "is_admin": True},
        {"roles": ["analyst"]},
    ]
    for case in cases:
        response = admin.post("/api/v1/users", json=case)
        assert response.status_code == 422, case
        body = response.json()
        assert body["error"] == "validation_error", case
        assert body["message"], case
    not_json = admin.post(
        "/api/v1/users", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    assert admin.get("/api/v1/users/no-such-id").status_code == 404
    assert users() == before


def test_tokens_cannot_exceed_their_user(node: Node, api: Api) -> None:
    analyst = api(make_user(node, Role.ANALYST))
    too_much = analyst.post(
        "/api/v1/tokens", json={"name": "sneaky", "scopes": ["users:manage"], "days": 5}
    )
    assert too_much.status_code == 403
    ok = analyst.post("/api/v1/tokens", json={"name": "mine", "scopes": ["node:view"], "days": 5})
    assert ok.status_code == 201
    secret = ok.json()["secret"]
    assert secret.startswith("comity_")
    too_long = analyst.post(
        "/api/v1/tokens", json={"name": "forever", "scopes": ["node:view"], "days": 100000}
    )
    assert too_long.status_code == 422


def test_another_users_token_cannot_be_revoked(node: Node, api: Api) -> None:
    first, second = make_user(node, Role.ANALYST), make_user(node, Role.ANALYST)
    first_api, second_api = api(first), api(second)
    first_token = first_api.get("/api/v1/tokens").json()[0]["id"]
    assert second_api.delete(f"/api/v1/tokens/{first_token}").status_code == 403
    assert first_api.get("/api/v1/me").status_code == 200


def test_audit_api_filters(node: Node, api: Api) -> None:
    auditor = api(make_user(node, Role.AUDITOR))
    page = auditor.get("/api/v1/audit", params={"action": "user.create", "limit": 5}).json()
    assert page["total"] >= 1
    assert all(e["action"] == "user.create" for e in page["events"])
    assert auditor.get("/api/v1/audit", params={"limit": 0}).status_code == 422
    assert auditor.get("/api/v1/audit", params={"outcome": "maybe"}).status_code == 422


def test_openapi_document_describes_the_api(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    assert "/api/v1/users" in paths
    assert "/api/v1/audit" in paths
    assert not any(p.startswith("/users") or p == "/login" for p in paths)
    assert paths["/api/v1/users"]["post"]["x-comity-permission"] == Permission.USERS_MANAGE
    assert "401" in paths["/api/v1/users"]["get"]["responses"]


def test_roles_endpoint_is_the_permission_table(node: Node, api: Api) -> None:
    user: MadeUser = make_user(node, Role.CASEWORKER)
    table = {row["role"]: row["permissions"] for row in api(user).get("/api/v1/roles").json()}
    assert set(table) == {r.value for r in Role}
    assert "audit:read" in table["auditor"]
    assert "users:manage" not in table["auditor"]
