"""Properties of our age files: whatever we encrypt decrypts to the same bytes with the
same SHA-256, for any size and any number of recipients; and any truncation, bit flip,
chunk swap or duplication, or appended byte is refused with an :class:`AgeError`."""

from __future__ import annotations

import hashlib
import io
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comity.vault.age import decrypt, decrypt_bytes, encrypt, encrypt_bytes
from comity.vault.age_format import read_header
from comity.vault.age_keys import X25519Identity
from comity.vault.age_stream import (
    BLOCK_CHUNKS,
    BLOCK_SIZE,
    CHUNK_SIZE,
    ENCRYPTED_CHUNK_SIZE,
    HELPER_CHUNKS,
    NONCE_SIZE,
)
from comity.vault.errors import AgeError, AgeFailure
from comity.vault.streams import Source

EDGE_SIZES = [
    0,
    1,
    CHUNK_SIZE - 1,
    CHUNK_SIZE,
    CHUNK_SIZE + 1,
    2 * CHUNK_SIZE - 1,
    2 * CHUNK_SIZE,
    2 * CHUNK_SIZE + 1,
    5 * CHUNK_SIZE + 12345,
]
IDENTITIES = [X25519Identity.generate() for _ in range(4)]
sizes = st.one_of(st.sampled_from(EDGE_SIZES), st.integers(0, 4 * CHUNK_SIZE))


def plaintext(size: int, seed: int) -> bytes:
    return hashlib.shake_256(seed.to_bytes(8, "big")).digest(size)


def payload_start(ciphertext: bytes) -> int:
    """Where the chunks start: after the header and the payload nonce."""
    source = Source(io.BytesIO(ciphertext))
    header = read_header(source)
    return len(header.mac_input) + 45 + NONCE_SIZE


