"""Second factor: TOTP (RFC 6238) enrolment and checks, and single-use recovery codes.

The TOTP seed is sealed at rest with a key derived from the node secret, bound to the
user's id. A code is accepted once: the time step it belongs to must be later than the
last accepted one, so an overheard code cannot be replayed within its window.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from dataclasses import dataclass

import pyotp
import segno
from sqlalchemy import select

from comity.audit.models import Outcome
from comity.audit.services import record
from comity.db import UnitOfWork, utcnow
from comity.errors import InvalidCredentials, ValidationError
from comity.identity.authn import SessionView, note_failure
from comity.identity.models import AuthSession, RecoveryCode, User
from comity.secretbox import derive_key, open_sealed, seal, token_hash
from comity.settings import Settings

ISSUER = "Comity"
STEP_SECONDS = 30
ACCEPTED_DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg_data_uri: str


def _seal_key(settings: Settings) -> bytes:
    return derive_key(settings.secret_bytes(), "totp-seed")


def _secret_of(settings: Settings, user: User) -> str:
    if user.totp_secret is None:
        raise ValidationError("No authenticator is being enrolled.", fields={"code": "none"})
    return open_sealed(_seal_key(settings), user.totp_secret, user.id.encode()).decode()


def _matching_step(secret: str, code: str, last_step: int, now: float) -> int | None:
    totp = pyotp.TOTP(secret)
    current = int(now) // STEP_SECONDS
    for step in range(current - ACCEPTED_DRIFT_STEPS, current + ACCEPTED_DRIFT_STEPS + 1):
        if step > last_step and hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _normalise_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _new_recovery_codes(uow: UnitOfWork, user: User) -> list[str]:
    session = uow.session
    for old in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(old)
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()
        codes.append(f"{raw[:8]}-{raw[8:]}")
        session.add(RecoveryCode(user_id=user.id, code_hash=token_hash(raw)))
    return codes


def begin_enrolment(uow: UnitOfWork, settings: Settings, view: SessionView) -> Enrolment:
    """Make a new seed for the user and show it as a QR code (not active until confirmed)."""
    user = uow.session.get(User, view.user.id)
    if user is None:
        raise InvalidCredentials("Your account no longer exists.")
    if user.totp_enabled:
        raise ValidationError("An authenticator is already enrolled for this account.")
    secret = pyotp.random_base32()
    user.totp_secret = seal(_seal_key(settings), secret.encode(), user.id.encode())
    record(uow.session, view.actor, "auth.mfa_enrol_start", target_type="user", target_id=user.id)
    uow.commit()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    qr = segno.make(uri, error="m")
    return Enrolment(secret=secret, uri=uri, qr_svg_data_uri=qr.svg_data_uri(scale=5))


def pending_enrolment(settings: Settings, view: SessionView) -> Enrolment | None:
    """The seed being enrolled, to show again after a mistyped code."""
    user = view.user
    if user.totp_enabled or user.totp_secret is None:
        return None
    secret = _secret_of(settings, user)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    return Enrolment(
        secret=secret, uri=uri, qr_svg_data_uri=segno.make(uri, error="m").svg_data_uri(scale=5)
    )


def confirm_enrolment(
    uow: UnitOfWork, settings: Settings, view: SessionView, code: str, *, now: float | None = None
) -> list[str]:
    """Activate the authenticator with a first code; returns the recovery codes, once."""
    session = uow.session
    user = session.get(User, view.user.id)
    if user is None or user.totp_enabled:
        raise ValidationError("No authenticator is being enrolled.", fields={"code": "none"})
    step = _matching_step(
        _secret_of(settings, user), _normalise_code(code), 0, time.time() if now is None else now
    )
    if step is None:
        record(
            session,
            view.actor,
            "auth.mfa_enrol",
            outcome=Outcome.FAILURE,
            target_type="user",
            target_id=user.id,
        )
        uow.commit()
        raise InvalidCredentials(
            "That code is not right; check the clock of your device.", fields={"code": "wrong"}
        )
    user.totp_last_step = step
    user.totp_enabled_at = utcnow()
    codes = _new_recovery_codes(uow, user)
    auth = session.get(AuthSession, view.session.id)
    if auth is not None:
        auth.second_factor_at = utcnow()
    record(session, view.actor, "auth.mfa_enrol", target_type="user", target_id=user.id)
    uow.commit()
    return codes


def verify_second_factor(
    uow: UnitOfWork, settings: Settings, view: SessionView, code: str, *, now: float | None = None
) -> None:
    """Complete a sign-in with a TOTP code or an unused recovery code."""
    session = uow.session
    user = session.get(User, view.user.id)
    auth = session.get(AuthSession, view.session.id)
    if user is None or auth is None or not user.totp_enabled:
        raise InvalidCredentials("There is no second factor to check for this session.")
    normalised = _normalise_code(code)
    method = ""
    if normalised.isdigit():
        step = _matching_step(
            _secret_of(settings, user),
            normalised,
            user.totp_last_step,
            time.time() if now is None else now,
        )
        if step is not None:
            user.totp_last_step = step
            method = "totp"
    elif normalised:
        row = session.scalars(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == token_hash(normalised),
                RecoveryCode.used_at.is_(None),
            )
        ).first()
        if row is not None:
            row.used_at = utcnow()
            method = "recovery_code"
    if not method:
        note_failure(session, settings, user, user.username, view.actor.ip or "")
        record(
            session,
            view.actor,
            "auth.second_factor",
            outcome=Outcome.FAILURE,
            target_type="user",
            target_id=user.id,
        )
        uow.commit()
        raise InvalidCredentials(
            "That code is not right, or it was already used.", fields={"code": "wrong"}
        )
    user.failed_logins = 0
    auth.second_factor_at = utcnow()
    record(
        session,
        view.actor,
        "auth.second_factor",
        target_type="user",
        target_id=user.id,
        detail={"method": method},
    )
    uow.commit()


def remaining_recovery_codes(uow: UnitOfWork, user_id: str) -> int:
    return len(
        uow.session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )
