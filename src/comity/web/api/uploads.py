"""Routes of resumable uploads into the evidence vault (:mod:`comity.vault.uploads`).

The same routes serve two callers. Under ``/api/v1/evidence/uploads`` they are part of
the JSON API and take a bearer token, like every API route. Under ``/evidence/uploads``
they are the upload page's own endpoints: the page guard authenticates them with the
browser session and, being unsafe methods, with the CSRF token in ``X-CSRF-Token``, and
the page's script asks for JSON (``Accept: application/json``), errors included.

A chunk is the raw request body of ``PUT /{id}`` with ``Content-Range: bytes
START-END/TOTAL`` (END inclusive). The body may be as large as
``COMITY_UPLOAD_CHUNK_BYTES`` (an exception to ``COMITY_MAX_REQUEST_BYTES``, see
:data:`CHUNK_PATHS`); it is held in memory, one chunk per request, until it is on disk.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from starlette.concurrency import run_in_threadpool

from comity.identity.permissions import Actor
from comity.vault import uploads
from comity.web.api.schemas import ErrorOut
from comity.web.api.upload_schemas import ItemAddedOut, UploadIn, UploadOut
from comity.web.deps import permission
from comity.web.guards import page_actor
from comity.web.requests import node_of

PREFIX = "/evidence/uploads"
CHUNK_PATHS = re.compile(r"(/api/v1)?/evidence/uploads/[^/]+")
"""The paths of ``PUT`` chunk requests, whose bodies may reach the chunk limit."""


def _caller(request: Request) -> Actor:
    """The token's actor under ``/api/v1`` (set by the API guard), else the session's."""
    actor: Actor | None = getattr(request.state, "actor", None)
    return actor if actor is not None else page_actor(request)


Caller = Annotated[Actor, Depends(_caller)]
router = APIRouter(
    prefix=PREFIX,
    tags=["evidence"],
    responses={404: {"model": ErrorOut, "description": "The caller has no such upload."}},
)
_CHUNK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=permission("evidence:add"),
)
def start_upload(body: UploadIn, request: Request, actor: Caller) -> UploadOut:
    """Open an upload of ``size`` bytes; send its chunks in order, then complete it."""
    state = uploads.start_upload(
        node_of(request),
        actor,
        name=body.name,
        size=body.size,
        acquisition=body.acquisition.to_acquisition(),
    )
    return UploadOut.of(state)


@router.get("/{upload_id}", openapi_extra=permission("evidence:add"))
def upload_status(upload_id: str, request: Request, actor: Caller) -> UploadOut:
    """Where the upload stands: resume from ``received`` after a dropped connection."""
    return UploadOut.of(uploads.upload_state(node_of(request), actor, upload_id))


@router.put(
    "/{upload_id}",
    openapi_extra=permission("evidence:add") | _CHUNK_BODY,
    responses={
        400: {"model": ErrorOut, "description": "Empty chunk, or a bad Content-Range."},
        409: {"model": ErrorOut, "description": "Not at the upload's offset (fields.offset)."},
        413: {"model": ErrorOut, "description": "The chunk is over the node's chunk limit."},
    },
)
async def put_chunk(upload_id: str, request: Request, actor: Caller) -> UploadOut:
    """Append one chunk (the body), which must start at the upload's ``received``."""
    data = await request.body()
    state = await run_in_threadpool(
        uploads.write_chunk,
        node_of(request),
        actor,
        upload_id,
        request.headers.get("content-range", ""),
        data,
    )
    return UploadOut.of(state)


@router.post(
    "/{upload_id}/complete",
    openapi_extra=permission("evidence:add"),
    responses={409: {"model": ErrorOut, "description": "Bytes are missing, or it is done."}},
)
def complete_upload(upload_id: str, request: Request, actor: Caller) -> ItemAddedOut:
    """Ingest the fully received file as an evidence item (or name the item that
    already holds the same bytes)."""
    return ItemAddedOut.of(uploads.complete_upload(node_of(request), actor, upload_id))


@router.delete("/{upload_id}", openapi_extra=permission("evidence:add"))
def cancel_upload(upload_id: str, request: Request, actor: Caller) -> UploadOut:
    """Give the upload up; its staged bytes are removed."""
    return UploadOut.of(uploads.cancel_upload(node_of(request), actor, upload_id))
