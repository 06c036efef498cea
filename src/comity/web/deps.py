"""FastAPI dependencies shared by the API and the pages."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request

from comity.db import UnitOfWork
from comity.keys import KeyStore
from comity.settings import Settings
from comity.web.requests import node_of


def get_uow(request: Request) -> Iterator[UnitOfWork]:
    """One unit of work for the request; the service called commits it or nothing happens."""
    with node_of(request).uow() as uow:
        yield uow


def get_settings(request: Request) -> Settings:
    return node_of(request).settings


def permission(name: str) -> dict[str, object]:
    """Route metadata naming the permission the service will check (for docs and tests)."""
    return {"x-comity-permission": name}


def get_keys(request: Request) -> KeyStore:
    """The node's key store (the ledger signs its checkpoints with it)."""
    return node_of(request).keys
