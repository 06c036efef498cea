"""The age v1 payload: a 16-byte nonce, then the plaintext in 64 KiB chunks, each
sealed with ChaCha20-Poly1305 under the payload key (STREAM).

The chunk nonce is an 11-byte big-endian counter and a flag byte, 1 on the final chunk.
The final chunk may be shorter than 64 KiB, and is empty only when the whole plaintext
is. Both directions read their input once, a chunk at a time, in constant memory, and
hash the plaintext with SHA-256 in the same pass.

Decryption writes each chunk as soon as it authenticates: if a later chunk fails, what
was written must be thrown away (see :func:`comity.vault.age.decrypt`).
"""

from __future__ import annotations

import hashlib
import os
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
BLOCK_CHUNKS = 16  # chunks read, hashed and encrypted together: 1 MiB
BLOCK_SIZE = BLOCK_CHUNKS * CHUNK_SIZE
NONCE_SIZE = 16


@dataclass(frozen=True)
class Plaintext:
    """What passed through: the plaintext's length and SHA-256."""

    size: int
    sha256: bytes


def _aead(file_key: bytes, nonce: bytes) -> ChaCha20Poly1305:
    check_file_key(file_key)
    return ChaCha20Poly1305(hkdf_sha256(file_key, nonce, b"payload"))


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def encrypt_payload(source: Source, writer: Writer, file_key: bytes) -> Plaintext:
    """Writes the payload for everything ``source`` holds.

    The plaintext is read a block of :data:`BLOCK_CHUNKS` chunks at a time. For inputs
    longer than one block, hashing a block runs on a second thread while this one
    encrypts and writes it (both release the GIL on large buffers), so a large file costs
    about the longer of the two, not their sum; the digest still sees every byte in order.
    """
    nonce = os.urandom(NONCE_SIZE)
    aead = _aead(file_key, nonce)
    writer.write(nonce)
    digest = hashlib.sha256()
    size = 0
    counter = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="age-sha256") as hasher:
        hashing: Future[None] | None = None
        while True:
            block = source.read(BLOCK_SIZE)
            end = len(block) < BLOCK_SIZE or source.at_eof()
            if hashing is not None:
                hashing.result()
            if end and hashing is None:
                digest.update(block)  # one block in all: no thread for small inputs
            else:
                hashing = hasher.submit(digest.update, block)
            size += len(block)
            starts = range(0, len(block), CHUNK_SIZE) if block else range(1)
            for start in starts:
                last = end and start + CHUNK_SIZE >= len(block)
                chunk = block[start : start + CHUNK_SIZE]
                writer.write(aead.encrypt(_nonce(counter, last), chunk, None))
                counter += 1
            if end:
                if hashing is not None:
                    hashing.result()
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
