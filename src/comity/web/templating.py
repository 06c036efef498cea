"""Rendering server-side pages with Jinja2, in the visitor's language and direction."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from comity.audit.models import OUTCOME_LABELS
from comity.i18n import LOCALE_NAMES, LOCALES, text_direction, translations
from comity.identity.models import KIND_LABELS
from comity.identity.permissions import ROLE_LABELS, Permission
from comity.web.requests import locale_of, node_of
from comity.web.security import PRESESSION_COOKIE


def isolate(value: object) -> Markup:
    """``value`` escaped and wrapped in ``<bdi>``: a name or identifier in its own direction,
    so that a Latin origin inside an Arabic sentence keeps its order, and the sentence too."""
    return Markup("<bdi>{}</bdi>").format(value)


@cache
def environment(locale: str) -> Environment:
    env = Environment(
        loader=PackageLoader("comity.web", "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters["bdi"] = isolate
    return env


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render ``template`` with what every page needs (user, CSRF token, language)."""
    locale = locale_of(request)
    view = getattr(request.state, "view", None)
    actor = view.actor if view is not None else None
    values: dict[str, Any] = {
        "request": request,
        "view": view,
        "user": view.user if view is not None else None,
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "locale": locale,
        "direction": text_direction(locale),
        "locales": [(code, LOCALE_NAMES[code]) for code in LOCALES],
        "role_labels": {role.value: label for role, label in ROLE_LABELS.items()},
        "kind_labels": KIND_LABELS,
        "outcome_labels": OUTCOME_LABELS,
        "can": (lambda permission: actor is not None and actor.can(Permission(permission))),
        "node_name": node_of(request).settings.node_name,
    }
    values.update(context or {})
    html = environment(locale).get_template(template).render(values)
    response = HTMLResponse(html, status_code=status)
    new_presession = getattr(request.state, "new_presession", None)
    if new_presession:
        response.set_cookie(
            PRESESSION_COOKIE,
            new_presession,
            max_age=3600,
            httponly=True,
            samesite="strict",
            secure=node_of(request).settings.cookie_secure,
        )
    return response
