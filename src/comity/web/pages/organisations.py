"""Pages for this node's organisation and the peer organisations it knows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from comity import errors
from comity.db import UnitOfWork
from comity.identity import organisations
from comity.identity.models import OrganisationKind
from comity.identity.permissions import Actor
from comity.web.deps import get_uow, permission
from comity.web.guards import page_actor
from comity.web.templating import render

router = APIRouter(prefix="/organisations")
UoW = Annotated[UnitOfWork, Depends(get_uow)]
Caller = Annotated[Actor, Depends(page_actor)]
Short = Annotated[str, Form(max_length=200)]
Long = Annotated[str, Form(max_length=5000)]


@router.get("", openapi_extra=permission("organisations:read"))
def list_page(request: Request, uow: UoW, actor: Caller) -> Response:
    context = {
        "organisations": organisations.list_organisations(uow, actor),
        "kinds": list(OrganisationKind),
    }
    return render(request, "organisations/list.html", context)


@router.post("", openapi_extra=permission("organisations:manage"))
def add(
    request: Request,
    uow: UoW,
    actor: Caller,
    name: Short = "",
    kind: Short = "ngo",
    country: Short = "",
    description: Long = "",
) -> Response:
    try:
        organisations.add_peer(
            uow, actor, name=name, kind=kind, country=country, description=description
        )
    except (errors.ValidationError, errors.Conflict) as exc:
        context = {
            "organisations": organisations.list_organisations(uow, actor),
            "kinds": list(OrganisationKind),
            "error": exc.message,
            "form": {"name": name, "kind": kind, "country": country, "description": description},
        }
        return render(request, "organisations/list.html", context, status=422)
    return RedirectResponse("/organisations", status_code=303)


@router.get("/{organisation_id}", openapi_extra=permission("organisations:read"))
def detail(request: Request, uow: UoW, actor: Caller, organisation_id: str) -> Response:
    org = organisations.get_organisation(uow, actor, organisation_id)
    context = {"org": org, "kinds": list(OrganisationKind)}
    return render(request, "organisations/detail.html", context)


@router.post("/{organisation_id}", openapi_extra=permission("organisations:manage"))
def update(
    request: Request,
    uow: UoW,
    actor: Caller,
    organisation_id: str,
    name: Short = "",
    kind: Short = "ngo",
    country: Short = "",
    description: Long = "",
) -> Response:
    try:
        organisations.update_organisation(
            uow,
            actor,
            organisation_id,
            name=name,
            kind=kind,
            country=country,
            description=description,
        )
    except (errors.ValidationError, errors.Conflict) as exc:
        org = organisations.get_organisation(uow, actor, organisation_id)
        context = {"org": org, "kinds": list(OrganisationKind), "error": exc.message}
        return render(request, "organisations/detail.html", context, status=422)
    return RedirectResponse(f"/organisations/{organisation_id}", status_code=303)
