"""The home dashboard, with the alerts of the ledger and of undeliverable messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from comity import __version__
from comity.db import UnitOfWork
from comity.exchange import message_views
from comity.identity import dashboard
from comity.identity.authn import SessionView
from comity.identity.permissions import Permission
from comity.web.deps import get_uow, permission
from comity.web.guards import page_view
from comity.web.requests import node_of
from comity.web.templating import render

router = APIRouter()


@router.get("/", openapi_extra=permission("node:view"))
def home(
    request: Request,
    uow: Annotated[UnitOfWork, Depends(get_uow)],
    view: Annotated[SessionView, Depends(page_view)],
) -> Response:
    node = node_of(request)
    summary = dashboard.summary(uow, view.actor)
    # Messages that no route will deliver any more: whoever looks after the queues must
    # see them at once (the dead-letter view, ``comity messages dead``, has the detail).
    undelivered = (
        message_views.count_dead_letters(uow.session, view.actor)
        if view.actor.can(Permission.MESSAGES_MANAGE)
        else 0
    )
    return render(
        request,
        "home.html",
        {
            "summary": summary,
            "fingerprint": node.keys.fingerprint(),
            "version": __version__,
            "changed": request.query_params.get("changed", ""),
            "undelivered": undelivered,
        },
    )
