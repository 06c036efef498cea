"""The parts of the age API the vault builds on: explicit file keys and stanzas, header
unwrapping, streaming from readers that return short reads, armor, passphrases and
post-quantum recipients, and never leaving unauthenticated plaintext behind."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from comity.vault.age import (
    EncryptedFile,
    decrypt,
    decrypt_bytes,
    decrypt_file,
    decrypt_with_file_key,
    encrypt,
    encrypt_bytes,
    encrypt_with_file_key,
    generate_file_key,
    unwrap,
    wrap,
)
from comity.vault.age_armor import BEGIN, END
from comity.vault.age_format import Stanza, build_header, read_header
from comity.vault.age_keys import (
    HybridIdentity,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
)
from comity.vault.age_stream import CHUNK_SIZE
from comity.vault.errors import AgeError, AgeFailure
from comity.vault.streams import Source

ALICE = X25519Identity.generate()
BOB = X25519Identity.generate()
MESSAGE = bytes(range(256)) * 1000  # 256,000 bytes: four chunks, the last one short


class Trickle:
    """A reader that returns at most a few bytes a call, as a pipe or socket may."""

    def __init__(self, data: bytes, step: int = 997) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, size: int) -> bytes:
        return self._data.read(min(size, self._step))


def test_the_vault_can_keep_the_file_key_and_its_own_stanzas() -> None:
    file_key = generate_file_key()
    vault_stanza = Stanza(("comity.org/vault", "key-7"), b"wrapped elsewhere")
    out = io.BytesIO()
    result = encrypt_with_file_key(
        io.BytesIO(MESSAGE), out, file_key, [vault_stanza, *wrap(file_key, [ALICE.recipient])]
    )
    assert result.plaintext_sha256 == hashlib.sha256(MESSAGE).digest()

    encrypted = EncryptedFile(io.BytesIO(out.getvalue()))
    assert encrypted.header.stanzas[0] == vault_stanza
    assert encrypted.unwrap([ALICE]) == file_key
    back = io.BytesIO()
    assert encrypted.decrypt(back, file_key).plaintext_size == len(MESSAGE)
    assert back.getvalue() == MESSAGE
    with pytest.raises(AgeError, match="already read"):
        encrypted.decrypt(io.BytesIO(), file_key)

    back = io.BytesIO()
    decrypt_with_file_key(io.BytesIO(out.getvalue()), back, file_key)
    assert back.getvalue() == MESSAGE


def test_unwrap_checks_the_header_mac_and_says_when_nothing_matches() -> None:
    file_key = generate_file_key()
    header_bytes = build_header(file_key, wrap(file_key, [ALICE.recipient]))
    header = read_header(Source(io.BytesIO(header_bytes)))
    assert unwrap(header, [BOB, ALICE]) == file_key
    with pytest.raises(AgeError, match="no identity matches any recipient stanza") as caught:
        unwrap(header, [BOB])
    assert caught.value.failure == AgeFailure.NO_MATCH
    with pytest.raises(AgeError, match="at least one identity"):
        unwrap(header, [])

    forged = build_header(file_key, wrap(file_key, [ALICE.recipient]))
    # Same key, other stanzas: each header's MAC covers its own stanzas only.
    mixed = header_bytes[: header_bytes.index(b"---")] + forged[forged.index(b"---") :]
    with pytest.raises(AgeError, match="header MAC mismatch") as caught:
        unwrap(read_header(Source(io.BytesIO(mixed))), [ALICE])
    assert caught.value.failure == AgeFailure.HEADER_MAC


def test_stanzas_encode_with_the_spec_line_rules() -> None:
    # The body is wrapped at 64 columns and always ends with a shorter line, maybe empty.
    cases = {0: [0], 47: [63], 48: [64, 0], 96: [64, 64, 0], 100: [64, 64, 6]}
    for size, widths in cases.items():
        encoded = Stanza(("t",), bytes(size)).encode().decode()
        assert encoded.endswith("\n")
        lines = encoded.split("\n")[:-1]
        assert lines[0] == "-> t"
        assert [len(line) for line in lines[1:]] == widths
    with pytest.raises(AgeError, match="not printable"):
        Stanza(("two words",), b"")
    with pytest.raises(AgeError, match="no arguments"):
        Stanza((), b"")


def test_streams_that_return_short_reads() -> None:
    out = io.BytesIO()
    encrypt(Trickle(MESSAGE), out, [ALICE.recipient])
    back = io.BytesIO()
    decrypt(Trickle(out.getvalue(), step=1), back, [ALICE])
    assert back.getvalue() == MESSAGE


def test_armored_output_is_strict_pem_and_reads_back() -> None:
    armored = encrypt_bytes(MESSAGE, [ALICE.recipient], armor=True)
    lines = armored.decode("ascii").split("\n")
    assert lines[0] == BEGIN.decode()
    assert lines[-2:] == [END.decode(), ""]
    body = lines[1:-2]
    assert {len(line) for line in body[:-1]} == {64}
    assert 0 < len(body[-1]) <= 64
    assert decrypt_bytes(armored, [ALICE]) == MESSAGE
    assert decrypt_bytes(b"\r\n \t" + armored.replace(b"\n", b"\r\n") + b"\n\n", [ALICE]) == MESSAGE
    with pytest.raises(AgeError) as caught:
        decrypt(io.BytesIO(armored), io.BytesIO(), [ALICE], armored=False)
    assert caught.value.failure == AgeFailure.HEADER


@pytest.mark.parametrize("size", [0, 1, 47, 48, 49, CHUNK_SIZE, CHUNK_SIZE + 1])
def test_armor_round_trips_awkward_sizes(size: int) -> None:
    message = b"x" * size
    assert decrypt_bytes(encrypt_bytes(message, [ALICE.recipient], armor=True), [ALICE]) == message


def test_passphrase_encryption_round_trips_and_stands_alone() -> None:
    sealed = encrypt_bytes(MESSAGE, [ScryptRecipient("correct horse", work_factor=10)])
    assert decrypt_bytes(sealed, [ScryptIdentity("correct horse")]) == MESSAGE
    with pytest.raises(AgeError) as caught:
        decrypt_bytes(sealed, [ScryptIdentity("wrong horse")])
    assert caught.value.failure == AgeFailure.NO_MATCH
    with pytest.raises(AgeError, match="work factor 10 is above the limit 8"):
        decrypt_bytes(sealed, [ScryptIdentity("correct horse", max_work_factor=8)])
    with pytest.raises(AgeError, match="scrypt stanza must be the only stanza"):
        encrypt_bytes(MESSAGE, [ScryptRecipient("correct horse", 10), ALICE.recipient])


def test_post_quantum_recipients_round_trip_and_are_not_mixed() -> None:
    pq = HybridIdentity.generate()
    other = HybridIdentity.generate()
    sealed = encrypt_bytes(MESSAGE, [pq.recipient, other.recipient])
    assert decrypt_bytes(sealed, [ALICE, other]) == MESSAGE
    with pytest.raises(AgeError, match="cannot be mixed") as caught:
        encrypt_bytes(MESSAGE, [pq.recipient, ALICE.recipient])
    assert caught.value.failure == AgeFailure.KEY


def test_encryption_needs_a_recipient_and_a_16_byte_key() -> None:
    with pytest.raises(AgeError, match="at least one recipient"):
        encrypt_bytes(b"", [])
    with pytest.raises(AgeError, match="16 bytes"):
        encrypt_with_file_key(io.BytesIO(b""), io.BytesIO(), bytes(15), [])
    with pytest.raises(AgeError, match="at least one recipient stanza"):
        encrypt_with_file_key(io.BytesIO(b""), io.BytesIO(), bytes(16), [])


class Recorder:
    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes) -> int:
        self.written += data
        return len(data)


def test_streaming_writes_authenticated_chunks_before_a_later_failure() -> None:
    sealed = bytearray(encrypt_bytes(MESSAGE, [ALICE.recipient]))
    sealed[-1] ^= 1  # the last chunk is corrupted; the first three are fine
    recorder = Recorder()
    with pytest.raises(AgeError, match="chunk 3 does not authenticate"):
        decrypt(io.BytesIO(bytes(sealed)), recorder, [ALICE])
    assert bytes(recorder.written) == MESSAGE[: 3 * CHUNK_SIZE]  # hence the warning


def test_decrypt_file_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    sealed = bytearray(encrypt_bytes(MESSAGE, [ALICE.recipient]))
    good = tmp_path / "good.age"
    good.write_bytes(bytes(sealed))
    sealed[-1] ^= 1
    bad = tmp_path / "bad.age"
    bad.write_bytes(bytes(sealed))

    result = decrypt_file(good, tmp_path / "good.bin", [ALICE])
    assert (tmp_path / "good.bin").read_bytes() == MESSAGE
    assert result.plaintext_sha256 == hashlib.sha256(MESSAGE).digest()

    with pytest.raises(AgeError):
        decrypt_file(bad, tmp_path / "bad.bin", [ALICE])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.age", "good.age", "good.bin"]


def test_errors_are_validation_errors_with_their_own_code() -> None:
    from comity.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        decrypt_bytes(b"not an age file\n", [ALICE])
    assert isinstance(caught.value, AgeError)
    assert caught.value.code == "age_error"
    assert caught.value.message == "not an age file: no age-encryption.org/v1 line"
