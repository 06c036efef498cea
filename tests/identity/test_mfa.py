"""Second factor: TOTP enrolment, checks, replay protection and recovery codes."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select

from comity.errors import AccountLocked, InvalidCredentials, ValidationError
from comity.identity.authn import SessionView, login, resolve_session
from comity.identity.mfa import (
    RECOVERY_CODE_COUNT,
    STEP_SECONDS,
    _seal_key,
    begin_enrolment,
    confirm_enrolment,
    pending_enrolment,
    remaining_recovery_codes,
    verify_second_factor,
)
from comity.identity.models import LoginFailure, RecoveryCode, User
from comity.identity.permissions import Role
from comity.node import Node
from comity.secretbox import open_sealed, token_hash
from comity.settings import Settings
from factories import CLIENT_IP, MadeUser, audit_events, make_user, sign_in, view_of


def wrong_code(secret: str, moment: float) -> str:
    """A six-digit code that no accepted time step around ``moment`` produces."""
    totp = pyotp.TOTP(secret)
    valid = {totp.at(moment + drift * STEP_SECONDS) for drift in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


def enrol(node: Node, view: SessionView) -> tuple[str, list[str]]:
    with node.uow() as uow:
        secret = begin_enrolment(uow, node.settings, view).secret
    with node.uow() as uow:
        codes = confirm_enrolment(uow, node.settings, view, pyotp.TOTP(secret).now())
    return secret, codes


def verify(node: Node, view: SessionView, code: str, **kwargs: object) -> None:
    settings = kwargs.pop("settings", node.settings)
    assert isinstance(settings, Settings)
    with node.uow() as uow:
        verify_second_factor(uow, settings, view, code, **kwargs)  # type: ignore[arg-type]


def stored_user(node: Node, user_id: str) -> User:
    with node.uow() as uow:
        user = uow.session.get(User, user_id)
    assert user is not None
    return user


def test_enrolment_shows_a_qr_code_and_seals_the_secret(node: Node) -> None:
    user = make_user(node, Role.ADMINISTRATOR, totp=False)
    view = view_of(node, sign_in(node, user))
    with node.uow() as uow:
        enrolment = begin_enrolment(uow, node.settings, view)
    assert enrolment.qr_svg_data_uri.startswith("data:image/svg+xml")
    assert enrolment.uri == pyotp.TOTP(enrolment.secret).provisioning_uri(
        name=user.username, issuer_name="Comity"
    )
    sealed = stored_user(node, user.id).totp_secret
    assert sealed is not None
    assert enrolment.secret.encode() not in sealed
    assert enrolment.secret.lower().encode() not in sealed
    key = _seal_key(node.settings)
    assert open_sealed(key, sealed, user.id.encode()) == enrolment.secret.encode()
    with pytest.raises(InvalidTag):
        open_sealed(key, sealed, b"another-user-id")
    assert not stored_user(node, user.id).totp_enabled, "not active until confirmed"
    again = pending_enrolment(node.settings, view_of(node, sign_in(node, user)))
    assert again is not None
    assert again.secret == enrolment.secret
    assert [e.action for e in audit_events(node, "auth.mfa_enrol_start")] == [
        "auth.mfa_enrol_start"
    ]


def test_confirmation_with_a_right_code_enables_and_gives_recovery_codes(node: Node) -> None:
    user = make_user(node, Role.ADMINISTRATOR, totp=False)
    token = sign_in(node, user)
    view = view_of(node, token)
    assert view.must_enrol_second_factor
    _, codes = enrol(node, view)
    assert len(codes) == RECOVERY_CODE_COUNT == len(set(codes))
    assert all(re.fullmatch(r"[a-z2-7]{8}-[a-z2-7]{8}", code) for code in codes)
    assert stored_user(node, user.id).totp_enabled
    with node.uow() as uow:
        hashes = set(uow.session.scalars(select(RecoveryCode.code_hash)))
        assert remaining_recovery_codes(uow, user.id) == RECOVERY_CODE_COUNT
    assert hashes == {token_hash(code.replace("-", "")) for code in codes}
    after = view_of(node, token)
    assert after.complete, "the confirming session has given its second factor"
    assert pending_enrolment(node.settings, after) is None
    with node.uow() as uow, pytest.raises(ValidationError):
        begin_enrolment(uow, node.settings, after)
    assert stored_user(node, user.id).totp_secret is not None
    assert [e.outcome for e in audit_events(node, "auth.mfa_enrol")] == ["success"]


def test_confirmation_with_a_wrong_code_is_refused(node: Node) -> None:
    user = make_user(node, Role.ADMINISTRATOR, totp=False)
    view = view_of(node, sign_in(node, user))
    with node.uow() as uow:
        secret = begin_enrolment(uow, node.settings, view).secret
    moment = time.time()
    with node.uow() as uow, pytest.raises(InvalidCredentials):
        confirm_enrolment(uow, node.settings, view, wrong_code(secret, moment), now=moment)
    assert not stored_user(node, user.id).totp_enabled
    with node.uow() as uow:
        assert remaining_recovery_codes(uow, user.id) == 0
    assert [e.outcome for e in audit_events(node, "auth.mfa_enrol")] == ["failure"]


def test_confirmation_without_an_enrolment_is_refused(node: Node) -> None:
    view = view_of(node, sign_in(node, make_user(node)))
    with node.uow() as uow, pytest.raises(ValidationError):
        confirm_enrolment(uow, node.settings, view, "123456")


def totp_user(node: Node) -> MadeUser:
    return make_user(node, Role.DOCUMENTER, totp=True)


def test_a_totp_code_completes_the_sign_in(node: Node) -> None:
    user = totp_user(node)
    token = sign_in(node, user)
    assert view_of(node, token).needs_second_factor
    verify(node, view_of(node, token), user.totp_now())
    assert view_of(node, token).complete
    [event] = audit_events(node, "auth.second_factor")
    assert (event.outcome, event.detail) == ("success", {"method": "totp"})


def test_a_totp_code_cannot_be_replayed(node: Node) -> None:
    user = totp_user(node)
    assert user.totp_secret is not None
    moment = time.time()
    code = pyotp.TOTP(user.totp_secret).at(moment)
    verify(node, view_of(node, sign_in(node, user)), code, now=moment)
    second = sign_in(node, user)
    with pytest.raises(InvalidCredentials):
        verify(node, view_of(node, second), code, now=moment)
    earlier = pyotp.TOTP(user.totp_secret).at(moment - STEP_SECONDS)
    with pytest.raises(InvalidCredentials):
        verify(node, view_of(node, second), earlier, now=moment)
    assert view_of(node, second).needs_second_factor
    later = moment + STEP_SECONDS
    verify(node, view_of(node, second), pyotp.TOTP(user.totp_secret).at(later), now=later)
    assert view_of(node, second).complete


def test_a_recovery_code_works_once(node: Node) -> None:
    user = make_user(node)
    _, codes = enrol(node, view_of(node, sign_in(node, user)))
    first = sign_in(node, user)
    assert view_of(node, first).needs_second_factor
    verify(node, view_of(node, first), "  " + codes[3].upper().replace("-", " - ") + " ")
    assert view_of(node, first).complete
    with node.uow() as uow:
        assert remaining_recovery_codes(uow, user.id) == RECOVERY_CODE_COUNT - 1
    second = sign_in(node, user)
    with pytest.raises(InvalidCredentials):
        verify(node, view_of(node, second), codes[3])
    verify(node, view_of(node, second), codes[4])
    methods = [e.detail.get("method") for e in audit_events(node, "auth.second_factor")]
    assert methods == ["recovery_code", None, "recovery_code"]


def test_second_factor_failures_lock_the_account(node: Node) -> None:
    settings = node.settings.model_copy(update={"lockout_threshold": 3})
    user = totp_user(node)
    assert user.totp_secret is not None
    moment = time.time()
    bad = wrong_code(user.totp_secret, moment)
    first = sign_in(node, user, settings=settings)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            verify(node, view_of(node, first), bad, now=moment, settings=settings)
    assert stored_user(node, user.id).locked_until is None
    second = sign_in(node, user, settings=settings)
    with pytest.raises(InvalidCredentials):
        verify(node, view_of(node, second), bad, now=moment, settings=settings)
    assert stored_user(node, user.id).locked_until is not None, (
        "signing in again with the password must not forgive second-factor failures"
    )
    with node.uow() as uow:
        assert resolve_session(uow, settings, second) is None
        assert uow.session.scalars(select(LoginFailure.ip)).all() == [CLIENT_IP] * 3
    with node.uow() as uow, pytest.raises(AccountLocked):
        login(uow, settings, username=user.username, password=user.password)
    outcomes = [e.outcome for e in audit_events(node, "auth.second_factor")]
    assert outcomes == ["failure"] * 3


def test_a_right_second_factor_forgives_earlier_failures(node: Node) -> None:
    settings = node.settings.model_copy(update={"lockout_threshold": 2})
    user = totp_user(node)
    assert user.totp_secret is not None
    moment = time.time()
    token = sign_in(node, user, settings=settings)
    with pytest.raises(InvalidCredentials):
        verify(
            node,
            view_of(node, token),
            wrong_code(user.totp_secret, moment),
            now=moment,
            settings=settings,
        )
    code = pyotp.TOTP(user.totp_secret).at(moment)
    verify(node, view_of(node, token), code, now=moment, settings=settings)
    assert stored_user(node, user.id).failed_logins == 0
