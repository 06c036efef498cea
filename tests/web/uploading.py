"""Helpers of the upload tests: a node that takes small chunks and a documenter to send
them (fixtures, imported by name into each test module), one file of a few chunks, and
the requests that send it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from comity.identity.permissions import Role
from comity.node import Node
from comity.settings import Settings, load_settings
from comity.vault.models import VaultUpload
from comity.vault.staging import staging_root
from conftest import TEST_SECRET
from factories import MadeUser, make_user
from vault.vaulting import vault_state

CHUNK = 64 * 1024
DATA = os.urandom(3 * CHUNK + 17)
URL = "/api/v1/evidence/uploads"
Client = Callable[..., TestClient]


# The fixtures' functions have names of their own, so that a test module imports them
# without its parameters shadowing the import.


@pytest.fixture(name="settings")
def small_chunk_settings_fixture(tmp_path: Path, database_url: str) -> Settings:
    """The node's settings, with small chunks so that :data:`DATA` takes several."""
    return load_settings(
        home=tmp_path / "home",
        database_url=database_url,
        secret_key=TEST_SECRET,
        upload_chunk_bytes=CHUNK,
        upload_max_bytes=10 * 1024 * 1024,
    )


@pytest.fixture(name="documenter")
def documenter_fixture(node: Node) -> MadeUser:
    return make_user(node, Role.DOCUMENTER, username="amira")


def start(client: TestClient, data: bytes = DATA, name: str = "report.bin", **extra: Any) -> str:
    body = {"name": name, "size": len(data), **extra}
    response = client.post(URL, json=body)
    assert response.status_code == 201, response.text
    assert response.json()["received"] == 0
    assert response.json()["chunk_size"] == CHUNK
    upload_id: str = response.json()["id"]
    return upload_id


def put(client: TestClient, upload_id: str, data: bytes, offset: int) -> httpx.Response:
    """Send ``data`` as the chunk of :data:`DATA` that starts at ``offset``."""
    end = offset + len(data) - 1
    return client.put(
        f"{URL}/{upload_id}",
        content=data,
        headers={"Content-Range": f"bytes {offset}-{end}/{len(DATA)}"},
    )


def send(
    client: TestClient, upload_id: str, *, start_at: int = 0, stop_at: int = len(DATA)
) -> None:
    """Send the bytes of :data:`DATA` from ``start_at`` to ``stop_at``, chunk by chunk."""
    for offset in range(start_at, stop_at, CHUNK):
        response = put(client, upload_id, DATA[offset : min(offset + CHUNK, stop_at)], offset)
        assert response.status_code == 200, response.text
        assert response.json()["received"] == min(offset + CHUNK, stop_at)


def staged_file(node: Node, upload_id: str) -> Path:
    files = list((staging_root(node) / upload_id).iterdir())
    assert len(files) == 1
    return files[0]


def upload_row(node: Node, upload_id: str) -> VaultUpload:
    with node.uow() as uow:
        row = uow.session.get(VaultUpload, upload_id)
    assert row is not None
    return row


def state(node: Node, upload_id: str) -> tuple[object, ...]:
    """The upload's row and staged bytes, and the vault: all a refusal must leave alone."""
    row = upload_row(node, upload_id)
    return (row.received, row.status, staged_file(node, upload_id).read_bytes(), vault_state(node))
