"""User accounts: create, list, roles, disable and enable, resets, and who may do it."""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from comity.audit.models import AuditEvent
from comity.db import UnitOfWork, utcnow
from comity.errors import Conflict, InvalidCredentials, NotFound, PermissionDenied, ValidationError
from comity.identity.authn import login, resolve_session
from comity.identity.mfa import begin_enrolment, confirm_enrolment
from comity.identity.models import ApiToken, RecoveryCode, User, UserRole
from comity.identity.organisations import local_organisation
from comity.identity.permissions import Actor, Role, cli_actor
from comity.identity.tokens import create_token, resolve_token
from comity.identity.users import (
    create_user,
    disable_user,
    enable_user,
    find_user,
    get_user,
    list_users,
    normalise_username,
    reset_password,
    reset_second_factor,
    set_roles,
)
from comity.node import Node
from factories import (
    actor_for,
    audit_events,
    make_user,
    sign_in,
    view_of,
)

OPERATOR = cli_actor("tester")
EDGE = set(string.ascii_lowercase + string.digits)
INNER = EDGE | set("._-")


def row(node: Node, user_id: str) -> User:
    with node.uow() as uow:
        user = uow.session.get(User, user_id)
    assert user is not None
    return user


def admin_id(node: Node) -> str:
    with node.uow() as uow:
        return uow.session.scalars(select(User.id).where(User.username == "admin")).one()


def counts(node: Node) -> tuple[int, int, int]:
    with node.uow() as uow:
        return (
            uow.session.scalar(select(func.count(User.id))) or 0,
            uow.session.scalar(select(func.count()).select_from(UserRole)) or 0,
            uow.session.scalar(select(func.count(AuditEvent.id))) or 0,
        )


def can_sign_in(node: Node, username: str, password: str) -> bool:
    with node.uow() as uow:
        try:
            login(uow, node.settings, username=username, password=password)
        except InvalidCredentials:
            return False
    return True


def test_create_user_gives_a_one_time_password(node: Node) -> None:
    admin = make_user(node, Role.ADMINISTRATOR)
    with node.uow() as uow:
        created = create_user(
            uow,
            actor_for(admin),
            username="  Amira.K ",
            roles=["investigator", " analyst ", ""],
            email=" amira@example.org ",
        )
        local_id = local_organisation(uow.session).id
    user = row(node, created.user.id)
    assert (user.username, user.display_name, user.email) == (
        "amira.k",
        "amira.k",
        "amira@example.org",
    )
    assert user.role_names == ["analyst", "investigator"]
    assert user.organisation_id == local_id
    assert user.must_change_password
    assert user.is_active
    assert created.one_time_password not in user.password_hash
    with node.uow() as uow:
        grant = login(uow, node.settings, username="amira.k", password=created.one_time_password)
    assert view_of(node, grant.token).must_change_password
    [event] = audit_events(node, "user.create")[-1:]
    assert event.actor_user_id == admin.id
    assert event.target_id == user.id
    assert event.detail == {"username": "amira.k", "roles": ["analyst", "investigator"]}


@pytest.mark.parametrize(
    ("username", "roles", "email", "error", "fields"),
    [
        ("ADMIN ", ["documenter"], "", Conflict, {"username": "taken"}),
        ("ab", ["documenter"], "", ValidationError, {"username": "invalid"}),
        ("-leading", ["documenter"], "", ValidationError, {"username": "invalid"}),
        ("trailing_", ["documenter"], "", ValidationError, {"username": "invalid"}),
        ("two words", ["documenter"], "", ValidationError, {"username": "invalid"}),
        ("émile", ["documenter"], "", ValidationError, {"username": "invalid"}),
        ("x" * 65, ["documenter"], "", ValidationError, {"username": "invalid"}),
        ("newcomer", ["wizard", "documenter"], "", ValidationError, {"roles": "unknown"}),
        ("newcomer", [" ", ""], "", ValidationError, {"roles": "required"}),
        ("newcomer", ["documenter"], "not-an-address", ValidationError, {"email": "invalid"}),
        ("newcomer", ["documenter"], "a b@example.org", ValidationError, {"email": "invalid"}),
    ],
)
def test_refused_creations_change_nothing(
    node: Node,
    *,
    username: str,
    roles: list[str],
    email: str,
    error: type[Exception],
    fields: dict[str, str],
) -> None:
    before = counts(node)
    with node.uow() as uow, pytest.raises(error) as caught:
        create_user(uow, OPERATOR, username=username, roles=roles, email=email)
    assert caught.value.fields == fields  # type: ignore[attr-defined]
    assert counts(node) == before


