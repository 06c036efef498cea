"""Two nodes in one test: a second node on its own database, and a log node's real app
answering a witness's HTTP requests in process (see ``test_witnessing.py``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from comity.ledger import checkpoints, witnessing
from comity.ledger.checkpoint import Checkpoint, sign_checkpoint
from comity.ledger.note import NoteVerifier
from comity.ledger.transport import HttpTransport
from comity.node import InitReport, Node, initialise
from comity.settings import load_settings
from conftest import TEST_SECRET

Handler = Callable[[httpx.Request], httpx.Response]


def second_node(home: Path, database_url: str, name: str) -> tuple[Node, InitReport]:
    """Another initialised node, with its own data directory, keys and database."""
    settings = load_settings(
        home=home, database_url=database_url, secret_key=TEST_SECRET, node_name=name
    )
    return initialise(settings)


class Log:
    """The log node as the witness reaches it: every request goes to its real app,
    unless a test has put an answer of its own in ``overrides``."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.requests: list[tuple[str, str]] = []
        self.overrides: dict[tuple[str, str], Handler] = {}
        self.transport: HttpTransport

    def handle(self, request: httpx.Request) -> httpx.Response:
        target = request.url.raw_path.decode()
        self.requests.append((request.method, target))
        override = self.overrides.get((request.method, request.url.path))
        if override is not None:
            return override(request)
        answer = self.client.request(
            request.method,
            target,
            content=request.content,
            headers={"content-type": request.headers.get("content-type", "text/plain")},
        )
        return httpx.Response(
            answer.status_code,
            headers={"content-type": answer.headers.get("content-type", "")},
            content=answer.content,
        )

    def serve_checkpoint(self, note: str) -> None:
        self.overrides[("GET", witnessing.CHECKPOINT_PATH)] = lambda _request: httpx.Response(
            200, text=note
        )

    def paths(self) -> list[str]:
        return [f"{method} {target}" for method, target in self.requests]


def origin_of(node: Node) -> str:
    with node.uow() as uow:
        return checkpoints.origin(uow.session)


def log_key(node: Node) -> str:
    with node.uow() as uow:
        return checkpoints.verifier(uow.session, node.keys).vkey


def witness_key(node: Node) -> str:
    with node.uow() as uow:
        return checkpoints.cosigner(uow.session, node.keys).verifier().vkey


def stored_note(node: Node, size: int) -> str:
    with node.uow() as uow:
        row = checkpoints.checkpoint_at(uow.session, size)
        assert row is not None
        return row.note


def signed_by_log(node: Node, size: int, root: bytes) -> str:
    """A checkpoint the log's own key signs, whatever the log's entries say."""
    with node.uow() as uow:
        checkpoint = Checkpoint(checkpoints.origin(uow.session), size, root)
        return sign_checkpoint(checkpoint, checkpoints.signer(uow.session, node.keys))


def other_root(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def checkpoints_verifier(node: Node) -> NoteVerifier:
    with node.uow() as uow:
        return checkpoints.verifier(uow.session, node.keys)
