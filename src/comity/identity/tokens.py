"""API tokens for scripts: scoped, expiring, stored only as hashes, revocable.

A token's effective permissions are its scopes intersected with what its user's roles
grant *at the time of use*, so taking a role away also narrows the user's tokens.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from comity.audit.services import record
from comity.db import UnitOfWork, utcnow
from comity.errors import NotFound, PermissionDenied, ValidationError
from comity.identity.models import ApiToken, User
from comity.identity.permissions import Actor, Permission, Role, permissions_for, require
from comity.secretbox import token_hash
from comity.settings import Settings

TOKEN_PREFIX = "comity_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str


def _user_permissions(user: User) -> frozenset[Permission]:
    return permissions_for({Role(name) for name in user.role_names})


def parse_scopes(values: Iterable[str]) -> frozenset[Permission]:
    scopes: set[Permission] = set()
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        try:
            scopes.add(Permission(value))
        except ValueError:
            raise ValidationError(
                f"Unknown scope '{value}'. Scopes are permissions: {', '.join(Permission)}.",
                fields={"scopes": "unknown"},
            ) from None
    if not scopes:
        raise ValidationError("Give the token at least one scope.", fields={"scopes": "required"})
    return frozenset(scopes)


def create_token(
    uow: UnitOfWork,
    settings: Settings,
    actor: Actor,
    *,
    user_id: str,
    name: str,
    scopes: Iterable[str],
    days: int,
) -> NewToken:
    """Create a token for ``user_id`` (one's own, or anyone's with ``users:manage``)."""
    require(actor, Permission.TOKENS_OWN)
    if user_id != actor.user_id:
        require(actor, Permission.USERS_MANAGE)
    user = uow.session.get(User, user_id)
    if user is None or not user.is_active:
        raise NotFound("No such active user.")
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise ValidationError("Name the token (1 to 100 characters).", fields={"name": "length"})
    if not 1 <= days <= settings.api_token_max_days:
        raise ValidationError(
            f"A token lives between 1 and {settings.api_token_max_days} days.",
            fields={"days": "range"},
        )
    wanted = parse_scopes(scopes)
    beyond = wanted - _user_permissions(user)
    if beyond:
        raise PermissionDenied(
            f"'{user.username}' does not hold {', '.join(sorted(beyond))}; a token cannot "
            "grant more than its user's roles."
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=token_hash(secret),
        scopes=sorted(wanted),
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    uow.session.add(token)
    uow.session.flush()
    record(
        uow.session,
        actor,
        "token.create",
        target_type="api_token",
        target_id=token.id,
        detail={"user": user.username, "name": name, "scopes": sorted(wanted), "days": days},
    )
    uow.commit()
    return NewToken(token=token, secret=secret)


def list_tokens(uow: UnitOfWork, actor: Actor, *, user_id: str | None = None) -> Sequence[ApiToken]:
    """One's own tokens; anyone's (``user_id=None`` means all) with ``users:read``."""
    require(actor, Permission.TOKENS_OWN)
    query = select(ApiToken).order_by(ApiToken.created_at.desc())
    if user_id != actor.user_id:
        require(actor, Permission.USERS_READ)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return uow.session.scalars(query).all()


def revoke_token(uow: UnitOfWork, actor: Actor, token_id: str) -> ApiToken:
    require(actor, Permission.TOKENS_OWN)
    token = uow.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("No such token.")
    if token.user_id != actor.user_id:
        require(actor, Permission.USERS_MANAGE)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    record(
        uow.session,
        actor,
        "token.revoke",
        target_type="api_token",
        target_id=token.id,
        detail={"user": token.user.username, "name": token.name},
    )
    uow.commit()
    return token


def resolve_token(
    uow: UnitOfWork, secret: str, *, ip: str = "", user_agent: str = ""
) -> Actor | None:
    """The actor behind a bearer token, or ``None`` if it is unknown, expired or revoked."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = uow.session.scalars(
        select(ApiToken).where(ApiToken.token_hash == token_hash(secret))
    ).first()
    now = utcnow()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    user = token.user
    if not user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= dt.timedelta(minutes=1):
        token.last_used_at = now
        uow.commit()
    effective = frozenset(Permission(s) for s in token.scopes) & _user_permissions(user)
    return Actor(
        label=user.username,
        via="token",
        permissions=effective,
        user_id=user.id,
        organisation_id=user.organisation_id,
        ip=ip,
        user_agent=user_agent,
        token_id=token.id,
        roles=frozenset(Role(name) for name in user.role_names),
    )
