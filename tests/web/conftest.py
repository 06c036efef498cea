"""Fixtures for web tests: the app on a fresh node, signed-in browsers and API clients."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from comity.identity.permissions import ROLE_PERMISSIONS
from comity.identity.tokens import create_token
from comity.node import Node, local_operator
from factories import MadeUser

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "page has no CSRF token"
    return found.group(1)


@pytest.fixture
def app(node: Node) -> FastAPI:
    from comity.web.app import create_app

    return create_app(node)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


_sign_ins: dict[str, int] = {}


def sign_in(app: FastAPI, user: MadeUser) -> TestClient:
    """A browser that went through the sign-in pages as ``user`` (second factor included)."""
    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    page = c.get("/login")
    response = c.post(
        "/login",
        data={
            "username": user.username,
            "password": user.password,
            "csrf_token": csrf_from(page.text),
        },
    )
    assert response.status_code == 303, response.text
    if user.totp_secret is not None:
        page = c.get("/login/second-factor")
        response = c.post(
            "/login/second-factor",
            data={"code": _unused_code(user), "csrf_token": csrf_from(page.text)},
        )
        assert response.status_code == 303, response.text
    return c


def _unused_code(user: MadeUser) -> str:
    """Codes are single-use per 30 s step; a second sign-in uses the next step's code,
    which the node accepts within its one-step drift window."""
    uses = _sign_ins.get(user.id, 0)
    assert uses < 2, "a user can sign in at most twice within one TOTP step"
    _sign_ins[user.id] = uses + 1
    assert user.totp_secret is not None
    return pyotp.TOTP(user.totp_secret).at(time.time() + 30 * uses)


@pytest.fixture
def signed_in(app: FastAPI) -> Iterator[Callable[[MadeUser], TestClient]]:
    clients: list[TestClient] = []

    def make(user: MadeUser) -> TestClient:
        c = sign_in(app, user)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def api_token_for(node: Node, user: MadeUser, scopes: list[str] | None = None) -> str:
    """A token with ``scopes`` (default: everything the user's roles grant)."""
    granted: set[str] = set()
    for role in user.roles:
        granted |= {p.value for p in ROLE_PERMISSIONS[role]}
    with node.uow() as uow:
        created = create_token(
            uow,
            node.settings,
            local_operator(),
            user_id=user.id,
            name="test",
            scopes=sorted(scopes if scopes is not None else granted),
            days=1,
        )
    return created.secret


@pytest.fixture
def api(app: FastAPI, node: Node) -> Iterator[Callable[[MadeUser], TestClient]]:
    clients: list[TestClient] = []

    def make(user: MadeUser, scopes: list[str] | None = None) -> TestClient:
        secret = api_token_for(node, user, scopes)
        c = TestClient(
            app,
            base_url="https://testserver",
            follow_redirects=False,
            headers={"Authorization": f"Bearer {secret}"},
        )
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()
