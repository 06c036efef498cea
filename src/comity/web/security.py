"""HTTP hardening: security headers, a request-size limit, and CSRF tokens.

CSRF uses synchronizer tokens. For a signed-in browser the token is an HMAC of the
session id under a key derived from the node secret; before sign-in it is an HMAC of a
random value kept in a short-lived cookie. Every unsafe request to a page must carry
the token in the ``X-CSRF-Token`` header (htmx, the pages' scripts) or, for a ``POST``,
in the ``csrf_token`` form field.
The JSON API takes bearer tokens only, never cookies, so it needs no CSRF token.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from comity.secretbox import derive_key, mac

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "cross-origin-opener-policy": "same-origin",
}
PRESESSION_COOKIE = "comity_pre"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CsrfKeys:
    def __init__(self, secret: bytes) -> None:
        self._key = derive_key(secret, "csrf")

    def for_session(self, session_id: str) -> str:
        return mac(self._key, "session:" + session_id)

    def for_presession(self, value: str) -> str:
        return mac(self._key, "pre:" + value)

    @staticmethod
    def new_presession_value() -> str:
        return secrets.token_urlsafe(24)

    @staticmethod
    def matches(expected: str, given: str) -> bool:
        return bool(given) and hmac.compare_digest(expected.encode(), given.encode())


class SecurityHeadersMiddleware:
    """Adds the security headers to every response, and ``no-store`` to non-static ones."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = dict(SECURITY_HEADERS)
                if self.hsts:
                    extra["strict-transport-security"] = "max-age=31536000"
                if not static:
                    extra["cache-control"] = "no-store"
                for name, value in extra.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Refuses request bodies larger than ``limit`` bytes with 413, before any handler runs.
    ``PUT`` requests to a path that ``chunk_paths`` matches (the chunks of resumable
    uploads) may carry up to ``chunk_limit`` bytes instead, and a (method, path) of
    ``route_limits`` (the envelopes peers deliver) up to its own limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        chunk_limit: int = 0,
        chunk_paths: re.Pattern[str] | None = None,
        route_limits: Mapping[tuple[str, str], int] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.chunk_limit = chunk_limit
        self.chunk_paths = chunk_paths
        self.route_limits = dict(route_limits or {})

    def _limit(self, scope: Scope) -> int:
        exact = self.route_limits.get((scope["method"], scope["path"]))
        if exact is not None:
            return exact
        if (
            self.chunk_paths is not None
            and scope["method"] == "PUT"
            and self.chunk_paths.fullmatch(scope["path"])
        ):
            return self.chunk_limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            await _too_large(send, limit)


class BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = f'{{"error":"payload_too_large","message":"The request is larger than {limit} bytes."}}'
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})