def test_listing_and_finding_users(node: Node) -> None:
    auditor = make_user(node, Role.AUDITOR, username="zoe")
    gone = make_user(node, username="bram", active=False)
    with node.uow() as uow:
        everyone = [u.username for u in list_users(uow, actor_for(auditor))]
        active = [u.username for u in list_users(uow, actor_for(auditor), include_disabled=False)]
        assert find_user(uow, actor_for(auditor), " BRAM ").id == gone.id
        assert find_user(uow, actor_for(auditor), gone.id).username == "bram"
        assert get_user(uow, actor_for(auditor), auditor.id).username == "zoe"
        with pytest.raises(NotFound):
            find_user(uow, actor_for(auditor), "nobody")
        with pytest.raises(NotFound):
            get_user(uow, actor_for(auditor), "00000000-0000-0000-0000-000000000000")
    assert everyone == ["admin", "bram", "zoe"]
    assert active == ["admin", "zoe"]


def every_management_operation(target_id: str) -> list[Callable[[UnitOfWork, Actor], object]]:
    return [
        lambda uow, actor: create_user(uow, actor, username="newcomer", roles=["documenter"]),
        lambda uow, actor: set_roles(uow, actor, target_id, ["administrator"]),
        lambda uow, actor: disable_user(uow, actor, target_id),
        lambda uow, actor: enable_user(uow, actor, target_id),
        lambda uow, actor: reset_password(uow, actor, target_id),
        lambda uow, actor: reset_second_factor(uow, actor, target_id),
    ]


@pytest.mark.parametrize("who", ["documenter", "auditor", "administrator-not-yet-enrolled"])
def test_managing_users_needs_users_manage(node: Node, who: str) -> None:
    target = make_user(node, Role.DOCUMENTER, totp=True)
    if who == "administrator-not-yet-enrolled":
        admin = make_user(node, Role.ADMINISTRATOR, totp=False)
        actor = view_of(node, sign_in(node, admin)).actor
    else:
        actor = actor_for(make_user(node, Role(who)))
    before, stored = counts(node), row(node, target.id)
    for operation in every_management_operation(target.id):
        with node.uow() as uow, pytest.raises(PermissionDenied):
            operation(uow, actor)
    after = row(node, target.id)
    assert counts(node) == before
    assert (after.role_names, after.is_active, after.password_hash, after.totp_secret) == (
        stored.role_names,
        stored.is_active,
        stored.password_hash,
        stored.totp_secret,
    )
    if who != "auditor":
        with node.uow() as uow, pytest.raises(PermissionDenied):
            list_users(uow, actor)


def test_the_last_active_administrator_stays(node: Node) -> None:
    first = admin_id(node)
    with node.uow() as uow, pytest.raises(Conflict):
        disable_user(uow, OPERATOR, first)
    with node.uow() as uow, pytest.raises(Conflict):
        set_roles(uow, OPERATOR, first, ["documenter"])
    with node.uow() as uow:
        set_roles(uow, OPERATOR, first, ["administrator", "auditor"])
    assert row(node, first).role_names == ["administrator", "auditor"]

    second = make_user(node, Role.ADMINISTRATOR)
    with node.uow() as uow:
        disable_user(uow, OPERATOR, second.id)
    with node.uow() as uow, pytest.raises(Conflict):
        set_roles(uow, OPERATOR, first, ["auditor"])
    with node.uow() as uow:
        enable_user(uow, OPERATOR, second.id)
    with node.uow() as uow:
        set_roles(uow, OPERATOR, first, ["auditor"])
    assert row(node, first).role_names == ["auditor"]
    with node.uow() as uow, pytest.raises(Conflict):
        disable_user(uow, OPERATOR, second.id)
    assert row(node, second.id).is_active


def test_nobody_disables_their_own_account(node: Node) -> None:
    admin = make_user(node, Role.ADMINISTRATOR)
    with node.uow() as uow, pytest.raises(Conflict):
        disable_user(uow, actor_for(admin), admin.id)
    assert row(node, admin.id).is_active


def test_disabling_ends_sessions_and_tokens_until_enabled(node: Node) -> None:
    admin = actor_for(make_user(node, Role.ADMINISTRATOR))
    user = make_user(node, Role.AUDITOR)
    token = sign_in(node, user)
    with node.uow() as uow:
        secret = create_token(
            uow,
            node.settings,
            actor_for(user),
            user_id=user.id,
            name="s",
            scopes=["audit:read"],
            days=5,
        ).secret
    with node.uow() as uow:
        disable_user(uow, admin, user.id)
    with node.uow() as uow:
        assert resolve_session(uow, node.settings, token) is None
        assert resolve_token(uow, secret) is None
        assert uow.session.scalars(select(ApiToken.revoked_at)).one() is not None
    stored = row(node, user.id)
    assert not stored.is_active
    assert stored.disabled_at is not None
    assert not can_sign_in(node, user.username, user.password)
    with node.uow() as uow, pytest.raises(Conflict):
        disable_user(uow, admin, user.id)
    assert [e.target_id for e in audit_events(node, "user.disable")] == [user.id]

    with node.uow() as uow:
        enable_user(uow, admin, user.id)
    assert row(node, user.id).disabled_at is None
    assert can_sign_in(node, user.username, user.password)
    with node.uow() as uow, pytest.raises(Conflict):
        enable_user(uow, admin, user.id)
    with node.uow() as uow:
        assert resolve_token(uow, secret) is None, "enabling does not bring tokens back"


