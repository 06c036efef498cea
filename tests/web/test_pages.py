"""Sign-in, session, CSRF and hardening behaviour of the HTML pages, through HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from comity.audit.models import AuditEvent
from comity.identity.models import AuthSession, User
from comity.identity.permissions import Role
from comity.ledger.models import LedgerAlarm
from comity.node import InitReport, Node
from comity.web.guards import SESSION_COOKIE
from comity.web.requests import LOCALE_COOKIE
from comity.web.security import SECURITY_HEADERS
from factories import DEFAULT_PASSWORD, MadeUser, make_user
from web.conftest import csrf_from

Browser = Callable[[MadeUser], TestClient]


def count(node: Node, model: type, *where: object) -> int:
    with node.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def login(client: TestClient, username: str, password: str, next_url: str = "/") -> object:
    token = csrf_from(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_url},
    )


def test_first_sign_in_forces_password_change_then_enrolment(
    client: TestClient, initialised: tuple[Node, InitReport]
) -> None:
    _node, report = initialised
    assert report.one_time_password
    response = login(client, "admin", report.one_time_password)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=strict" in cookie
    # Every other page sends the person to the pending step.
    for path in ("/", "/users", "/audit", "/account"):
        assert client.get(path).headers["location"] == "/account/password"
    assert client.get("/api/v1/me").status_code == 401  # cookies never authenticate the API
    page = client.get("/account/password")
    assert "one-time password" in page.text
    bad = client.post(
        "/account/password",
        data={
            "current": report.one_time_password,
            "password": "short",
            "confirm": "short",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert bad.status_code == 422
    assert "at least 12" in bad.text
    ok = client.post(
        "/account/password",
        data={
            "current": report.one_time_password,
            "password": "a new long passphrase",
            "confirm": "a new long passphrase",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert ok.status_code == 303
    # Administrators must enrol a second factor before anything else.
    assert client.get("/").headers["location"] == "/account/second-factor"
    enrol = client.get("/account/second-factor")
    assert 'src="data:image/svg+xml' in enrol.text
    secret = enrol.text.split("data-secret>")[1].split("<")[0]
    wrong = client.post(
        "/account/second-factor", data={"code": "000000", "csrf_token": csrf_from(enrol.text)}
    )
    assert wrong.status_code == 422
    done = client.post(
        "/account/second-factor",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(enrol.text)},
    )
    assert done.status_code == 200
    assert done.text.count("<li><code>") == 10
    home = client.get("/")
    assert home.status_code == 200
    assert "Varesh Monitoring Network" in home.text


def test_csrf_is_required_on_every_form(client: TestClient, node: Node) -> None:
    user = make_user(node, Role.ANALYST)
    failures = count(node, AuditEvent, AuditEvent.action == "auth.login")
    no_token = client.post("/login", data={"username": user.username, "password": user.password})
    assert no_token.status_code == 403
    assert SESSION_COOKIE not in no_token.headers.get("set-cookie", "")
    forged = client.post(
        "/login",
        data={"username": user.username, "password": user.password, "csrf_token": "x" * 64},
    )
    assert forged.status_code == 403
    assert count(node, AuditEvent, AuditEvent.action == "auth.login") == failures
    assert count(node, AuditEvent, AuditEvent.action == "access.csrf_rejected") == 2


def test_csrf_token_of_one_session_is_refused_in_another(
    app: FastAPI, node: Node, signed_in: Browser
) -> None:
    admin = make_user(node, Role.ADMINISTRATOR)
    first, second = signed_in(admin), signed_in(admin)
    token_of_first = csrf_from(first.get("/users").text)
    response = second.post(
        "/users", data={"username": "mallory", "roles": ["analyst"], "csrf_token": token_of_first}
    )
    assert response.status_code == 403
    assert count(node, User, User.username == "mallory") == 0


def test_wrong_password_then_lockout(client: TestClient, node: Node) -> None:
    user = make_user(node, Role.DOCUMENTER)
    for _ in range(node.settings.lockout_threshold):
        response = login(client, user.username, "not the password at all")
        assert response.status_code == 401
        assert "wrong" in response.text
    locked = login(client, user.username, user.password)
    assert locked.status_code == 401
    assert "locked" in locked.text
    assert count(node, AuthSession, AuthSession.user_id == user.id) == 0


def test_unknown_user_and_malformed_forms(client: TestClient, node: Node) -> None:
    assert login(client, "nobody", "whatever password").status_code == 401
    token = csrf_from(client.get("/login").text)
    empty = client.post("/login", data={"csrf_token": token})
    assert empty.status_code == 422
    too_long = client.post(
        "/login", data={"csrf_token": token, "username": "x", "password": "p" * 5000}
    )
    assert too_long.status_code == 422
    assert count(node, AuthSession) == 0


def test_oversized_body_is_refused_before_anything(client: TestClient, node: Node) -> None:
    before = count(node, AuditEvent)
    response = client.post(
        "/login",
        content=b"x" * (node.settings.max_request_bytes + 1),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert count(node, AuditEvent) == before


def test_idle_and_expired_sessions_end(node: Node, signed_in: Browser) -> None:
    user = make_user(node, Role.ANALYST)
    browser = signed_in(user)
    assert browser.get("/").status_code == 200
    with node.uow() as uow:
        old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=node.settings.session_idle_minutes + 1)
        uow.session.execute(update(AuthSession).values(last_seen_at=old))
        uow.commit()
    assert browser.get("/").headers["location"].startswith("/login")
    again = signed_in(user)
    with node.uow() as uow:
        uow.session.execute(
            update(AuthSession).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        uow.commit()
    assert again.get("/").headers["location"].startswith("/login")


def test_logout_revokes_the_session(node: Node, signed_in: Browser) -> None:
    browser = signed_in(make_user(node, Role.ANALYST))
    cookie = browser.cookies.get(SESSION_COOKIE)
    token = csrf_from(browser.get("/").text)
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 303
    browser.cookies.set(SESSION_COOKIE, cookie or "", domain="testserver")
    assert browser.get("/").headers["location"].startswith("/login")


def test_disabling_a_user_ends_their_session(node: Node, signed_in: Browser) -> None:
    admin = signed_in(make_user(node, Role.ADMINISTRATOR))
    victim_user = make_user(node, Role.CASEWORKER)
    victim = signed_in(victim_user)
    assert victim.get("/").status_code == 200
    page = admin.get(f"/users/{victim_user.id}")
    response = admin.post(
        f"/users/{victim_user.id}/disable", data={"csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 303
    assert victim.get("/").headers["location"].startswith("/login")
    assert login(victim, victim_user.username, victim_user.password).status_code == 401


def test_second_factor_at_sign_in(client: TestClient, node: Node) -> None:
    user = make_user(node, Role.PROSECUTOR, totp=True)
    login(client, user.username, user.password)
    assert client.get("/").headers["location"] == "/login/second-factor"
    page = client.get("/login/second-factor")
    wrong = client.post(
        "/login/second-factor", data={"code": "123456", "csrf_token": csrf_from(page.text)}
    )
    assert wrong.status_code == 401
    right = client.post(
        "/login/second-factor", data={"code": user.totp_now(), "csrf_token": csrf_from(page.text)}
    )
    assert right.status_code == 303
    assert client.get("/").status_code == 200


def test_no_open_redirect_after_sign_in(client: TestClient, node: Node) -> None:
    user = make_user(node, Role.ANALYST)
    response = login(client, user.username, user.password, next_url="https://evil.example/")
    assert response.headers["location"] == "/"
    assert client.get("/login?next=//evil.example").headers["location"] == "/"


def test_security_headers_everywhere(client: TestClient) -> None:
    for path in ("/login", "/api/v1/health", "/static/comity.css", "/nowhere"):
        response = client.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)
    assert "'unsafe-inline'" not in SECURITY_HEADERS["content-security-policy"]
    assert client.get("/login").headers["cache-control"] == "no-store"


def test_pages_have_no_inline_script(node: Node, signed_in: Browser) -> None:
    admin = signed_in(make_user(node, Role.ADMINISTRATOR))
    for path in ("/", "/users", "/organisations", "/audit", "/account"):
        html = admin.get(path).text
        assert "<script>" not in html, path
        assert " onclick=" not in html, path


def test_user_administration_through_pages(node: Node, signed_in: Browser) -> None:
    admin = signed_in(make_user(node, Role.ADMINISTRATOR))
    token = csrf_from(admin.get("/users").text)
    created = admin.post(
        "/users",
        data={
            "username": "amira.h",
            "display_name": "Amira H.",
            "roles": ["documenter"],
            "csrf_token": token,
        },
    )
    assert created.status_code == 200
    password = created.text.split("data-one-time-password>")[1].split("<")[0]
    duplicate = admin.post(
        "/users", data={"username": "amira.h", "roles": ["documenter"], "csrf_token": token}
    )
    assert duplicate.status_code == 422
    assert "taken" in duplicate.text
    bad_role = admin.post(
        "/users", data={"username": "karim", "roles": ["emperor"], "csrf_token": token}
    )
    assert bad_role.status_code == 422
    assert "Unknown role" in bad_role.text
    assert count(node, User, User.username == "karim") == 0
    with TestClient(admin.app, base_url="https://testserver", follow_redirects=False) as fresh:
        assert login(fresh, "amira.h", password).headers["location"] == "/"
        assert fresh.get("/").headers["location"] == "/account/password"


def test_audit_page_filters_and_htmx_partial(node: Node, signed_in: Browser) -> None:
    auditor = make_user(node, Role.AUDITOR)
    with TestClient(signed_in(auditor).app, base_url="https://testserver") as other:
        login(other, auditor.username, "wrong password, twice over")
    browser = signed_in(auditor)
    page = browser.get("/audit?outcome=failure")
    assert page.status_code == 200
    assert "auth.login" in page.text
    assert "<html" in page.text
    partial = browser.get("/audit?action=auth.&outcome=failure", headers={"HX-Request": "true"})
    assert "<html" not in partial.text
    assert "auth.login" in partial.text
    bad = browser.get("/audit?since=yesterday")
    assert bad.status_code == 422
    assert "not a date" in bad.text
    assert count(node, AuditEvent, AuditEvent.action == "audit.read") == 2


def test_language_switch(client: TestClient) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/language", data={"locale": "ar", "next": "/login", "csrf_token": token}
    )
    assert response.status_code == 303
    page = client.get("/login")
    assert 'dir="rtl"' in page.text
    assert 'lang="ar"' in page.text


def test_password_is_checked_on_change(node: Node, signed_in: Browser) -> None:
    user = make_user(node, Role.ANALYST)
    browser = signed_in(user)
    page = browser.get("/account/password")
    wrong = browser.post(
        "/account/password",
        data={
            "current": "not it at all",
            "password": "another long phrase",
            "confirm": "another long phrase",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert wrong.status_code == 422
    with node.uow() as uow:
        stored = uow.session.get(User, user.id)
        assert stored is not None
        from comity.identity.passwords import verify_password

        assert verify_password(stored.password_hash, DEFAULT_PASSWORD)


def test_the_home_page_warns_of_ledger_alarms_those_who_may_read_the_ledger(
    node: Node, signed_in: Browser
) -> None:
    auditor = signed_in(make_user(node, Role.AUDITOR))
    documenter = signed_in(make_user(node, Role.DOCUMENTER))
    assert 'role="alert"' not in auditor.get("/").text
    with node.uow() as uow:
        for kind in ("split_view", "split_view", "inconsistent"):
            uow.session.add(LedgerAlarm(origin="comity/peer-<7>", kind=kind, evidence="{}"))
        uow.commit()

    page = " ".join(auditor.get("/").text.split())
    assert 'role="alert"' in page
    assert "Ledger alarm" in page
    assert (
        "The ledger of <bdi>comity/peer-&lt;7&gt;</bdi> showed a split view: two different "
        "histories of the same "
        "size, both signed with its key. 2 alarms, the latest at"
    ) in page
    assert "could not show that its new checkpoint extends" in page
    assert "1 alarm, the latest at" in page
    assert "see comity ledger alarms on the node" in page
    assert 'role="alert"' not in documenter.get("/").text

    auditor.cookies.set(LOCALE_COOKIE, "fr")
    french = " ".join(auditor.get("/").text.split())
    assert "Le registre de <bdi>comity/peer-&lt;7&gt;</bdi> a présenté deux versions" in french
    auditor.cookies.set(LOCALE_COOKIE, "ar")
    arabic = " ".join(auditor.get("/").text.split())
    # The Latin origin is isolated, so the Arabic sentence around it keeps its order.
    assert "أظهر دفتر القيود الخاص بـ <bdi>comity/peer-&lt;7&gt;</bdi> رؤية منقسمة" in arabic
    assert "إنذاران، آخرهما في" in arabic
