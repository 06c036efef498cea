"""Routes of the ledger's JSON API, under ``/api/v1/ledger``. Each parses input, calls
the service and shapes the output.

Three routes are public, because peers witness this log through them:

- ``GET /ledger/checkpoint``, the latest cosigned checkpoint, which reveals nothing but the
  log's size and root. It is served as ``text/plain; charset=utf-8``, the C2SP convention;
- ``GET /ledger/proof/consistency``, which reveals only roots and subtree hashes, never an
  entry;
- ``POST /ledger/cosignatures``, where a witness hands over its cosignature of one of our
  checkpoints: the cosignature authenticates itself, and only known witnesses' are kept.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import PlainTextResponse

from comity.db import UnitOfWork
from comity.errors import ValidationError
from comity.identity.permissions import Actor
from comity.keys import KeyStore
from comity.ledger import checkpoints, cosignatures, following, services
from comity.ledger.note import b64decode_strict
from comity.web.api.ledger_schemas import (
    AlarmOut,
    CheckpointOut,
    ConsistencyProofOut,
    CosignatureIn,
    CosignatureOut,
    InclusionProofOut,
    LedgerEntryOut,
    LedgerStatusOut,
    StoredCheckpointOut,
)
from comity.web.api.schemas import ErrorOut
from comity.web.deps import get_keys, get_uow, permission
from comity.web.guards import api_actor

router = APIRouter(prefix="/ledger", tags=["ledger"])
UoW = Annotated[UnitOfWork, Depends(get_uow)]
Caller = Annotated[Actor, Depends(api_actor)]
Keys = Annotated[KeyStore, Depends(get_keys)]
Size = Annotated[
    int | None, Query(description="The tree size to prove against (default: the current size).")
]

CHECKPOINT_MEDIA_TYPE = "text/plain; charset=utf-8"


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {CHECKPOINT_MEDIA_TYPE: {}},
            "description": "The checkpoint as a C2SP signed note, with its cosignatures.",
        },
        404: {"model": ErrorOut, "description": "No checkpoint has been made yet."},
    },
)
def latest_checkpoint(uow: UoW) -> PlainTextResponse:
    """The latest checkpoint, signed by this node and cosigned by its witnesses; public."""
    return PlainTextResponse(services.public_checkpoint(uow), media_type=CHECKPOINT_MEDIA_TYPE)


@router.post("/checkpoint", openapi_extra=permission("ledger:manage"))
def make_checkpoint(uow: UoW, actor: Caller, keys: Keys) -> CheckpointOut:
    """Sign a checkpoint of the current tree (the existing one if the size is unchanged)."""
    return CheckpointOut.of(checkpoints.make_checkpoint(uow, keys, actor))


@router.get(
    "/checkpoints/{size}",
    openapi_extra=permission("ledger:read"),
    responses={404: {"model": ErrorOut, "description": "No checkpoint of that size."}},
)
def checkpoint_of_size(uow: UoW, actor: Caller, size: int) -> StoredCheckpointOut:
    """This log's checkpoint of ``size`` entries, with its RFC 3161 time-stamp tokens."""
    return StoredCheckpointOut.of_stored(services.checkpoint_of_size(uow, actor, size))


@router.get("/status", openapi_extra=permission("ledger:read"))
def ledger_status(uow: UoW, actor: Caller, keys: Keys) -> LedgerStatusOut:
    """The log's name and key, its size and root, its latest checkpoint and witnesses."""
    return LedgerStatusOut.of(services.status(uow, actor, keys))


@router.get("/entries", openapi_extra=permission("ledger:read"))
def ledger_entries(
    uow: UoW,
    actor: Caller,
    start: Annotated[int, Query(description="Index of the first entry.")],
    end: Annotated[int, Query(description="Index after the last entry.")],
) -> list[LedgerEntryOut]:
    """Entries ``start`` ≤ index < ``end`` (at most 1000), oldest first."""
    return [LedgerEntryOut.of(row) for row in services.entries(uow, actor, start, end)]


@router.get(
    "/proof/inclusion",
    openapi_extra=permission("ledger:read"),
    responses={404: {"model": ErrorOut, "description": "No entry has that leaf hash."}},
)
def inclusion_proof(
    uow: UoW,
    actor: Caller,
    index: Annotated[int | None, Query(description="The entry's index.")] = None,
    leaf_hash: Annotated[
        str | None,
        Query(max_length=64, description="Or the entry's leaf hash, in standard base64."),
    ] = None,
    size: Size = None,
) -> InclusionProofOut:
    """An RFC 9162 inclusion proof of one entry, named by its index or its leaf hash."""
    if leaf_hash is not None:
        if index is not None:
            raise ValidationError(
                "Give either index or leaf_hash, not both.", fields={"index": "either"}
            )
        decoded = b64decode_strict(leaf_hash)
        if decoded is None:
            raise ValidationError(
                "The leaf hash must be standard padded base64.", fields={"leaf_hash": "base64"}
            )
        return InclusionProofOut.of(services.prove_inclusion_of_leaf(uow, actor, decoded, size))
    if index is None:
        raise ValidationError("Give index or leaf_hash.", fields={"index": "missing"})
    return InclusionProofOut.of(services.prove_inclusion(uow, actor, index, size))


@router.get("/proof/consistency")
def consistency_proof(
    uow: UoW,
    old: Annotated[int, Query(description="The earlier tree size.")],
    new: Annotated[
        int | None, Query(description="The later tree size (default: the current size).")
    ] = None,
) -> ConsistencyProofOut:
    """An RFC 9162 consistency proof that the tree of size ``new`` extends that of ``old``;
    public, for witnesses (it holds roots and subtree hashes, never an entry)."""
    return ConsistencyProofOut.of(services.prove_consistency(uow, old, new))


@router.post(
    "/cosignatures",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": CosignatureOut, "description": "This cosignature was kept before."},
        404: {"model": ErrorOut, "description": "No such checkpoint of this log."},
    },
)
def receive_cosignature(
    body: CosignatureIn, uow: UoW, actor: Caller, response: Response
) -> CosignatureOut:
    """A witness hands over its cosignature (C2SP ``cosignature/v1``) of one of this log's
    checkpoints; public, since the signature is checked against the witness's known key."""
    received = cosignatures.receive_cosignature(
        uow, actor, checkpoint_note=body.checkpoint, cosignature_line=body.cosignature
    )
    if not received.created:
        response.status_code = status.HTTP_200_OK
    return CosignatureOut.of(received)


@router.get("/alarms", openapi_extra=permission("ledger:read"))
def ledger_alarms(uow: UoW, actor: Caller) -> list[AlarmOut]:
    """Alarms raised while witnessing other logs (rollback, split view, inconsistent),
    newest first, each with its evidence."""
    return [AlarmOut.of(row) for row in following.list_alarms(uow, actor)]
