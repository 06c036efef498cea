"""Routes where peer nodes deliver large payloads (:mod:`comity.exchange.payload_inbox`).

All three are public (``PUBLIC_API`` in :mod:`comity.web.guards`): a peer node has no API
token here. The offer authenticates itself by the manifest's signature, from a confirmed
peer; a chunk by its inclusion proof in the signed manifest's Merkle root; the status
names a random payload id only the sender and recipients know.

- ``POST /exchange/payloads``: the body is the signed manifest, byte for byte (it must
  be its own canonical form, so it is read raw, not parsed into a model);
- ``PUT /exchange/payloads/{id}/chunks/{n}``: the body is chunk ``n``, raw, with its
  proof in the ``Comity-Chunk-Proof`` header. The body may be up to
  :data:`~comity.exchange.payload_format.MAX_CHUNK_SIZE` (an exception to
  ``COMITY_MAX_REQUEST_BYTES``, see :data:`CHUNK_PATHS`) and is held in memory until it
  is checked and on disk;
- ``GET /exchange/payloads/{id}``: where the payload stands.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from comity.exchange import payload_inbox
from comity.exchange.payload_format import MAX_MANIFEST_BYTES, PROOF_HEADER
from comity.web.api.schemas import ErrorOut
from comity.web.guards import api_actor
from comity.web.requests import node_of

CHUNK_PATHS = re.compile(r"/api/v1/exchange/payloads/[^/]+/chunks/[0-9]{1,9}")
"""The paths of ``PUT`` chunk requests, whose bodies may reach the largest chunk."""

router = APIRouter(
    prefix="/exchange/payloads",
    tags=["exchange"],
    responses={422: {"model": ErrorOut, "description": "Refused; fields.reason says why."}},
)


class PayloadOut(BaseModel):
    """Where a payload stands here: send the chunks of ``missing`` (ranges, end
    excluded; given in answer to an offer or a status request, not to a chunk)."""

    payload_id: str
    status: str = Field(description="receiving, complete or expired")
    size: int
    chunk_size: int
    chunks: int
    held: int = Field(description="How many chunks this node holds.")
    missing: list[tuple[int, int]] | None = None

    @classmethod
    def of(cls, state: payload_inbox.PayloadState) -> PayloadOut:
        return cls(
            payload_id=state.payload_id,
            status=state.status,
            size=state.size,
            chunk_size=state.chunk_size,
            chunks=state.chunks,
            held=state.held,
            missing=None if state.missing is None else list(state.missing),
        )


def _body(media_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


@router.post(
    "",
    openapi_extra=_body("application/json", {"type": "object", "maxLength": MAX_MANIFEST_BYTES}),
    responses={409: {"model": ErrorOut, "description": "Another manifest has this id."}},
)
async def offer_payload(request: Request) -> PayloadOut:
    """A peer offers a payload by its signed manifest; the answer lists the chunks to
    send (all of them, or those still missing after an interruption)."""
    data = await request.body()
    state = await run_in_threadpool(
        payload_inbox.receive_offer, node_of(request), api_actor(request), data
    )
    return PayloadOut.of(state)


@router.put(
    "/{payload_id}/chunks/{number}",
    openapi_extra=_body("application/octet-stream", {"type": "string", "format": "binary"}),
    responses={
        404: {"model": ErrorOut, "description": "No such payload, or no such chunk."},
        409: {"model": ErrorOut, "description": "The payload expired."},
    },
)
async def put_chunk(payload_id: str, number: int, request: Request) -> PayloadOut:
    """One chunk of an offered payload, with its proof in ``Comity-Chunk-Proof``."""
    data = await request.body()
    state = await run_in_threadpool(
        payload_inbox.receive_chunk,
        node_of(request),
        payload_id,
        number,
        data,
        request.headers.get(PROOF_HEADER, ""),
        digests=request.app.state.payload_digests,
    )
    return PayloadOut.of(state)


@router.get(
    "/{payload_id}", responses={404: {"model": ErrorOut, "description": "No such payload."}}
)
def payload_status(payload_id: str, request: Request) -> PayloadOut:
    """Where an offered payload stands."""
    return PayloadOut.of(payload_inbox.payload_state(node_of(request), payload_id))
