"""User administration pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from comity import errors
from comity.db import UnitOfWork
from comity.identity import users
from comity.identity.permissions import Actor, Role
from comity.web.deps import get_uow, permission
from comity.web.guards import page_actor
from comity.web.templating import render

router = APIRouter(prefix="/users")
UoW = Annotated[UnitOfWork, Depends(get_uow)]
Caller = Annotated[Actor, Depends(page_actor)]
Text = Annotated[str, Form(max_length=320)]
RoleList = Annotated[list[str], Form(max_length=20)]


def _list(request: Request, uow: UnitOfWork, actor: Actor, **extra: object) -> Response:
    status = int(str(extra.pop("status", 200)))
    context = {"users": users.list_users(uow, actor), "roles": list(Role), **extra}
    return render(request, "users/list.html", context, status=status)


@router.get("", openapi_extra=permission("users:read"))
def list_page(request: Request, uow: UoW, actor: Caller) -> Response:
    return _list(request, uow, actor)


@router.post("", openapi_extra=permission("users:manage"))
def create(
    request: Request,
    uow: UoW,
    actor: Caller,
    username: Text = "",
    display_name: Text = "",
    email: Text = "",
    roles: RoleList = [],  # noqa: B006 - FastAPI copies defaults per request
) -> Response:
    try:
        created = users.create_user(
            uow, actor, username=username, roles=roles, display_name=display_name, email=email
        )
    except (errors.ValidationError, errors.Conflict) as exc:
        with_form = {
            "form": {
                "username": username,
                "display_name": display_name,
                "email": email,
                "roles": roles,
            }
        }
        return _list(request, uow, actor, error=exc.message, status=422, **with_form)
    return render(
        request,
        "users/password_shown.html",
        {"shown_user": created.user, "password": created.one_time_password, "new": True},
    )


@router.get("/{user_id}", openapi_extra=permission("users:read"))
def detail(request: Request, uow: UoW, actor: Caller, user_id: str) -> Response:
    user = users.get_user(uow, actor, user_id)
    return render(request, "users/detail.html", {"shown_user": user, "roles": list(Role)})


def _detail_after(
    request: Request, uow: UnitOfWork, actor: Actor, user_id: str, exc: errors.ComityError
) -> Response:
    user = users.get_user(uow, actor, user_id)
    context = {"shown_user": user, "roles": list(Role), "error": exc.message}
    return render(request, "users/detail.html", context, status=409)


@router.post("/{user_id}/roles", openapi_extra=permission("users:manage"))
def set_roles(
    request: Request,
    uow: UoW,
    actor: Caller,
    user_id: str,
    roles: RoleList = [],  # noqa: B006 - FastAPI copies defaults per request
) -> Response:
    try:
        users.set_roles(uow, actor, user_id, roles)
    except (errors.ValidationError, errors.Conflict) as exc:
        return _detail_after(request, uow, actor, user_id, exc)
    return RedirectResponse(f"/users/{user_id}", status_code=303)


@router.post("/{user_id}/disable", openapi_extra=permission("users:manage"))
def disable(request: Request, uow: UoW, actor: Caller, user_id: str) -> Response:
    try:
        users.disable_user(uow, actor, user_id)
    except errors.Conflict as exc:
        return _detail_after(request, uow, actor, user_id, exc)
    return RedirectResponse(f"/users/{user_id}", status_code=303)


@router.post("/{user_id}/enable", openapi_extra=permission("users:manage"))
def enable(request: Request, uow: UoW, actor: Caller, user_id: str) -> Response:
    try:
        users.enable_user(uow, actor, user_id)
    except errors.Conflict as exc:
        return _detail_after(request, uow, actor, user_id, exc)
    return RedirectResponse(f"/users/{user_id}", status_code=303)


@router.post("/{user_id}/reset-password", openapi_extra=permission("users:manage"))
def reset_password(request: Request, uow: UoW, actor: Caller, user_id: str) -> Response:
    reset = users.reset_password(uow, actor, user_id)
    return render(
        request,
        "users/password_shown.html",
        {"shown_user": reset.user, "password": reset.one_time_password, "new": False},
    )


@router.post("/{user_id}/reset-second-factor", openapi_extra=permission("users:manage"))
def reset_second_factor(uow: UoW, actor: Caller, user_id: str) -> Response:
    users.reset_second_factor(uow, actor, user_id)
    return RedirectResponse(f"/users/{user_id}", status_code=303)
