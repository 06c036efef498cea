"""The running SHA-256 of a payload being received: the same as the whole file's,
whatever order its chunks were recorded in; none when a chunk went elsewhere."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

from comity.exchange.payload_digests import RunningDigests
from comity.exchange.payload_format import MIN_CHUNK_SIZE, Manifest

T0 = dt.datetime(2025, 6, 1, 9, 30, tzinfo=dt.UTC)


def manifest_of(data: bytes) -> Manifest:
    return Manifest(
        payload_id="3d4f7c1a-8e2b-4f6d-9a0c-5b1e2d3f4a6b",
        sender="org.example.ngo-1",
        sender_key="ed25519:d38d3514c0fd4ddd5c7818faee96f052",
        recipients=("int.example.prosecutor",),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        chunk_size=MIN_CHUNK_SIZE,
        chunk_root="00" * 32,
        contents=b"sealed",
        created_at=T0,
        expires_at=T0 + dt.timedelta(days=1),
    )


def test_chunks_in_any_order_give_the_whole_files_digest(tmp_path: Path) -> None:
    data = os.urandom(4 * MIN_CHUNK_SIZE + 100)
    manifest = manifest_of(data)
    path = tmp_path / "payload"
    path.write_bytes(data)
    digests = RunningDigests()
    descriptor = os.open(path, os.O_RDONLY)
    try:
        for number in (1, 0, 3, 4, 2):
            offset, length = manifest.chunk_span(number)
            digests.add(manifest, number, data[offset : offset + length], descriptor)
    finally:
        os.close(descriptor)
    assert digests.take(manifest.payload_id, manifest.chunks) == manifest.sha256
    assert digests.take(manifest.payload_id, manifest.chunks) is None  # forgotten


def test_a_gap_leaves_no_digest(tmp_path: Path) -> None:
    data = os.urandom(3 * MIN_CHUNK_SIZE)
    manifest = manifest_of(data)
    path = tmp_path / "payload"
    path.write_bytes(data)
    digests = RunningDigests()
    descriptor = os.open(path, os.O_RDONLY)
    try:
        for number in (0, 2):  # chunk 1 was recorded by another process
            offset, length = manifest.chunk_span(number)
            digests.add(manifest, number, data[offset : offset + length], descriptor)
    finally:
        os.close(descriptor)
    assert digests.take(manifest.payload_id, manifest.chunks) is None