@settings(max_examples=60)
@given(
    size=sizes,
    seed=st.integers(0, 2**32),
    recipients=st.integers(1, len(IDENTITIES)),
    armor=st.booleans(),
    data=st.data(),
)
def test_round_trip(
    size: int, seed: int, recipients: int, armor: bool, data: st.DataObject
) -> None:
    message = plaintext(size, seed)
    out = io.BytesIO()
    sent = encrypt(
        io.BytesIO(message), out, [i.recipient for i in IDENTITIES[:recipients]], armor=armor
    )
    assert sent.plaintext_size == size
    assert sent.plaintext_sha256 == hashlib.sha256(message).digest()
    assert sent.encrypted_size == len(out.getvalue())
    if not armor:
        chunks = max(1, -(-size // CHUNK_SIZE))
        assert len(out.getvalue()) == payload_start(out.getvalue()) + size + 16 * chunks

    reader = data.draw(st.sampled_from(IDENTITIES[:recipients]))
    back = io.BytesIO()
    received = decrypt(io.BytesIO(out.getvalue()), back, [reader])
    assert back.getvalue() == message
    assert received.plaintext_sha256 == hashlib.sha256(message).digest()
    assert received.plaintext_size == size


def test_the_edge_sizes_make_the_right_number_of_chunks() -> None:
    for size in EDGE_SIZES:
        ciphertext = encrypt_bytes(plaintext(size, size), [IDENTITIES[0].recipient])
        chunks = len(ciphertext) - payload_start(ciphertext)
        expected = max(1, -(-size // CHUNK_SIZE))
        assert chunks == size + 16 * expected, size
        assert decrypt_bytes(ciphertext, [IDENTITIES[0]]) == plaintext(size, size)


# Beyond one block, encryption shares each block between two threads: the caller's seals
# the first chunks, the helper the rest (and writes).
HELPER_STARTS = (BLOCK_CHUNKS - HELPER_CHUNKS) * CHUNK_SIZE
BLOCK_EDGE_SIZES = [
    BLOCK_SIZE - 1,
    BLOCK_SIZE,
    BLOCK_SIZE + 1,
    2 * BLOCK_SIZE,
    2 * BLOCK_SIZE + HELPER_STARTS,
    2 * BLOCK_SIZE + HELPER_STARTS + 1,
    5 * BLOCK_SIZE + 12345,
]


class Trickle:
    """A reader that never returns more than 40,000 bytes at a time."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)

    def read(self, size: int) -> bytes:
        return self._stream.read(min(size, 40_000))


def age_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("age-")]


@pytest.mark.parametrize("trickle", [False, True], ids=["whole-blocks", "trickle"])
@pytest.mark.parametrize("size", BLOCK_EDGE_SIZES)
def test_inputs_of_several_blocks_round_trip(size: int, trickle: bool) -> None:
    message = plaintext(size, size)
    out = io.BytesIO()
    reader = Trickle(message) if trickle else io.BytesIO(message)
    sent = encrypt(reader, out, [IDENTITIES[0].recipient])
    assert not age_threads()
    assert (sent.plaintext_size, sent.plaintext_sha256) == (size, hashlib.sha256(message).digest())
    ciphertext = out.getvalue()
    assert len(ciphertext) == payload_start(ciphertext) + size + 16 * -(-size // CHUNK_SIZE)
    assert decrypt_bytes(ciphertext, [IDENTITIES[0]]) == message


class FailingWriter:
    """Takes ``limit`` bytes, then fails as a full disk would."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def write(self, data: bytes) -> int:
        if len(data) > self.left:
            raise OSError(28, "No space left on device")
        self.left -= len(data)
        return len(data)


class FailingReader:
    """Gives ``limit`` bytes, then fails as a vanished network share would."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def read(self, size: int) -> bytes:
        if not self.left:
            raise OSError(5, "Input/output error")
        size = min(size, self.left)
        self.left -= size
        return bytes(size)


def test_a_writer_failing_midway_stops_encryption_with_its_error() -> None:
    with pytest.raises(OSError, match="No space left"):
        encrypt(
            io.BytesIO(bytes(6 * BLOCK_SIZE)),
            FailingWriter(2 * BLOCK_SIZE),
            [IDENTITIES[0].recipient],
        )
    assert not age_threads()


def test_a_reader_failing_midway_stops_encryption_with_its_error() -> None:
    with pytest.raises(OSError, match="Input/output error"):
        encrypt(FailingReader(3 * BLOCK_SIZE + 5), io.BytesIO(), [IDENTITIES[0].recipient])
    assert not age_threads()


def test_ciphertexts_of_the_same_plaintext_differ() -> None:
    one = encrypt_bytes(b"same", [IDENTITIES[0].recipient])
    two = encrypt_bytes(b"same", [IDENTITIES[0].recipient])
    assert one != two


@st.composite
def ciphertexts(draw: st.DrawFn) -> tuple[bytes, bytes]:
    size = draw(st.one_of(st.sampled_from(EDGE_SIZES[:7]), st.integers(0, 3 * CHUNK_SIZE)))
    message = plaintext(size, draw(st.integers(0, 2**32)))
    recipients = draw(st.integers(1, 3))
    return message, encrypt_bytes(message, [i.recipient for i in IDENTITIES[:recipients]])


def refused(ciphertext: bytes) -> AgeError:
    with pytest.raises(AgeError) as caught:
        decrypt_bytes(ciphertext, [IDENTITIES[0]])
    return caught.value


@settings(max_examples=80)
@given(ciphertexts(), st.data())
def test_any_truncation_is_refused(case: tuple[bytes, bytes], data: st.DataObject) -> None:
    _, ciphertext = case
    cut = data.draw(st.integers(0, len(ciphertext) - 1))
    refused(ciphertext[:cut])


@settings(max_examples=150)
@given(ciphertexts(), st.data())
def test_any_bit_flip_is_refused(case: tuple[bytes, bytes], data: st.DataObject) -> None:
    _, ciphertext = case
    start = payload_start(ciphertext)
    # Half the flips land in the header and nonce, half in the chunks.
    where = data.draw(st.booleans())
    position = data.draw(
        st.integers(0, start - 1) if where else st.integers(start, len(ciphertext) - 1)
    )
    bit = data.draw(st.integers(0, 7))
    flipped = bytearray(ciphertext)
    flipped[position] ^= 1 << bit
    refused(bytes(flipped))


@settings(max_examples=40)
@given(st.binary(min_size=1, max_size=100), ciphertexts())
def test_appended_bytes_are_refused(extra: bytes, case: tuple[bytes, bytes]) -> None:
    _, ciphertext = case
    refused(ciphertext + extra)


def chunks_of(ciphertext: bytes) -> tuple[bytes, list[bytes]]:
    start = payload_start(ciphertext)
    body = ciphertext[start:]
    pieces = [body[i : i + ENCRYPTED_CHUNK_SIZE] for i in range(0, len(body), ENCRYPTED_CHUNK_SIZE)]
    return ciphertext[:start], pieces


@pytest.mark.parametrize("size", [2 * CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 4 * CHUNK_SIZE - 7])
def test_swapped_duplicated_or_dropped_chunks_are_refused(size: int) -> None:
    message = plaintext(size, 7)
    head, pieces = chunks_of(encrypt_bytes(message, [IDENTITIES[0].recipient]))
    assert len(pieces) >= 3
    variants = {
        "first two swapped": [pieces[1], pieces[0], *pieces[2:]],
        "last two swapped": [*pieces[:-2], pieces[-1], pieces[-2]],
        "first duplicated": [pieces[0], *pieces],
        "middle duplicated": [*pieces[:2], pieces[1], *pieces[2:]],
        "last duplicated": [*pieces, pieces[-1]],
        "first dropped": pieces[1:],
        "middle dropped": [pieces[0], *pieces[2:]],
        "last dropped": pieces[:-1],
    }
    for name, order in variants.items():
        error = refused(b"".join([head, *order]))
        assert error.failure == AgeFailure.PAYLOAD, name


def test_a_final_chunk_dropped_says_truncated() -> None:
    head, pieces = chunks_of(encrypt_bytes(plaintext(3 * CHUNK_SIZE, 1), [IDENTITIES[0].recipient]))
    error = refused(b"".join([head, *pieces[:2]]))
    assert error.message == "payload truncated at chunk 1: the final chunk is missing"


def test_a_chunk_from_another_file_is_refused() -> None:
    recipient = [IDENTITIES[0].recipient]
    head, pieces = chunks_of(encrypt_bytes(plaintext(2 * CHUNK_SIZE + 5, 1), recipient))
    _, others = chunks_of(encrypt_bytes(plaintext(2 * CHUNK_SIZE + 5, 1), recipient))
    error = refused(b"".join([head, pieces[0], others[1], pieces[2]]))
    assert error.message.startswith("payload chunk 1 does not authenticate")
