"""The age v1 payload: a 16-byte nonce, then the plaintext in 64 KiB chunks, each
sealed with ChaCha20-Poly1305 under the payload key (STREAM).

The chunk nonce is an 11-byte big-endian counter and a flag byte, 1 on the final chunk.
The final chunk may be shorter than 64 KiB, and is empty only when the whole plaintext
is. Both directions read their input once, a chunk at a time, in constant memory, and
hash the plaintext with SHA-256 in the same pass.

Encryption reads the plaintext a block of :data:`BLOCK_CHUNKS` chunks (1 MiB) at a time,
one block ahead, so that it knows which chunk is the final one without reading byte by
byte. An input longer than one block is shared between two threads, which overlap on
two cores (hashing, sealing, ``read`` and ``write`` all release the GIL on large
buffers):

- the caller's thread reads each block, hashes it and seals its first chunks;
- a helper thread seals the last :data:`HELPER_CHUNKS` chunks of the block, then hands
  the block's chunks in order to the writer. Every ``write`` after the nonce happens on
  that thread, one at a time: the local blob store hashes and writes the ciphertext
  there (:mod:`comity.vault.blobs`).

With the local blob store the two threads then do about as much work each. The caller
keeps at most two blocks waiting for the helper.

Decryption writes each chunk as soon as it authenticates: if a later chunk fails, what
was written must be thrown away (see :func:`comity.vault.age.decrypt`).
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from comity.vault.age_format import check_file_key, hkdf_sha256
from comity.vault.errors import AgeError, AgeFailure
from comity.vault.streams import Source, Writer

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
BLOCK_CHUNKS = 16  # chunks read, hashed and sealed together: 1 MiB
BLOCK_SIZE = BLOCK_CHUNKS * CHUNK_SIZE
HELPER_CHUNKS = 6
"""Chunks of each block sealed by the helper thread, which also writes. With the local
blob store (SHA-256 and ``write`` of the ciphertext on that thread), 5 to 8 measured the
same on the 2-core development machine, and about 8 % faster than sealing every chunk on
the caller's thread while the blob store hashed and wrote on a thread of its own."""
BLOCKS_IN_FLIGHT = 2
"""Blocks handed to the helper and not yet written, at most: one measured 8 % slower,
three no faster."""
NONCE_SIZE = 16


@dataclass(frozen=True)
class Plaintext:
    """What passed through: the plaintext's length and SHA-256."""

    size: int
    sha256: bytes


def _payload_key(file_key: bytes, nonce: bytes) -> bytes:
    check_file_key(file_key)
    return hkdf_sha256(file_key, nonce, b"payload")


def _aead(file_key: bytes, nonce: bytes) -> ChaCha20Poly1305:
    return ChaCha20Poly1305(_payload_key(file_key, nonce))


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


