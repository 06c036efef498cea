"""Sign-in pages: password, second factor, forced password change, authenticator
enrolment, sign-out, and the language switch."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from comity import errors
from comity.db import UnitOfWork
from comity.i18n import LOCALES
from comity.identity import authn, mfa
from comity.identity.authn import SessionView
from comity.settings import Settings
from comity.web.deps import get_settings, get_uow
from comity.web.guards import (
    ENROL_PAGE,
    PASSWORD_PAGE,
    SECOND_FACTOR_PAGE,
    SESSION_COOKIE,
    page_view,
)
from comity.web.requests import LOCALE_COOKIE, client_ip, user_agent
from comity.web.templating import render

router = APIRouter()
UoW = Annotated[UnitOfWork, Depends(get_uow)]
Config = Annotated[Settings, Depends(get_settings)]
View = Annotated[SessionView, Depends(page_view)]
Field = Annotated[str, Form(max_length=1024)]


def _safe_next(target: str) -> str:
    """Only local paths, so the sign-in page cannot bounce a user to another site."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _go(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if getattr(request.state, "view", None) is not None:
        return _go(_safe_next(next))
    return render(request, "auth/login.html", {"next": _safe_next(next)})


@router.post("/login")
def login(
    request: Request,
    uow: UoW,
    settings: Config,
    username: Field = "",
    password: Field = "",
    next: Field = "/",
) -> Response:
    try:
        grant = authn.login(
            uow,
            settings,
            username=username,
            password=password,
            ip=client_ip(request),
            user_agent=user_agent(request),
        )
    except errors.AuthenticationError as exc:
        status = 429 if isinstance(exc, errors.Throttled) else 401
        context = {"error": exc.message, "username": username, "next": _safe_next(next)}
        return render(request, "auth/login.html", context, status=status)
    except errors.ValidationError as exc:
        context = {"error": exc.message, "username": username, "next": _safe_next(next)}
        return render(request, "auth/login.html", context, status=422)
    response = _go(_safe_next(next))
    response.set_cookie(
        SESSION_COOKIE,
        grant.token,
        max_age=settings.session_max_hours * 3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
    )
    return response


@router.get(SECOND_FACTOR_PAGE)
def second_factor_form(request: Request, view: View) -> Response:
    if not view.needs_second_factor:
        return _go("/")
    return render(request, "auth/second_factor.html")


@router.post(SECOND_FACTOR_PAGE)
def second_factor(
    request: Request, uow: UoW, settings: Config, view: View, code: Field = ""
) -> Response:
    if not view.needs_second_factor:
        return _go("/")
    try:
        mfa.verify_second_factor(uow, settings, view, code)
    except errors.InvalidCredentials as exc:
        return render(request, "auth/second_factor.html", {"error": exc.message}, status=401)
    return _go("/")


@router.post("/logout")
def logout(uow: UoW, view: View) -> Response:
    authn.logout(uow, view)
    response = _go("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get(PASSWORD_PAGE)
def password_form(request: Request, view: View) -> Response:
    return render(request, "auth/password.html", {"forced": view.must_change_password})


@router.post(PASSWORD_PAGE)
def change_password(
    request: Request,
    uow: UoW,
    view: View,
    current: Field = "",
    password: Field = "",
    confirm: Field = "",
) -> Response:
    try:
        authn.change_password(uow, view, current=current, new=password, confirm=confirm)
    except (errors.ValidationError, errors.InvalidCredentials) as exc:
        context = {"forced": view.must_change_password, "error": exc.message}
        return render(request, "auth/password.html", context, status=422)
    return _go("/?changed=password")


@router.get(ENROL_PAGE)
def enrol_form(request: Request, uow: UoW, settings: Config, view: View) -> Response:
    if view.user.totp_enabled:
        return render(request, "auth/enrolled.html")
    enrolment = mfa.pending_enrolment(settings, view) or mfa.begin_enrolment(uow, settings, view)
    return render(
        request,
        "auth/enrol.html",
        {"enrolment": enrolment, "required": view.must_enrol_second_factor},
    )


@router.post(ENROL_PAGE)
def enrol(request: Request, uow: UoW, settings: Config, view: View, code: Field = "") -> Response:
    try:
        codes = mfa.confirm_enrolment(uow, settings, view, code)
    except (errors.InvalidCredentials, errors.ValidationError) as exc:
        enrolment = mfa.pending_enrolment(settings, view)
        if enrolment is None:
            return _go(ENROL_PAGE)
        context = {
            "enrolment": enrolment,
            "required": view.must_enrol_second_factor,
            "error": exc.message,
        }
        return render(request, "auth/enrol.html", context, status=422)
    return render(request, "auth/recovery_codes.html", {"codes": codes})


@router.post("/language")
def set_language(
    settings: Config,
    locale: Field = "en",
    next: Field = "/",
) -> Response:
    response = _go(_safe_next(next))
    if locale in LOCALES:
        response.set_cookie(
            LOCALE_COOKIE,
            locale,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
        )
    return response
