"""Facts about the current HTTP request that services and the audit trail need."""

from __future__ import annotations

from fastapi import Request

from comity.i18n import LOCALES, negotiate
from comity.node import Node

LOCALE_COOKIE = "comity_lang"


def node_of(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def user_agent(request: Request) -> str:
    return request.headers.get("user-agent", "")[:300]


def locale_of(request: Request) -> str:
    chosen = request.cookies.get(LOCALE_COOKIE, "")
    if chosen in LOCALES:
        return chosen
    return negotiate(
        request.headers.get("accept-language"), node_of(request).settings.default_locale
    )
