"""Helpers of the payload tests: two real nodes that are confirmed peers of each other,
each on its own database with its own keys, and the receiver's real app reached by the
sender in process through a :class:`Relay` that can cut the connection on purpose."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from comity.audit.models import AuditEvent
from comity.exchange import own_node, peers
from comity.ledger.models import LedgerEntry
from comity.ledger.transport import HttpTransport
from comity.node import Node, local_operator

OPERATOR = local_operator()
Handler = Callable[[httpx.Request], httpx.Response]


def node_id(node: Node) -> str:
    with node.uow() as uow:
        return own_node.local_descriptor(uow.session, node.settings, node.keys).descriptor.node


def befriend(node: Node, other: Node) -> None:
    """``node`` adds ``other`` as a peer and confirms it by its fingerprint."""
    with other.uow() as uow:
        signed = own_node.local_descriptor(uow.session, other.settings, other.keys)
    with node.uow() as uow:
        peers.add_peer(uow, OPERATOR, signed.raw)
    with node.uow() as uow:
        peers.confirm_peer(uow, OPERATOR, signed.descriptor.node, signed.fingerprint)


class Relay:
    """The receiving node as the sender reaches it: each request goes to its real app.
    ``cut_after`` chunks, the connection fails (as when the receiver is killed);
    ``rewrite`` may change a request before it is delivered."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.chunks = 0
        self._lock = threading.Lock()
        self.cut_after: int | None = None
        self.rewrite: Callable[[httpx.Request], httpx.Request] | None = None
        self.transport = HttpTransport(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            with self._lock:  # the sender puts several chunks at once
                if self.cut_after is not None and self.chunks >= self.cut_after:
                    raise httpx.ConnectError("the receiving node is gone", request=request)
                self.chunks += 1
        if self.rewrite is not None:
            request = self.rewrite(request)
        answer = self.client.request(
            request.method,
            request.url.raw_path.decode(),
            content=request.content,
            headers={
                name: value
                for name, value in request.headers.items()
                if name.lower() in {"content-type", "comity-chunk-proof"}
            },
        )
        return httpx.Response(
            answer.status_code,
            headers={"content-type": answer.headers.get("content-type", "")},
            content=answer.content,
        )


def random_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def ledger_count(node: Node, kind: str) -> int:
    """How many ledger entries of type ``kind`` the node holds."""
    with node.uow() as uow:
        return (
            uow.session.scalar(
                select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == kind)
            )
            or 0
        )


def audit_count(node: Node, action: str) -> int:
    with node.uow() as uow:
        return (
            uow.session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
            )
            or 0
        )
