"""The one place where domain errors become HTTP responses.

API paths, and requests that accept ``application/json`` first (the pages' scripts), get
JSON ``{"error": code, "message": text, "fields": {...}}``; pages get an HTML error page
in the visitor's language. Permission refusals are written to the audit trail here, in
their own transaction, because the refused work was rolled back.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from comity import errors
from comity.audit.services import record_refusal
from comity.identity.permissions import anonymous
from comity.vault.errors import ChunkRefused, ChunkTooLarge
from comity.web.guards import CsrfRejected, Redirect, page_actor
from comity.web.requests import client_ip, node_of, user_agent
from comity.web.templating import render

STATUS: list[tuple[type[errors.ComityError], int]] = [
    (ChunkTooLarge, 413),
    (ChunkRefused, 400),
    (errors.ValidationError, 422),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.Throttled, 429),
    (errors.AccountLocked, 423),
    (errors.AuthenticationError, 401),
    (errors.PermissionDenied, 403),
    (errors.ConfigurationError, 500),
    (errors.PeerUnreachable, 502),
    (errors.PeerAnswerInvalid, 502),
]


def status_for(exc: errors.ComityError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def _is_api(request: Request) -> bool:
    """JSON for the API, and for the pages' own scripts, which ask for it."""
    accept = request.headers.get("accept", "")
    return request.url.path.startswith("/api/") or accept.startswith("application/json")


def _error_response(
    request: Request, status: int, code: str, message: str, fields: dict[str, str]
) -> Response:
    if _is_api(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        body: dict[str, Any] = {"error": code, "message": message, "fields": fields}
        return JSONResponse(body, status_code=status, headers=headers)
    return render(request, "error.html", {"status": status, "message": message}, status=status)


async def _comity_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, errors.ComityError):
        raise exc
    if isinstance(exc, errors.PermissionDenied):
        actor = getattr(request.state, "actor", None) or page_actor(request)
        await run_in_threadpool(
            record_refusal,
            node_of(request).sessions,
            actor,
            "access.denied",
            detail={"method": request.method, "path": request.url.path, "reason": exc.message},
        )
    return _error_response(request, status_for(exc), exc.code, exc.message, exc.fields)


async def _redirect(_request: Request, exc: Exception) -> Response:
    if not isinstance(exc, Redirect):
        raise exc
    return RedirectResponse(exc.location, status_code=303)


async def _csrf(request: Request, _exc: Exception) -> Response:
    actor = getattr(request.state, "view", None)
    await run_in_threadpool(
        record_refusal,
        node_of(request).sessions,
        actor.actor if actor else anonymous(client_ip(request), user_agent(request)),
        "access.csrf_rejected",
        detail={"method": request.method, "path": request.url.path},
    )
    return _error_response(
        request,
        403,
        "csrf_rejected",
        "This form has expired or did not come from this site. Go back, reload the page "
        "and try again.",
        {},
    )


async def _request_validation(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        raise exc
    fields = {
        ".".join(str(p) for p in err["loc"] if p != "body"): str(err["msg"]) for err in exc.errors()
    }
    message = "The request is not valid: " + "; ".join(f"{k}: {v}" for k, v in fields.items())
    return _error_response(request, 422, "validation_error", message, fields)


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    messages = {404: "There is nothing at this address.", 405: "This method is not allowed here."}
    message = messages.get(exc.status_code, str(exc.detail))
    return _error_response(request, exc.status_code, "http_error", message, {})


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.ComityError, _comity_error)
    app.add_exception_handler(Redirect, _redirect)
    app.add_exception_handler(CsrfRejected, _csrf)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
