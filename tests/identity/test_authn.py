"""Signing in: sessions, failures, lock-out, throttling, session states, password change."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from comity.audit.models import Outcome
from comity.db import utcnow
from comity.errors import AccountLocked, InvalidCredentials, Throttled, ValidationError
from comity.identity.authn import (
    SessionGrant,
    SessionView,
    change_password,
    login,
    logout,
    resolve_session,
)
from comity.identity.mfa import verify_second_factor
from comity.identity.models import AuthSession, LoginFailure, User
from comity.identity.permissions import Role, permissions_for
from comity.node import Node
from comity.secretbox import token_hash
from comity.settings import Settings
from factories import (
    CLIENT_IP,
    DEFAULT_PASSWORD,
    MadeUser,
    audit_events,
    make_user,
    sign_in,
    view_of,
)

NEW_PASSWORD = "a quieter river at dawn 42"


def attempt(
    node: Node, username: str, password: str, *, ip: str = CLIENT_IP, **changes: int
) -> SessionGrant:
    settings = node.settings.model_copy(update=changes) if changes else node.settings
    with node.uow() as uow:
        return login(uow, settings, username=username, password=password, ip=ip)


def user_row(node: Node, user_id: str) -> User:
    with node.uow() as uow:
        user = uow.session.get(User, user_id)
    assert user is not None
    return user


def failures_from(node: Node, ip: str) -> list[LoginFailure]:
    with node.uow() as uow:
        return list(uow.session.scalars(select(LoginFailure).where(LoginFailure.ip == ip)))


def resolve(node: Node, token: str, settings: Settings | None = None) -> SessionView | None:
    with node.uow() as uow:
        return resolve_session(uow, settings or node.settings, token)


def set_session(node: Node, token: str, **values: dt.datetime) -> None:
    with node.uow() as uow:
        uow.session.execute(
            update(AuthSession).where(AuthSession.token_hash == token_hash(token)).values(**values)
        )
        uow.commit()


def test_login_opens_a_session_kept_only_as_a_hash(node: Node) -> None:
    user = make_user(node, Role.AUDITOR)
    before = utcnow()
    with node.uow() as uow:
        grant = login(
            uow,
            node.settings,
            username=f"  {user.username.upper()} ",
            password=user.password,
            ip="198.51.100.7",
            user_agent="Firefox",
        )
    with node.uow() as uow:
        stored = uow.session.scalars(select(AuthSession)).one()
    assert stored.user_id == user.id
    assert stored.token_hash == token_hash(grant.token)
    assert grant.token not in (stored.token_hash, stored.id)
    assert (stored.ip, stored.user_agent) == ("198.51.100.7", "Firefox")
    maximum = dt.timedelta(hours=node.settings.session_max_hours)
    assert before + maximum <= stored.expires_at <= utcnow() + maximum
    [event] = audit_events(node, "auth.login")
    assert (event.outcome, event.target_id, event.actor_user_id) == ("success", user.id, user.id)
    assert event.ip == "198.51.100.7"
    view = view_of(node, grant.token)
    assert view.complete
    assert view.actor.permissions == permissions_for({Role.AUDITOR})


@pytest.mark.parametrize("case", ["password", "unknown_user", "disabled"])
def test_failed_login_is_recorded_and_committed(node: Node, case: str) -> None:
    user = make_user(node, active=case != "disabled")
    username = "nobody-here" if case == "unknown_user" else user.username
    password = "not the password at all" if case == "password" else user.password
    with pytest.raises(InvalidCredentials):
        attempt(node, username, password, ip="203.0.113.5")
    [failure] = failures_from(node, "203.0.113.5")
    assert failure.username == username
    [event] = audit_events(node, "auth.login")
    assert event.outcome == Outcome.FAILURE
    assert event.detail == {"username": username, "reason": case}
    assert event.target_id == ("" if case == "unknown_user" else user.id)
    assert event.ip == "203.0.113.5"
    with node.uow() as uow:
        assert uow.session.scalar(select(func.count(AuthSession.id))) == 0
    if case != "unknown_user":
        assert user_row(node, user.id).failed_logins == (1 if case == "password" else 0)


@pytest.mark.parametrize(("username", "password"), [("", "something long"), ("someone", "")])
def test_login_without_name_or_password_is_refused_unrecorded(
    node: Node, username: str, password: str
) -> None:
    with pytest.raises(ValidationError):
        attempt(node, username, password, ip="203.0.113.5")
    assert failures_from(node, "203.0.113.5") == []
    assert audit_events(node, "auth.login") == []


def test_lockout_after_threshold_until_locked_until_passes(node: Node) -> None:
    user = make_user(node)
    threshold = node.settings.lockout_threshold
    earlier = sign_in(node, user)
    started = utcnow()
    for _ in range(threshold):
        with pytest.raises(InvalidCredentials):
            attempt(node, user.username, "wrong password, again")
    locked_until = user_row(node, user.id).locked_until
    assert locked_until is not None
    assert locked_until >= started + dt.timedelta(minutes=node.settings.lockout_minutes)
    assert resolve(node, earlier) is None, "locking an account ends its sessions"
    with pytest.raises(AccountLocked):
        attempt(node, user.username, user.password)
    denied = audit_events(node, "auth.login")[-1]
    assert (denied.outcome, denied.detail["reason"]) == ("denied", "locked")

    with node.uow() as uow:
        uow.session.execute(
            update(User)
            .where(User.id == user.id)
            .values(locked_until=utcnow() - dt.timedelta(seconds=1))
        )
        uow.commit()
    grant = attempt(node, user.username, user.password)
    assert view_of(node, grant.token).complete
    after = user_row(node, user.id)
    assert (after.locked_until, after.failed_logins) == (None, 0)


def test_success_forgets_earlier_password_failures(node: Node) -> None:
    user = make_user(node)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            attempt(node, user.username, "wrong password, again", lockout_threshold=3)
    attempt(node, user.username, user.password, lockout_threshold=3)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            attempt(node, user.username, "wrong password, again", lockout_threshold=3)
    assert user_row(node, user.id).locked_until is None
    attempt(node, user.username, user.password, lockout_threshold=3)


def test_an_address_with_many_failures_is_throttled(node: Node) -> None:
    user = make_user(node)
    for name in ("ghost1", "ghost2", "ghost3"):
        with pytest.raises(InvalidCredentials):
            attempt(node, name, "any password here", ip="203.0.113.9", ip_throttle_failures=3)
    with pytest.raises(Throttled):
        attempt(node, user.username, user.password, ip="203.0.113.9", ip_throttle_failures=3)
    denied = audit_events(node, "auth.login")[-1]
    assert (denied.outcome, denied.detail) == (
        "denied",
        {"username": user.username, "reason": "throttled"},
    )
    assert len(failures_from(node, "203.0.113.9")) == 3, "a throttled attempt is not a failure"

    attempt(node, user.username, user.password, ip="203.0.113.10", ip_throttle_failures=3)

    window = dt.timedelta(minutes=node.settings.ip_throttle_minutes, seconds=1)
    with node.uow() as uow:
        uow.session.execute(update(LoginFailure).values(at=utcnow() - window))
        uow.commit()
    attempt(node, user.username, user.password, ip="203.0.113.9", ip_throttle_failures=3)


def test_session_ends_at_its_absolute_expiry(node: Node) -> None:
    token = sign_in(node, make_user(node))
    set_session(node, token, expires_at=utcnow() + dt.timedelta(minutes=1))
    assert resolve(node, token) is not None
    set_session(node, token, expires_at=utcnow() - dt.timedelta(seconds=1))
    assert resolve(node, token) is None


def test_session_ends_when_idle_and_activity_keeps_it_alive(node: Node) -> None:
    token = sign_in(node, make_user(node))
    idle = dt.timedelta(minutes=node.settings.session_idle_minutes)
    set_session(node, token, last_seen_at=utcnow() - idle + dt.timedelta(minutes=2))
    assert resolve(node, token) is not None
    with node.uow() as uow:
        seen = uow.session.scalars(select(AuthSession.last_seen_at)).one()
    assert seen >= utcnow() - dt.timedelta(minutes=1), "a request moves last_seen_at forward"
    set_session(node, token, last_seen_at=utcnow() - idle - dt.timedelta(seconds=1))
    assert resolve(node, token) is None


def test_logout_revokes_the_session(node: Node) -> None:
    user = make_user(node)
    token = sign_in(node, user)
    view = view_of(node, token)
    with node.uow() as uow:
        logout(uow, view)
    assert resolve(node, token) is None
    [event] = audit_events(node, "auth.logout")
    assert event.target_id == user.id


@pytest.mark.parametrize("token", ["", "x" * 201, "never-issued-token"])
def test_unknown_tokens_resolve_to_nothing(node: Node, token: str) -> None:
    assert resolve(node, token) is None


def pending(view: SessionView) -> tuple[bool, bool, bool]:
    return (
        view.needs_second_factor,
        view.must_change_password,
        view.must_enrol_second_factor,
    )


@pytest.mark.parametrize(
    ("roles", "traits", "mfa_for_all", "expected"),
    [
        ((Role.DOCUMENTER,), {"must_change_password": True}, False, (False, True, False)),
        ((Role.ADMINISTRATOR,), {"totp": False}, False, (False, False, True)),
        ((Role.DOCUMENTER,), {}, True, (False, False, True)),
        ((Role.DOCUMENTER,), {"totp": True}, False, (True, False, False)),
        ((Role.ADMINISTRATOR,), {"must_change_password": True}, False, (True, True, False)),
    ],
)
def test_incomplete_sessions_carry_no_permissions(
    node: Node,
    roles: tuple[Role, ...],
    traits: dict[str, bool],
    mfa_for_all: bool,
    expected: tuple[bool, bool, bool],
) -> None:
    settings = node.settings.model_copy(update={"require_mfa_for_all": mfa_for_all})
    user = make_user(node, *roles, **traits)
    view = view_of(node, sign_in(node, user), settings=settings)
    assert pending(view) == expected
    assert not view.complete
    assert view.actor.permissions == frozenset()
    assert view.actor.roles == frozenset(roles)


def test_documenter_needs_no_second_factor_by_default(node: Node) -> None:
    view = view_of(node, sign_in(node, make_user(node, Role.DOCUMENTER)))
    assert pending(view) == (False, False, False)
    assert view.actor.permissions == permissions_for({Role.DOCUMENTER})


def test_second_factor_completes_the_session(node: Node) -> None:
    admin = make_user(node, Role.ADMINISTRATOR)
    token = sign_in(node, admin)
    with node.uow() as uow:
        verify_second_factor(uow, node.settings, view_of(node, token), admin.totp_now())
    view = view_of(node, token)
    assert view.complete
    assert view.actor.permissions == permissions_for({Role.ADMINISTRATOR})


def signed_in(node: Node, user: MadeUser) -> SessionView:
    return view_of(node, sign_in(node, user))


@pytest.mark.parametrize(
    ("current", "new", "confirm", "error", "fields"),
    [
        (
            DEFAULT_PASSWORD,
            NEW_PASSWORD,
            NEW_PASSWORD + "x",
            ValidationError,
            {"confirm": "mismatch"},
        ),
        (DEFAULT_PASSWORD, "short one", "short one", ValidationError, {"password": "too_short"}),
        (
            DEFAULT_PASSWORD,
            DEFAULT_PASSWORD,
            DEFAULT_PASSWORD,
            ValidationError,
            {"password": "unchanged"},
        ),
        ("not my password!", NEW_PASSWORD, NEW_PASSWORD, InvalidCredentials, {"current": "wrong"}),
    ],
)
def test_change_password_refusals_change_nothing(
    node: Node,
    *,
    current: str,
    new: str,
    confirm: str,
    error: type[Exception],
    fields: dict[str, str],
) -> None:
    user = make_user(node, must_change_password=True)
    view = signed_in(node, user)
    with node.uow() as uow, pytest.raises(error) as caught:
        change_password(uow, view, current=current, new=new, confirm=confirm)
    assert caught.value.fields == fields  # type: ignore[attr-defined]
    row = user_row(node, user.id)
    assert row.must_change_password
    events = audit_events(node, "auth.password_change")
    if error is InvalidCredentials:
        assert [(e.outcome, e.detail) for e in events] == [
            ("failure", {"reason": "current_password"})
        ]
    else:
        assert events == []
    assert view_of(node, sign_in(node, user)).must_change_password


def test_change_password_keeps_this_session_and_ends_the_others(node: Node) -> None:
    user = make_user(node, must_change_password=True)
    other = sign_in(node, user)
    this = sign_in(node, user)
    with node.uow() as uow:
        change_password(
            uow, view_of(node, this), current=user.password, new=NEW_PASSWORD, confirm=NEW_PASSWORD
        )
    assert resolve(node, other) is None
    view = view_of(node, this)
    assert view.complete
    assert [e.outcome for e in audit_events(node, "auth.password_change")] == ["success"]
    with pytest.raises(InvalidCredentials):
        attempt(node, user.username, user.password)
    assert view_of(node, attempt(node, user.username, NEW_PASSWORD).token).complete
