"""Encryption and decryption run in constant memory: a 64 MiB stream made on the fly
goes through both with a peak of Python allocations far below its size."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from comity.vault.age import decrypt, encrypt
from comity.vault.age_keys import X25519Identity

STREAM_SIZE = 64 * 1024 * 1024
# Encryption holds the 1 MiB block being sealed, the next one being read (assembled from
# this reader's small pieces, which copies it), and up to two blocks waiting for its
# helper thread: about 8 MiB whatever the stream's size (4 MiB from a file, read whole).
PEAK_LIMIT = 12 * 1024 * 1024


class Generated:
    """A reader that yields ``size`` pseudo-random bytes in pieces of awkward sizes,
    hashing them as it goes; nothing holds the whole stream."""

    def __init__(self, size: int) -> None:
        self._left = size
        self._counter = 0
        self.sha256 = hashlib.sha256()

    def read(self, size: int) -> bytes:
        size = min(size, self._left, 50_000 + self._counter % 30_000)
        self._counter += 1
        piece = hashlib.shake_256(self._counter.to_bytes(8, "big")).digest(size)
        self._left -= size
        self.sha256.update(piece)
        return piece


class Hashing:
    """A writer that keeps only the SHA-256 and the length of what it is given."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return len(data)


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    yield
    tracemalloc.stop()


def _peak() -> int:
    return tracemalloc.get_traced_memory()[1]


@pytest.mark.usefixtures("traced")
def test_a_64_mib_stream_in_constant_memory(tmp_path: Path) -> None:
    identity = X25519Identity.generate()
    source = Generated(STREAM_SIZE)
    sealed = tmp_path / "big.age"

    tracemalloc.reset_peak()
    with sealed.open("wb") as writer:
        sent = encrypt(source, writer, [identity.recipient])
    encrypt_peak = _peak()

    tracemalloc.reset_peak()
    sink = Hashing()
    with sealed.open("rb") as reader:
        received = decrypt(reader, sink, [identity])
    decrypt_peak = _peak()

    assert sent.plaintext_size == received.plaintext_size == sink.size == STREAM_SIZE
    assert sent.plaintext_sha256 == received.plaintext_sha256 == source.sha256.digest()
    assert sink.sha256.digest() == source.sha256.digest()
    assert encrypt_peak < PEAK_LIMIT, f"encryption peaked at {encrypt_peak} bytes"
    assert decrypt_peak < PEAK_LIMIT, f"decryption peaked at {decrypt_peak} bytes"
