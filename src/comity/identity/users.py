"""Use cases for user accounts: create, list, roles, disable and enable, reset password."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from comity.audit.services import record
from comity.db import UnitOfWork, utcnow
from comity.errors import Conflict, NotFound, ValidationError
from comity.identity.models import ApiToken, AuthSession, RecoveryCode, User, UserRole
from comity.identity.organisations import local_organisation
from comity.identity.passwords import hash_password, one_time_password
from comity.identity.permissions import Actor, Permission, Role, require

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]$")


@dataclass(frozen=True)
class NewUser:
    user: User
    one_time_password: str


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    roles: set[Role] = set()
    unknown = []
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        try:
            roles.add(Role(value))
        except ValueError:
            unknown.append(value)
    if unknown:
        raise ValidationError(
            f"Unknown role(s): {', '.join(unknown)}. Choose from: {', '.join(Role)}.",
            fields={"roles": "unknown"},
        )
    if not roles:
        raise ValidationError("Give the user at least one role.", fields={"roles": "required"})
    return frozenset(roles)


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_RE.match(name):
        raise ValidationError(
            "A user name has 3 to 64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit.",
            fields={"username": "invalid"},
        )
    return name


def _get(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def get_by_username(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username.strip().lower())).first()


def revoke_all_sessions(session: Session, user_id: str, *, keep: str | None = None) -> None:
    query = (
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    session.execute(query)


def create_user(
    uow: UnitOfWork,
    actor: Actor,
    *,
    username: str,
    roles: Iterable[str],
    display_name: str = "",
    email: str = "",
) -> NewUser:
    """Create a user of this node's organisation with a one-time password."""
    require(actor, Permission.USERS_MANAGE)
    name = normalise_username(username)
    role_set = parse_roles(roles)
    display_name = display_name.strip()[:200]
    email = email.strip()[:320]
    if email and ("@" not in email or " " in email):
        raise ValidationError("The e-mail address is not valid.", fields={"email": "invalid"})
    session = uow.session
    if get_by_username(session, name) is not None:
        raise Conflict(f"The user name '{name}' is taken.", fields={"username": "taken"})
    password = one_time_password()
    user = User(
        organisation_id=local_organisation(session).id,
        username=name,
        display_name=display_name or name,
        email=email,
        password_hash=hash_password(password),
        must_change_password=True,
        role_rows=[UserRole(role=role.value) for role in sorted(role_set)],
    )
    session.add(user)
    session.flush()
    record(
        session,
        actor,
        "user.create",
        target_type="user",
        target_id=user.id,
        detail={"username": name, "roles": sorted(role_set)},
    )
    uow.commit()
    return NewUser(user=user, one_time_password=password)


def list_users(uow: UnitOfWork, actor: Actor, *, include_disabled: bool = True) -> Sequence[User]:
    require(actor, Permission.USERS_READ)
    query = select(User).order_by(User.username)
    if not include_disabled:
        query = query.where(User.is_active.is_(True))
    return uow.session.scalars(query).all()


def get_user(uow: UnitOfWork, actor: Actor, user_id: str) -> User:
    require(actor, Permission.USERS_READ)
    return _get(uow.session, user_id)


def find_user(uow: UnitOfWork, actor: Actor, username_or_id: str) -> User:
    require(actor, Permission.USERS_READ)
    user = get_by_username(uow.session, username_or_id) or uow.session.get(User, username_or_id)
    if user is None:
        raise NotFound(f"No user '{username_or_id}'.")
    return user


def _active_admins(session: Session) -> int:
    return len(
        session.scalars(
            select(User.id)
            .join(UserRole)
            .where(User.is_active.is_(True), UserRole.role == Role.ADMINISTRATOR.value)
        ).all()
    )


def set_roles(uow: UnitOfWork, actor: Actor, user_id: str, roles: Iterable[str]) -> User:
    require(actor, Permission.USERS_MANAGE)
    session = uow.session
    user = _get(session, user_id)
    role_set = parse_roles(roles)
    before = user.role_names
    if (
        Role.ADMINISTRATOR.value in before
        and Role.ADMINISTRATOR not in role_set
        and user.is_active
        and _active_admins(session) <= 1
    ):
        raise Conflict("This is the last active administrator; appoint another one first.")
    user.role_rows = [UserRole(role=role.value) for role in sorted(role_set)]
    session.flush()
    revoke_all_sessions(session, user.id)
    record(
        session,
        actor,
        "user.roles",
        target_type="user",
        target_id=user.id,
        detail={"before": before, "after": sorted(role_set)},
    )
    uow.commit()
    return user


def disable_user(uow: UnitOfWork, actor: Actor, user_id: str) -> User:
    """Disable an account: its sessions and API tokens stop working at once."""
    require(actor, Permission.USERS_MANAGE)
    session = uow.session
    user = _get(session, user_id)
    if not user.is_active:
        raise Conflict(f"'{user.username}' is already disabled.")
    if user.id == actor.user_id:
        raise Conflict("You cannot disable your own account.")
    if Role.ADMINISTRATOR.value in user.role_names and _active_admins(session) <= 1:
        raise Conflict("This is the last active administrator; appoint another one first.")
    user.is_active = False
    user.disabled_at = utcnow()
    revoke_all_sessions(session, user.id)
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    record(
        session,
        actor,
        "user.disable",
        target_type="user",
        target_id=user.id,
        detail={"username": user.username},
    )
    uow.commit()
    return user


def enable_user(uow: UnitOfWork, actor: Actor, user_id: str) -> User:
    require(actor, Permission.USERS_MANAGE)
    session = uow.session
    user = _get(session, user_id)
    if user.is_active:
        raise Conflict(f"'{user.username}' is already active.")
    user.is_active = True
    user.disabled_at = None
    user.failed_logins = 0
    user.locked_until = None
    record(
        session,
        actor,
        "user.enable",
        target_type="user",
        target_id=user.id,
        detail={"username": user.username},
    )
    uow.commit()
    return user


def reset_password(uow: UnitOfWork, actor: Actor, user_id: str) -> NewUser:
    """Give the user a new one-time password; sessions end and any lock-out is lifted."""
    require(actor, Permission.USERS_MANAGE)
    session = uow.session
    user = _get(session, user_id)
    password = one_time_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.password_changed_at = utcnow()
    user.failed_logins = 0
    user.locked_until = None
    revoke_all_sessions(session, user.id)
    record(
        session,
        actor,
        "user.reset_password",
        target_type="user",
        target_id=user.id,
        detail={"username": user.username},
    )
    uow.commit()
    return NewUser(user=user, one_time_password=password)


def reset_second_factor(uow: UnitOfWork, actor: Actor, user_id: str) -> User:
    """Remove a lost authenticator; the user enrols again at next sign-in."""
    require(actor, Permission.USERS_MANAGE)
    session = uow.session
    user = _get(session, user_id)
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = 0
    for code in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(code)
    revoke_all_sessions(session, user.id)
    record(
        session,
        actor,
        "user.reset_second_factor",
        target_type="user",
        target_id=user.id,
        detail={"username": user.username},
    )
    uow.commit()
    return user
