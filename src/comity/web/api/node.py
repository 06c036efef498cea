"""Routes about this node as its peers see it, under ``/api/v1/node``.

``GET /node/descriptor`` is public when the node publishes its descriptor
(``COMITY_PUBLISH_DESCRIPTOR``): a peer's administrator fetches it with
``comity peers add https://…``. Where it is not published, the route answers 404 as if
it did not exist, so that scanning the address does not tell whose node it is.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from comity.db import UnitOfWork
from comity.errors import NotFound
from comity.exchange import own_node
from comity.keys import KeyStore
from comity.settings import Settings
from comity.web.api.schemas import ErrorOut
from comity.web.deps import get_keys, get_settings, get_uow

router = APIRouter(prefix="/node", tags=["federation"])
DESCRIPTOR_MEDIA_TYPE = "application/json"


@router.get(
    "/descriptor",
    response_class=Response,
    responses={
        200: {
            "content": {DESCRIPTOR_MEDIA_TYPE: {}},
            "description": "The node's signed descriptor (docs/formats/node-descriptor.md).",
        },
        404: {"model": ErrorOut, "description": "This node does not publish its descriptor."},
    },
)
def node_descriptor(
    uow: Annotated[UnitOfWork, Depends(get_uow)],
    settings: Annotated[Settings, Depends(get_settings)],
    keys: Annotated[KeyStore, Depends(get_keys)],
) -> Response:
    """This node's signed descriptor, freshly issued; public where the node publishes it."""
    if not settings.publish_descriptor:
        raise NotFound("Not found.")
    signed = own_node.local_descriptor(uow.session, settings, keys)
    return Response(signed.raw, media_type=DESCRIPTOR_MEDIA_TYPE)
