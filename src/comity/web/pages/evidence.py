"""Evidence pages: the list of items, the upload page, an item with its metadata and
custody chain, its image preview, the download of its original and the proof file of a
custody event. The upload page's script talks to :mod:`comity.web.api.uploads`, mounted
under ``/evidence/uploads``.

A download changes the custody chain, so it is a ``POST`` with the CSRF token. A preview
is recorded too, but is an image the page loads (``GET``): the session cookie is
``SameSite=Strict``, so another site cannot make a browser load it, and the item page
shows it only when asked (``?preview=1``), so that opening the page records nothing.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from comity.identity.permissions import Actor
from comity.vault import items, uploads, viewing
from comity.vault.items import CheckReport
from comity.vault.metadata_view import describe
from comity.web.deps import permission
from comity.web.guards import page_actor
from comity.web.requests import node_of
from comity.web.templating import render

router = APIRouter(prefix="/evidence")
Caller = Annotated[Actor, Depends(page_actor)]
PAGE_SIZE = 50
ACQUISITION_FIELDS = ("who", "when", "where", "how", "tool")
# Served content is never run or sniffed, whatever it is.
CONTENT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'",
}


def attachment(name: str) -> str:
    """A ``Content-Disposition`` that saves the file under ``name`` (RFC 6266): an ASCII
    fallback for old clients, and the exact name in UTF-8 (RFC 8187)."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\%' else "_" for c in name)
    exact = quote(name, safe="")
    return f"attachment; filename=\"{fallback or 'evidence'}\"; filename*=UTF-8''{exact}"


@router.get("", openapi_extra=permission("evidence:read"))
def list_page(
    request: Request, actor: Caller, page: Annotated[int, Query(ge=1, le=1_000_000)] = 1
) -> Response:
    found = viewing.page_of_items(
        node_of(request), actor, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    context = {"found": found, "page": page, "pages": max(1, -(-found.total // PAGE_SIZE))}
    return render(request, "evidence/list.html", context)


@router.get("/upload", openapi_extra=permission("evidence:add"))
def upload_page(request: Request, actor: Caller) -> Response:
    node = node_of(request)
    context = {
        "unfinished": uploads.open_uploads(node, actor),
        "chunk_size": node.settings.upload_chunk_bytes,
        "max_size": node.settings.upload_max_bytes,
        "fields": ACQUISITION_FIELDS,
    }
    return render(request, "evidence/upload.html", context)


def _item_page(
    request: Request,
    actor: Actor,
    item_id: str,
    *,
    show_preview: bool = False,
    report: CheckReport | None = None,
) -> Response:
    node = node_of(request)
    shown = items.get_item(node, actor, item_id)
    context = {
        "shown": shown,
        "item": shown.item,
        "metadata": describe(shown.metadata.extracted) if shown.metadata is not None else [],
        "acquisition": [
            (name, shown.item.acquisition[name])
            for name in ACQUISITION_FIELDS
            if shown.item.acquisition.get(name)
        ],
        "previewable": viewing.can_preview(shown.item) and shown.tombstone is None,
        "show_preview": show_preview,
        "provable": viewing.provable_size(node),
        "report": report,
    }
    return render(request, "evidence/item.html", context)


@router.get("/{item_id}", openapi_extra=permission("evidence:read"))
def item_page(request: Request, actor: Caller, item_id: str, preview: bool = False) -> Response:
    return _item_page(request, actor, item_id, show_preview=preview)


@router.post("/{item_id}/check", openapi_extra=permission("evidence:read"))
def check(request: Request, actor: Caller, item_id: str) -> Response:
    report = items.check_item(node_of(request), actor, item_id)
    return _item_page(request, actor, item_id, report=report)


@router.get("/{item_id}/preview", openapi_extra=permission("evidence:download"))
def preview(request: Request, actor: Caller, item_id: str) -> Response:
    png = viewing.preview(node_of(request), actor, item_id)
    return Response(png, media_type="image/png", headers=CONTENT_HEADERS)


@router.post("/{item_id}/download", openapi_extra=permission("evidence:download"))
def download(request: Request, actor: Caller, item_id: str) -> Response:
    original = viewing.open_download(node_of(request), actor, item_id)
    headers = {
        **CONTENT_HEADERS,
        "Content-Disposition": attachment(original.item.original_name),
        "Content-Length": str(original.item.size),
    }
    return StreamingResponse(
        original.chunks(), media_type="application/octet-stream", headers=headers
    )


@router.get("/{item_id}/proof/{index}", openapi_extra=permission("evidence:read"))
def custody_proof(request: Request, actor: Caller, item_id: str, index: int) -> Response:
    document = viewing.custody_proof(node_of(request), actor, item_id, index)
    disposition = f'attachment; filename="ledger-proof-{index}.json"'
    return JSONResponse(document, headers={**CONTENT_HEADERS, "Content-Disposition": disposition})
