"""API tokens: scoped by the user's roles, expiring, revocable, stored only as hashes."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import func, select, update

from comity.db import utcnow
from comity.errors import NotFound, PermissionDenied, ValidationError
from comity.identity.models import ApiToken
from comity.identity.permissions import Actor, Permission, Role, cli_actor
from comity.identity.tokens import (
    TOKEN_PREFIX,
    NewToken,
    create_token,
    list_tokens,
    resolve_token,
    revoke_token,
)
from comity.identity.users import disable_user, set_roles
from comity.node import Node
from factories import MadeUser, actor_for, audit_events, make_user

OPERATOR = cli_actor("tester")


def issue(
    node: Node,
    owner: MadeUser,
    scopes: list[str],
    *,
    actor: Actor | None = None,
    days: int = 30,
    name: str = "nightly export",
) -> NewToken:
    with node.uow() as uow:
        return create_token(
            uow,
            node.settings,
            actor or actor_for(owner),
            user_id=owner.id,
            name=name,
            scopes=scopes,
            days=days,
        )


def resolve(node: Node, secret: str) -> Actor | None:
    with node.uow() as uow:
        return resolve_token(uow, secret, ip="198.51.100.3")


def token_count(node: Node) -> int:
    with node.uow() as uow:
        return uow.session.scalar(select(func.count(ApiToken.id))) or 0


def test_a_token_acts_with_its_scopes_and_is_stored_as_a_hash(node: Node) -> None:
    auditor = make_user(node, Role.AUDITOR)
    before = utcnow()
    created = issue(node, auditor, ["audit:read", " node:view ", "audit:read"], days=7)
    assert created.secret.startswith(TOKEN_PREFIX)
    with node.uow() as uow:
        stored = uow.session.scalars(select(ApiToken)).one()
    assert stored.token_hash == hashlib.sha256(created.secret.encode()).hexdigest()
    columns = [stored.id, stored.name, stored.token_hash, *stored.scopes]
    assert not any(created.secret in value for value in columns)
    assert stored.scopes == ["audit:read", "node:view"]
    assert before + dt.timedelta(days=7) <= stored.expires_at <= utcnow() + dt.timedelta(days=7)
    assert stored.last_used_at is None
    [event] = audit_events(node, "token.create")
    assert event.detail["scopes"] == ["audit:read", "node:view"]
    assert created.secret not in str(event.detail)

    actor = resolve(node, created.secret)
    assert actor is not None
    assert (actor.via, actor.user_id, actor.token_id, actor.ip) == (
        "token",
        auditor.id,
        stored.id,
        "198.51.100.3",
    )
    assert actor.permissions == {Permission.AUDIT_READ, Permission.NODE_VIEW}
    with node.uow() as uow:
        assert uow.session.scalars(select(ApiToken.last_used_at)).one() is not None


def test_a_token_cannot_grant_more_than_its_users_roles(node: Node) -> None:
    documenter = make_user(node, Role.DOCUMENTER)
    with pytest.raises(PermissionDenied, match="audit:read"):
        issue(node, documenter, ["node:view", "audit:read"])
    admin = make_user(node, Role.ADMINISTRATOR)
    with pytest.raises(PermissionDenied):
        issue(node, documenter, ["users:manage"], actor=actor_for(admin))
    assert token_count(node) == 0


def test_tokens_for_someone_else_need_users_manage(node: Node) -> None:
    documenter = make_user(node, Role.DOCUMENTER)
    auditor = make_user(node, Role.AUDITOR)
    with pytest.raises(PermissionDenied):
        issue(node, documenter, ["node:view"], actor=actor_for(auditor))
    assert token_count(node) == 0
    issue(node, documenter, ["node:view"], actor=actor_for(make_user(node, Role.ADMINISTRATOR)))
    assert token_count(node) == 1


@pytest.mark.parametrize(
    ("scopes", "days", "name", "fields"),
    [
        (["node:view", "cases:delete"], 30, "x", {"scopes": "unknown"}),
        (["", " "], 30, "x", {"scopes": "required"}),
        (["node:view"], 0, "x", {"days": "range"}),
        (["node:view"], 366, "x", {"days": "range"}),
        (["node:view"], 30, "   ", {"name": "length"}),
        (["node:view"], 30, "n" * 101, {"name": "length"}),
    ],
)
def test_invalid_tokens_are_refused(
    node: Node, scopes: list[str], days: int, name: str, fields: dict[str, str]
) -> None:
    assert node.settings.api_token_max_days == 365
    with pytest.raises(ValidationError) as caught:
        issue(node, make_user(node), scopes, days=days, name=name)
    assert caught.value.fields == fields
    assert token_count(node) == 0


def test_no_tokens_for_disabled_or_unknown_users(node: Node) -> None:
    ghost = make_user(node, active=False)
    with pytest.raises(NotFound):
        issue(node, ghost, ["node:view"], actor=OPERATOR)
    with node.uow() as uow, pytest.raises(NotFound):
        create_token(
            uow, node.settings, OPERATOR, user_id="nobody", name="x", scopes=["node:view"], days=1
        )


def test_expired_tokens_resolve_to_nothing(node: Node) -> None:
    secret = issue(node, make_user(node), ["node:view"]).secret
    with node.uow() as uow:
        uow.session.execute(update(ApiToken).values(expires_at=utcnow() + dt.timedelta(minutes=1)))
        uow.commit()
    assert resolve(node, secret) is not None
    with node.uow() as uow:
        uow.session.execute(update(ApiToken).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        uow.commit()
    assert resolve(node, secret) is None


def test_revoked_tokens_resolve_to_nothing(node: Node) -> None:
    owner = make_user(node)
    created = issue(node, owner, ["node:view"])
    with node.uow() as uow:
        revoke_token(uow, actor_for(owner), created.token.id)
    assert resolve(node, created.secret) is None
    [event] = audit_events(node, "token.revoke")
    assert event.target_id == created.token.id


def test_tokens_of_disabled_users_resolve_to_nothing(node: Node) -> None:
    owner = make_user(node)
    secret = issue(node, owner, ["node:view"]).secret
    with node.uow() as uow:
        disable_user(uow, OPERATOR, owner.id)
    assert resolve(node, secret) is None


@pytest.mark.parametrize(
    "secret", ["", "comity_unknown", "not-a-comity-token", TOKEN_PREFIX + "x" * 200]
)
def test_unknown_tokens_resolve_to_nothing(node: Node, secret: str) -> None:
    make_user(node)
    assert resolve(node, secret) is None


def test_effective_permissions_follow_the_users_roles(node: Node) -> None:
    owner = make_user(node, Role.AUDITOR)
    secret = issue(node, owner, ["audit:read", "users:read", "node:view"]).secret
    with node.uow() as uow:
        set_roles(uow, OPERATOR, owner.id, ["documenter"])
    narrowed = resolve(node, secret)
    assert narrowed is not None
    assert narrowed.permissions == {Permission.NODE_VIEW}
    with node.uow() as uow:
        set_roles(uow, OPERATOR, owner.id, ["administrator"])
    widened = resolve(node, secret)
    assert widened is not None
    assert widened.permissions == {
        Permission.AUDIT_READ,
        Permission.USERS_READ,
        Permission.NODE_VIEW,
    }, "a token never exceeds its own scopes"


def test_listing_and_revoking_other_peoples_tokens(node: Node) -> None:
    owner = make_user(node, Role.DOCUMENTER)
    other = make_user(node, Role.DOCUMENTER)
    auditor = make_user(node, Role.AUDITOR)
    mine = issue(node, owner, ["node:view"]).token
    theirs = issue(node, other, ["node:view"]).token
    with node.uow() as uow:
        assert [t.id for t in list_tokens(uow, actor_for(owner), user_id=owner.id)] == [mine.id]
        with pytest.raises(PermissionDenied):
            list_tokens(uow, actor_for(owner), user_id=other.id)
        with pytest.raises(PermissionDenied):
            list_tokens(uow, actor_for(owner))
        assert {t.id for t in list_tokens(uow, actor_for(auditor))} == {mine.id, theirs.id}
    with node.uow() as uow, pytest.raises(PermissionDenied):
        revoke_token(uow, actor_for(owner), theirs.id)
    with node.uow() as uow, pytest.raises(PermissionDenied):
        revoke_token(uow, actor_for(auditor), theirs.id)
    with node.uow() as uow, pytest.raises(NotFound):
        revoke_token(uow, actor_for(owner), "no-such-token")
    with node.uow() as uow:
        assert uow.session.scalars(select(ApiToken.revoked_at)).all() == [None, None]
        revoke_token(uow, OPERATOR, theirs.id)
    with node.uow() as uow:
        revoked = uow.session.get(ApiToken, theirs.id)
        assert revoked is not None
        assert revoked.revoked_at is not None
