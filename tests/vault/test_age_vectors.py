"""Every C2SP/CCTV age test file (``../shared/testdata/crypto/age``) gives exactly its
expected outcome: success with the right plaintext and file key, or the failure its
``expect:`` line names (header, HMAC, payload, armor, no match).
"""

from __future__ import annotations

import hashlib
import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from comity.vault.age import EncryptedFile, decrypt, decrypt_with_file_key
from comity.vault.age_keys import Identity, ScryptIdentity, parse_identity
from comity.vault.errors import AgeError, AgeFailure
from conftest import cannot_run

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "crypto" / "age"
VECTOR_COUNT = 143

EXPECT: dict[str, AgeFailure | None] = {
    "success": None,
    "header failure": AgeFailure.HEADER,
    "HMAC failure": AgeFailure.HEADER_MAC,
    "payload failure": AgeFailure.PAYLOAD,
    "armor failure": AgeFailure.ARMOR,
    "no match": AgeFailure.NO_MATCH,
}


@dataclass
class Vector:
    expect: AgeFailure | None
    payload_sha256: str | None
    file_key: bytes
    armored: bool
    identities: list[Identity]
    body: bytes


def load(path: Path) -> Vector:
    head, body = path.read_bytes().split(b"\n\n", 1)
    fields: dict[str, list[str]] = {}
    for line in head.decode("utf-8").splitlines():
        name, value = line.split(": ", 1)
        fields.setdefault(name, []).append(value)
    known = {"expect", "payload", "file key", "identity", "passphrase", "armored"}
    unknown = set(fields) - known - {"comment", "compressed"}
    assert not unknown, f"{path.name}: header fields this test does not know: {unknown}"
    if fields.get("compressed") == ["zlib"]:
        body = zlib.decompress(body)
    else:
        assert "compressed" not in fields, f"{path.name}: unknown compression"
    identities: list[Identity] = [parse_identity(text) for text in fields.get("identity", [])]
    identities += [ScryptIdentity(text) for text in fields.get("passphrase", [])]
    (expect,) = fields["expect"]
    assert expect in EXPECT, f"{path.name}: unknown expectation {expect!r}"
    return Vector(
        expect=EXPECT[expect],
        payload_sha256=fields.get("payload", [None])[0],
        file_key=bytes.fromhex(fields["file key"][0]),
        armored=fields.get("armored") == ["yes"],
        identities=identities,
        body=body,
    )


def _vectors() -> list[Any]:
    if not TESTDATA.is_dir():
        return [pytest.param(None, id="shared-testdata-missing")]
    return [pytest.param(path, id=path.name) for path in sorted(TESTDATA.iterdir())]


@pytest.fixture(autouse=True)
def _testdata_present() -> None:
    if not TESTDATA.is_dir():
        cannot_run(f"the shared age test data is not at {TESTDATA}")


def test_all_vectors_are_there() -> None:
    assert len(list(TESTDATA.iterdir())) == VECTOR_COUNT


@pytest.mark.parametrize("path", _vectors())
def test_vector(path: Path) -> None:
    vector = load(path)
    out = io.BytesIO()
    if vector.expect is not None:
        with pytest.raises(AgeError) as caught:
            decrypt(io.BytesIO(vector.body), out, vector.identities, armored=vector.armored)
        assert caught.value.failure == vector.expect, caught.value.message
        return
    result = decrypt(io.BytesIO(vector.body), out, vector.identities, armored=vector.armored)
    assert hashlib.sha256(out.getvalue()).hexdigest() == vector.payload_sha256
    assert result.plaintext_sha256.hex() == vector.payload_sha256
    assert result.plaintext_size == len(out.getvalue())

    encrypted = EncryptedFile(io.BytesIO(vector.body), armored=vector.armored)
    assert encrypted.unwrap(vector.identities) == vector.file_key
    again = decrypt_with_file_key(io.BytesIO(vector.body), io.BytesIO(), vector.file_key)
    assert again == result  # armor recognised without being told


@pytest.mark.parametrize(
    "name", ["x25519", "scrypt", "hybrid", "stream_three_chunks", "stream_empty_payload"]
)
def test_a_wrong_file_key_fails_the_header_mac(name: str) -> None:
    vector = load(TESTDATA / name)
    with pytest.raises(AgeError, match="header MAC mismatch") as caught:
        decrypt_with_file_key(io.BytesIO(vector.body), io.BytesIO(), bytes(16))
    assert caught.value.failure == AgeFailure.HEADER_MAC
