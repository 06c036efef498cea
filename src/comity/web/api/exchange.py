"""Routes of message exchange between nodes, under ``/api/v1/exchange``.

``POST /exchange/envelopes`` is public: a peer delivers an envelope (the request body,
``docs/formats/envelope.md``) and the envelope's signature, checked against the trust
list, is the authentication (:func:`comity.exchange.inbox.receive_envelope`). Its body
may be as large as an envelope (16 MiB), more than the node's usual request limit.

Answers, each a JSON object with ``receipts``, a list of signed receipt documents
(``docs/formats/receipt.md``), each as the string of its exact bytes:

- **201** accepted: an acceptance receipt, and a delivery receipt for this message and
  for each held message it released, in order;
- **200** a repeat of a message already accepted: the receipts given then;
- **422** refused, with ``error``, ``message`` and ``fields.reason``; ``receipts`` holds
  a signed rejection receipt when the sender's signature verified, and is empty otherwise.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from comity.exchange.envelope_format import MAX_ENVELOPE_BYTES
from comity.exchange.inbox import as_answer, receive_envelope
from comity.exchange.transport import ENVELOPES_PATH
from comity.web.requests import client_ip, node_of, user_agent

router = APIRouter(prefix="/exchange", tags=["federation"])
BODY_LIMITS = {("POST", ENVELOPES_PATH): MAX_ENVELOPE_BYTES}
"""The bodies of this route may be as large as an envelope, whatever the node's limit."""

_ANSWER = {
    "content": {
        "application/json": {
            "example": {"message_id": "3d4f7c1a-…", "outcome": "accepted", "receipts": ["{…}"]}
        }
    }
}


@router.post(
    "/envelopes",
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {**_ANSWER, "description": "Accepted; the acceptance and delivery receipts."},
        200: {**_ANSWER, "description": "Accepted before; the same receipts again."},
        422: {"description": "Refused; a signed rejection receipt if the sender is verified."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def receive(request: Request) -> JSONResponse:
    """A peer delivers an envelope; public, since the envelope's signature authenticates
    it (see the module for the answers)."""
    data = await request.body()
    received = await run_in_threadpool(
        receive_envelope,
        node_of(request),
        data,
        ip=client_ip(request),
        user_agent=user_agent(request),
    )
    answer = as_answer(received)
    return JSONResponse(answer.body, status_code=answer.status)
