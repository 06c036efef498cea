"""Pages of the trust list: the peer nodes with their status and fingerprint, this node's
own descriptor to hand out, adding a peer from its descriptor, and on a peer's page,
confirming it by fingerprint, suspending, resuming, revoking, or taking a newer
descriptor. The rules are in :mod:`comity.exchange.peers`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from comity import errors
from comity.db import UnitOfWork
from comity.exchange import own_node, peers
from comity.exchange.descriptor import MAX_DESCRIPTOR_BYTES
from comity.exchange.models import STATUS_LABELS
from comity.identity.permissions import Actor, Permission, require
from comity.keys import KeyStore
from comity.settings import Settings
from comity.web.deps import get_keys, get_settings, get_uow, permission
from comity.web.guards import page_actor
from comity.web.templating import render

router = APIRouter(prefix="/peers")
UoW = Annotated[UnitOfWork, Depends(get_uow)]
Caller = Annotated[Actor, Depends(page_actor)]
Config = Annotated[Settings, Depends(get_settings)]
Keys = Annotated[KeyStore, Depends(get_keys)]
DescriptorText = Annotated[str, Form(max_length=MAX_DESCRIPTOR_BYTES)]
Reason = Annotated[str, Form(max_length=1000)]
Fingerprint = Annotated[str, Form(max_length=100)]
REFUSED = (errors.ValidationError, errors.Conflict, errors.NotFound)


def _list(
    request: Request,
    uow: UnitOfWork,
    actor: Actor,
    settings: Settings,
    keys: KeyStore,
    *,
    error: str = "",
    descriptor: str = "",
) -> Response:
    context = {
        "peers": peers.list_peers(uow, actor),
        "own": own_node.local_descriptor(uow.session, settings, keys),
        "error": error,
        "descriptor": descriptor,
        "status_labels": STATUS_LABELS,
    }
    return render(request, "peers/list.html", context, status=422 if error else 200)


@router.get("", openapi_extra=permission("organisations:read"))
def list_page(request: Request, uow: UoW, actor: Caller, settings: Config, keys: Keys) -> Response:
    return _list(request, uow, actor, settings, keys)


@router.get("/own-descriptor", openapi_extra=permission("organisations:read"))
def own_descriptor(uow: UoW, actor: Caller, settings: Config, keys: Keys) -> Response:
    """This node's descriptor as a file to send to a peer's administrator."""
    require(actor, Permission.ORGANISATIONS_READ)
    signed = own_node.local_descriptor(uow.session, settings, keys)
    return Response(
        signed.raw + b"\n",
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="comity-node.json"'},
    )


@router.post("", openapi_extra=permission("organisations:manage"))
def add(
    request: Request,
    uow: UoW,
    actor: Caller,
    settings: Config,
    keys: Keys,
    descriptor: DescriptorText = "",
) -> Response:
    try:
        peer = peers.add_peer(uow, actor, descriptor.strip().encode("utf-8"))
    except REFUSED as exc:
        uow.session.rollback()
        return _list(request, uow, actor, settings, keys, error=exc.message, descriptor=descriptor)
    return RedirectResponse(f"/peers/{peer.node_id}", status_code=303)


def _detail(
    request: Request, uow: UnitOfWork, actor: Actor, node_id: str, error: str = ""
) -> Response:
    context = {
        "peer": peers.get_peer(uow, actor, node_id),
        "error": error,
        "status_labels": STATUS_LABELS,
    }
    return render(request, "peers/detail.html", context, status=422 if error else 200)


@router.get("/{node_id}", openapi_extra=permission("organisations:read"))
def detail(request: Request, uow: UoW, actor: Caller, node_id: str) -> Response:
    return _detail(request, uow, actor, node_id)


@router.post("/{node_id}/confirm", openapi_extra=permission("organisations:manage"))
def confirm(
    request: Request, uow: UoW, actor: Caller, node_id: str, fingerprint: Fingerprint = ""
) -> Response:
    try:
        peers.confirm_peer(uow, actor, node_id, fingerprint)
    except REFUSED as exc:
        uow.session.rollback()
        return _detail(request, uow, actor, node_id, exc.message)
    return RedirectResponse(f"/peers/{node_id}", status_code=303)


@router.post("/{node_id}/status", openapi_extra=permission("organisations:manage"))
def change_status(
    request: Request,
    uow: UoW,
    actor: Caller,
    node_id: str,
    change: Annotated[str, Form(max_length=20)] = "",
    reason: Reason = "",
) -> Response:
    changes = {
        "suspend": peers.suspend_peer,
        "resume": peers.resume_peer,
        "revoke": peers.revoke_peer,
    }
    require(actor, Permission.ORGANISATIONS_MANAGE)
    try:
        if change not in changes:
            raise errors.ValidationError("Choose to suspend, resume or revoke the peer.")
        changes[change](uow, actor, node_id, reason=reason)
    except REFUSED as exc:
        uow.session.rollback()
        return _detail(request, uow, actor, node_id, exc.message)
    return RedirectResponse(f"/peers/{node_id}", status_code=303)


@router.post("/{node_id}/descriptor", openapi_extra=permission("organisations:manage"))
def update(
    request: Request, uow: UoW, actor: Caller, node_id: str, descriptor: DescriptorText = ""
) -> Response:
    try:
        peer = peers.update_peer(uow, actor, descriptor.strip().encode("utf-8"), node_id=node_id)
    except REFUSED as exc:
        uow.session.rollback()
        return _detail(request, uow, actor, node_id, exc.message)
    return RedirectResponse(f"/peers/{peer.node_id}", status_code=303)
