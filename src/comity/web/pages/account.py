"""The signed-in person's own account: second factor status and API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from comity import errors
from comity.db import UnitOfWork
from comity.identity import mfa, tokens
from comity.identity.authn import SessionView
from comity.settings import Settings
from comity.web.deps import get_settings, get_uow, permission
from comity.web.guards import page_view
from comity.web.templating import render

router = APIRouter(prefix="/account")
UoW = Annotated[UnitOfWork, Depends(get_uow)]
View = Annotated[SessionView, Depends(page_view)]


def _page(request: Request, uow: UnitOfWork, view: SessionView, **extra: object) -> Response:
    status = int(str(extra.pop("status", 200)))
    context = {
        "tokens": tokens.list_tokens(uow, view.actor, user_id=view.user.id),
        "scopes": sorted(view.actor.permissions),
        "recovery_left": mfa.remaining_recovery_codes(uow, view.user.id),
        **extra,
    }
    return render(request, "account/page.html", context, status=status)


@router.get("", openapi_extra=permission("tokens:own"))
def account(request: Request, uow: UoW, view: View) -> Response:
    return _page(request, uow, view)


@router.post("/tokens", openapi_extra=permission("tokens:own"))
def create_token(
    request: Request,
    uow: UoW,
    view: View,
    settings: Annotated[Settings, Depends(get_settings)],
    name: Annotated[str, Form(max_length=100)] = "",
    scopes: Annotated[list[str], Form(max_length=50)] = [],  # noqa: B006 - copied per request
    days: Annotated[int, Form(ge=1, le=3650)] = 90,
) -> Response:
    try:
        created = tokens.create_token(
            uow, settings, view.actor, user_id=view.user.id, name=name, scopes=scopes, days=days
        )
    except (errors.ValidationError, errors.PermissionDenied) as exc:
        return _page(request, uow, view, error=exc.message, status=422)
    return _page(request, uow, view, new_secret=created.secret, new_token=created.token)


@router.post("/tokens/{token_id}/revoke", openapi_extra=permission("tokens:own"))
def revoke_token(uow: UoW, view: View, token_id: str) -> Response:
    tokens.revoke_token(uow, view.actor, token_id)
    return RedirectResponse("/account", status_code=303)