@dataclass(frozen=True)
class _Block:
    """A block of plaintext, its first chunk's counter, and whether it ends the payload."""

    data: bytes
    counter: int
    end: bool

    @property
    def chunks(self) -> int:
        return max(1, -(-len(self.data) // CHUNK_SIZE))  # the empty payload has one chunk

    def seal(self, aead: ChaCha20Poly1305, first: int, stop: int) -> list[bytes]:
        """Chunks ``first`` to ``stop`` (excluded), sealed; sealed from a view, not a copy."""
        view = memoryview(self.data)
        last = self.chunks - 1
        return [
            aead.encrypt(
                _nonce(self.counter + index, self.end and index == last),
                view[index * CHUNK_SIZE : (index + 1) * CHUNK_SIZE],
                None,
            )
            for index in range(first, stop)
        ]


def _finish(block: _Block, sealed: list[bytes], aead: ChaCha20Poly1305, writer: Writer) -> None:
    """The helper's part: seals the rest of ``block`` after ``sealed``, writes it all."""
    for chunk in sealed + block.seal(aead, len(sealed), block.chunks):
        writer.write(chunk)


def _read_after(source: Source, data: bytes) -> bytes:
    """The block after ``data``: empty when ``data`` was short (the end was reached)."""
    return source.read(BLOCK_SIZE) if len(data) == BLOCK_SIZE else b""


def encrypt_payload(source: Source, writer: Writer, file_key: bytes) -> Plaintext:
    """Writes the payload for everything ``source`` holds (on two threads beyond one
    block: see the module docstring)."""
    nonce = os.urandom(NONCE_SIZE)
    key = _payload_key(file_key, nonce)
    aead = ChaCha20Poly1305(key)
    writer.write(nonce)
    digest = hashlib.sha256()
    data = source.read(BLOCK_SIZE)
    following = _read_after(source, data)
    digest.update(data)
    if not following:  # one block in all: no thread for small inputs
        _finish(_Block(data, 0, end=True), [], aead, writer)
        return Plaintext(len(data), digest.digest())
    helper_aead = ChaCha20Poly1305(key)  # each thread seals with its own
    helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="age-seal")
    in_flight: deque[Future[None]] = deque()
    block = _Block(data, 0, end=False)
    size = len(data)
    try:
        while True:
            mine = block.seal(aead, 0, min(block.chunks, BLOCK_CHUNKS - HELPER_CHUNKS))
            while len(in_flight) >= BLOCKS_IN_FLIGHT:
                in_flight.popleft().result()
            in_flight.append(helper.submit(_finish, block, mine, helper_aead, writer))
            if block.end:
                break
            data, following = following, _read_after(source, following)
            block = _Block(data, block.counter + block.chunks, end=not following)
            digest.update(data)
            size += len(data)
        while in_flight:
            in_flight.popleft().result()
    finally:
        helper.shutdown(wait=True, cancel_futures=True)
    return Plaintext(size, digest.digest())


def _authenticates(aead: ChaCha20Poly1305, nonce: bytes, chunk: bytes) -> bool:
    try:
        aead.decrypt(nonce, chunk, None)
    except InvalidTag:
        return False
    return True


def _rejected(aead: ChaCha20Poly1305, counter: int, chunk: bytes, last: bool) -> AgeError:
    """Why chunk ``counter`` did not authenticate, as precisely as can be told."""
    if last and _authenticates(aead, _nonce(counter, False), chunk):
        message = f"payload truncated at chunk {counter}: the final chunk is missing"
    elif not last and _authenticates(aead, _nonce(counter, True), chunk):
        message = f"data follows the final chunk {counter} of the payload"
    else:
        message = (
            f"payload chunk {counter} does not authenticate: "
            "it is corrupted, truncated or out of order"
        )
    return AgeError(AgeFailure.PAYLOAD, message)


def decrypt_payload(source: Source, writer: Writer, file_key: bytes) -> Plaintext:
    """Reads the payload to its end, writing each chunk once it authenticates."""
    nonce = source.read(NONCE_SIZE)
    if len(nonce) < NONCE_SIZE:
        raise AgeError(AgeFailure.HEADER, "the payload nonce after the header is missing or short")
    aead = _aead(file_key, nonce)
    digest = hashlib.sha256()
    size = 0
    counter = 0
    while True:
        chunk = source.read(ENCRYPTED_CHUNK_SIZE)
        if len(chunk) < TAG_SIZE:
            if counter == 0 and not chunk:
                raise AgeError(AgeFailure.PAYLOAD, "the payload has no chunk at all")
            raise AgeError(AgeFailure.PAYLOAD, f"payload truncated at chunk {counter}")
        last = len(chunk) < ENCRYPTED_CHUNK_SIZE or source.at_eof()
        try:
            plain = aead.decrypt(_nonce(counter, last), chunk, None)
        except InvalidTag:
            raise _rejected(aead, counter, chunk, last) from None
        if last and not plain and counter:
            raise AgeError(
                AgeFailure.PAYLOAD,
                f"the final chunk {counter} is empty; only an empty payload may end so",
            )
        digest.update(plain)
        size += len(plain)
        writer.write(plain)
        if last:
            return Plaintext(size, digest.digest())
        counter += 1
