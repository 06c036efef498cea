"""Signing in and out: passwords, throttling, lock-out, browser sessions.

A browser session passes through states derived from the user and the session, never
stored twice: a second factor still to give, a one-time password still to change, an
authenticator still to enrol (required for administrators, or for everyone when the node
says so). Only a session with nothing pending carries the user's permissions.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from comity.audit.models import Outcome
from comity.audit.services import record
from comity.db import UnitOfWork, utcnow
from comity.errors import AccountLocked, InvalidCredentials, Throttled, ValidationError
from comity.identity.models import AuthSession, LoginFailure, User
from comity.identity.passwords import (
    MAX_LENGTH,
    check_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from comity.identity.permissions import Actor, Role, anonymous, permissions_for
from comity.identity.users import get_by_username, revoke_all_sessions
from comity.secretbox import token_hash
from comity.settings import Settings

LAST_SEEN_GRANULARITY = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class SessionGrant:
    token: str
    session: AuthSession


@dataclass(frozen=True)
class SessionView:
    """A live browser session with what it still has to do before full access."""

    session: AuthSession
    user: User
    needs_second_factor: bool
    must_change_password: bool
    must_enrol_second_factor: bool
    actor: Actor

    @property
    def complete(self) -> bool:
        return not (
            self.needs_second_factor or self.must_change_password or self.must_enrol_second_factor
        )


def second_factor_required(settings: Settings, user: User) -> bool:
    return settings.require_mfa_for_all or Role.ADMINISTRATOR.value in user.role_names


def _as_actor(user: User, session: AuthSession, ip: str, user_agent: str, full: bool) -> Actor:
    roles = frozenset(Role(name) for name in user.role_names)
    return Actor(
        label=user.username,
        via="session",
        permissions=permissions_for(roles) if full else frozenset(),
        user_id=user.id,
        organisation_id=user.organisation_id,
        ip=ip,
        user_agent=user_agent,
        session_id=session.id,
        roles=roles,
    )


def _recent_failures_from(session: Session, ip: str, since: dt.datetime) -> int:
    return (
        session.scalar(
            select(func.count(LoginFailure.id)).where(
                LoginFailure.ip == ip, LoginFailure.at >= since
            )
        )
        or 0
    )


def note_failure(
    session: Session, settings: Settings, user: User | None, username: str, ip: str
) -> None:
    """Count a failed password or second factor; lock the account at the threshold."""
    session.add(LoginFailure(username=username[:64], ip=ip[:64]))
    if user is not None:
        user.failed_logins += 1
        if user.failed_logins >= settings.lockout_threshold:
            user.locked_until = utcnow() + dt.timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
            revoke_all_sessions(session, user.id)


def login(
    uow: UnitOfWork,
    settings: Settings,
    *,
    username: str,
    password: str,
    ip: str = "",
    user_agent: str = "",
) -> SessionGrant:
    """Check a user name and password and open a browser session.

    Failures are recorded and committed before the error is raised, so that throttling,
    lock-out and the audit trail hold whatever the caller does next.
    """
    session = uow.session
    who = anonymous(ip, user_agent)
    now = utcnow()
    name = username.strip().lower()[:64]
    if not name or not password or len(password) > MAX_LENGTH:
        raise ValidationError("Enter a user name and a password.", fields={"username": "required"})
    since = now - dt.timedelta(minutes=settings.ip_throttle_minutes)
    if ip and _recent_failures_from(session, ip, since) >= settings.ip_throttle_failures:
        record(
            session,
            who,
            "auth.login",
            outcome=Outcome.DENIED,
            detail={"username": name, "reason": "throttled"},
        )
        uow.commit()
        raise Throttled("Too many failed sign-ins from your address; wait a few minutes.")
    user = get_by_username(session, name)
    if user is not None and user.locked_until is not None and user.locked_until > now:
        record(
            session,
            who,
            "auth.login",
            outcome=Outcome.DENIED,
            target_type="user",
            target_id=user.id,
            detail={"username": name, "reason": "locked"},
        )
        uow.commit()
        raise AccountLocked(
            "This account is locked after too many failed attempts. Try again after "
            f"{user.locked_until:%H:%M} UTC, or ask an administrator to reset it."
        )
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok or not user.is_active:
        reason = "unknown_user" if user is None else ("disabled" if password_ok else "password")
        note_failure(session, settings, user if reason == "password" else None, name, ip)
        record(
            session,
            who,
            "auth.login",
            outcome=Outcome.FAILURE,
            target_type="user" if user else "",
            target_id=user.id if user else "",
            detail={"username": name, "reason": reason},
        )
        uow.commit()
        raise InvalidCredentials("The user name or password is wrong, or the account is disabled.")
    if not user.totp_enabled:
        # With a second factor still to give, verify_second_factor forgives the failures.
        user.failed_logins = 0
    user.locked_until = None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = secrets.token_urlsafe(32)
    auth = AuthSession(
        token_hash=token_hash(token),
        user_id=user.id,
        expires_at=now + dt.timedelta(hours=settings.session_max_hours),
        ip=ip[:64],
        user_agent=user_agent[:300],
    )
    session.add(auth)
    session.flush()
    record(
        session,
        _as_actor(user, auth, ip, user_agent, full=False),
        "auth.login",
        target_type="user",
        target_id=user.id,
        detail={"session": auth.id},
    )
    uow.commit()
    return SessionGrant(token=token, session=auth)


def resolve_session(
    uow: UnitOfWork, settings: Settings, token: str, *, ip: str = "", user_agent: str = ""
) -> SessionView | None:
    """The live session behind a cookie token, or ``None`` if it is unknown or over."""
    if not token or len(token) > 200:
        return None
    session = uow.session
    auth = session.scalars(
        select(AuthSession).where(AuthSession.token_hash == token_hash(token))
    ).first()
    now = utcnow()
    if auth is None or auth.revoked_at is not None or auth.expires_at <= now:
        return None
    if auth.last_seen_at + dt.timedelta(minutes=settings.session_idle_minutes) <= now:
        return None
    user = auth.user
    if not user.is_active:
        return None
    if now - auth.last_seen_at >= LAST_SEEN_GRANULARITY:
        auth.last_seen_at = now
        uow.commit()
    needs_second = user.totp_enabled and auth.second_factor_at is None
    must_change = user.must_change_password
    must_enrol = second_factor_required(settings, user) and not user.totp_enabled
    full = not (needs_second or must_change or must_enrol)
    return SessionView(
        session=auth,
        user=user,
        needs_second_factor=needs_second,
        must_change_password=must_change,
        must_enrol_second_factor=must_enrol,
        actor=_as_actor(user, auth, ip, user_agent, full=full),
    )


def logout(uow: UnitOfWork, view: SessionView) -> None:
    auth = uow.session.get(AuthSession, view.session.id)
    if auth is not None and auth.revoked_at is None:
        auth.revoked_at = utcnow()
    record(uow.session, view.actor, "auth.logout", target_type="user", target_id=view.user.id)
    uow.commit()


def change_password(
    uow: UnitOfWork, view: SessionView, *, current: str, new: str, confirm: str
) -> None:
    """Change one's own password; every other session of the user ends."""
    session = uow.session
    user = session.get(User, view.user.id)
    if user is None:
        raise InvalidCredentials("Your account no longer exists.")
    if new != confirm:
        raise ValidationError("The two new passwords differ.", fields={"confirm": "mismatch"})
    if not verify_password(user.password_hash, current[:MAX_LENGTH]):
        record(
            session,
            view.actor,
            "auth.password_change",
            outcome=Outcome.FAILURE,
            target_type="user",
            target_id=user.id,
            detail={"reason": "current_password"},
        )
        uow.commit()
        raise InvalidCredentials("The current password is wrong.", fields={"current": "wrong"})
    if new == current:
        raise ValidationError(
            "Choose a password different from the current one.", fields={"password": "unchanged"}
        )
    check_policy(new, username=user.username)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.password_changed_at = utcnow()
    revoke_all_sessions(session, user.id, keep=view.session.id)
    record(session, view.actor, "auth.password_change", target_type="user", target_id=user.id)
    uow.commit()
