"""The staged bytes of resumable uploads: whatever chunks come, the staged file holds
exactly what the database counts; bytes written but not counted are cut back; abandoned
uploads expire and their bytes are removed."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import update

from comity.node import Node
from comity.vault.errors import ChunkRefused, OffsetMismatch
from comity.vault.inputs import Acquisition
from comity.vault.models import VaultUpload
from comity.vault.staging import staging_root
from comity.vault.uploads import start_upload, sweep_expired, write_chunk
from comity.web import app as web_app
from factories import MadeUser, actor_for, audit_events
from web.uploading import (  # noqa: F401 - the fixtures are used by name
    CHUNK,
    DATA,
    URL,
    Client,
    documenter_fixture,
    put,
    send,
    small_chunk_settings_fixture,
    staged_file,
    start,
    upload_row,
)


def test_bytes_written_but_not_recorded_are_cut_back_on_resume(
    node: Node, documenter: MadeUser, api: Client
) -> None:
    """A process killed between appending a chunk and recording it leaves more bytes in
    the staged file than the database counts: the database is the truth."""
    client = api(documenter)
    upload_id = start(client)
    send(client, upload_id, stop_at=CHUNK)
    with staged_file(node, upload_id).open("ab") as staged:
        staged.write(b"half of a chunk nobody recorded")
    assert client.get(f"{URL}/{upload_id}").json()["received"] == CHUNK
    send(client, upload_id, start_at=CHUNK)
    assert staged_file(node, upload_id).read_bytes() == DATA
    added = client.post(f"{URL}/{upload_id}/complete").json()
    assert added["sha256"] == hashlib.sha256(DATA).hexdigest()


def test_abandoned_uploads_expire_and_are_swept(
    node: Node, documenter: MadeUser, api: Client
) -> None:
    client = api(documenter)
    upload_id = start(client)
    send(client, upload_id, stop_at=CHUNK)
    orphan = staging_root(node) / "left-by-a-killed-start"
    orphan.mkdir()
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=49)).timestamp()
    os.utime(orphan, (old, old))
    assert sweep_expired(node) == 0
    assert sweep_expired(node, now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=49)) == 1
    assert upload_row(node, upload_id).status == "expired"
    assert not (staging_root(node) / upload_id).exists()
    assert not orphan.exists()
    assert [e.actor for e in audit_events(node, "evidence.upload.expire")] == [
        "system:upload-sweep"
    ]
    assert put(client, upload_id, DATA[CHUNK : 2 * CHUNK], CHUNK).status_code == 409


MOVES = st.lists(
    st.tuples(st.sampled_from(["next", "shifted", "empty", "oversized"]), st.integers(1, CHUNK)),
    max_size=12,
)


@hypothesis_settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=MOVES, shift=st.integers(-CHUNK, CHUNK).filter(bool))
def test_whatever_chunks_come_the_staged_bytes_are_a_prefix_of_the_file(
    node: Node, documenter: MadeUser, moves: list[tuple[str, int]], shift: int
) -> None:
    """A model of the protocol: only a non-empty chunk of at most the chunk limit that
    starts at ``received`` is taken; after every request, taken or refused, the staged
    file holds exactly the first ``received`` bytes of the file."""
    actor = actor_for(documenter)
    data = DATA[: 2 * CHUNK + 5]
    upload = start_upload(node, actor, name="model.bin", size=len(data), acquisition=Acquisition())
    received = 0
    for kind, length in moves:
        begin = max(received + shift, 0) if kind == "shifted" else received
        size = 0 if kind == "empty" else CHUNK + 1 if kind == "oversized" else length
        chunk = data[begin : begin + size]
        content_range = f"bytes {begin}-{begin + max(len(chunk), 1) - 1}/{len(data)}"
        expected = 0 < len(chunk) <= CHUNK and begin == received
        if expected:
            write_chunk(node, actor, upload.id, content_range, chunk)
            received += len(chunk)
        else:
            with pytest.raises((ChunkRefused, OffsetMismatch)):
                write_chunk(node, actor, upload.id, content_range, chunk)
        assert upload_row(node, upload.id).received == received
        assert staged_file(node, upload.id).read_bytes() == data[:received]


def test_a_serving_node_sweeps_abandoned_uploads_by_itself(
    node: Node, documenter: MadeUser, api: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_id = start(api(documenter))
    with node.uow() as uow:
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=49)
        uow.session.execute(update(VaultUpload).values(updated_at=long_ago))
        uow.commit()
    monkeypatch.setattr(web_app, "SWEEP_SECONDS", 0.05)
    with TestClient(web_app.create_app(node)):
        deadline = time.monotonic() + 10
        while upload_row(node, upload_id).status == "open" and time.monotonic() < deadline:
            time.sleep(0.05)
    assert upload_row(node, upload_id).status == "expired"
    assert not (staging_root(node) / upload_id).exists()