def test_set_roles_replaces_roles_and_ends_sessions(node: Node) -> None:
    admin = actor_for(make_user(node, Role.ADMINISTRATOR))
    user = make_user(node, Role.DOCUMENTER, Role.ANALYST)
    token = sign_in(node, user)
    with node.uow() as uow:
        set_roles(uow, admin, user.id, ["analyst", "auditor"])
    assert row(node, user.id).role_names == ["analyst", "auditor"]
    with node.uow() as uow:
        assert resolve_session(uow, node.settings, token) is None
    [event] = audit_events(node, "user.roles")
    assert event.detail == {"before": ["analyst", "documenter"], "after": ["analyst", "auditor"]}
    with node.uow() as uow, pytest.raises(ValidationError):
        set_roles(uow, admin, user.id, ["analyst", "king"])
    with node.uow() as uow, pytest.raises(NotFound):
        set_roles(uow, admin, "no-such-id", ["analyst"])
    assert row(node, user.id).role_names == ["analyst", "auditor"]


def test_reset_password_issues_a_new_one_time_password(node: Node) -> None:
    admin = actor_for(make_user(node, Role.ADMINISTRATOR))
    user = make_user(node)
    token = sign_in(node, user)
    with node.uow() as uow:
        uow.session.execute(
            update(User)
            .where(User.id == user.id)
            .values(locked_until=utcnow() + dt.timedelta(hours=1), failed_logins=3)
        )
        uow.commit()
    with node.uow() as uow:
        fresh = reset_password(uow, admin, user.id).one_time_password
    stored = row(node, user.id)
    assert (stored.must_change_password, stored.locked_until, stored.failed_logins) == (
        True,
        None,
        0,
    )
    with node.uow() as uow:
        assert resolve_session(uow, node.settings, token) is None
    assert not can_sign_in(node, user.username, user.password)
    with node.uow() as uow:
        grant = login(uow, node.settings, username=user.username, password=fresh)
    assert view_of(node, grant.token).must_change_password
    assert [e.target_id for e in audit_events(node, "user.reset_password")] == [user.id]


def test_reset_second_factor_makes_the_user_enrol_again(node: Node) -> None:
    user = make_user(node, Role.ADMINISTRATOR, totp=False)
    token = sign_in(node, user)
    with node.uow() as uow:
        secret = begin_enrolment(uow, node.settings, view_of(node, token)).secret
    with node.uow() as uow:
        confirm_enrolment(uow, node.settings, view_of(node, token), pyotp.TOTP(secret).now())
    assert view_of(node, token).complete
    with node.uow() as uow:
        reset_second_factor(uow, OPERATOR, user.id)
    stored = row(node, user.id)
    assert (stored.totp_secret, stored.totp_enabled_at, stored.totp_last_step) == (None, None, 0)
    with node.uow() as uow:
        assert uow.session.scalars(select(RecoveryCode)).all() == []
        assert resolve_session(uow, node.settings, token) is None
    view = view_of(node, sign_in(node, user))
    assert (view.needs_second_factor, view.must_enrol_second_factor) == (False, True)
    assert [e.target_id for e in audit_events(node, "user.reset_second_factor")] == [user.id]


def documented_username(name: str) -> bool:
    """The rule as the error message states it."""
    return (
        3 <= len(name) <= 64
        and name[0] in EDGE
        and name[-1] in EDGE
        and all(char in INNER for char in name)
    )


names = st.one_of(
    st.text(),
    st.text(alphabet=string.ascii_letters + string.digits + "._- \t\n@", max_size=70),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,64}[A-Za-z0-9]", fullmatch=True),
)


@given(raw=names)
def test_username_normalisation_accepts_exactly_the_documented_names(raw: str) -> None:
    expected = raw.strip().lower()
    if documented_username(expected):
        assert normalise_username(raw) == expected
    else:
        with pytest.raises(ValidationError) as caught:
            normalise_username(raw)
        assert caught.value.fields == {"username": "invalid"}
