"""Interoperability with the reference ``age`` tool (Debian package ``age``): what we
encrypt, ``age -d -i`` decrypts; what ``age -r`` encrypts, we decrypt; and keys made
by ``age-keygen`` are ours too. Missing tools are a "cannot run here"."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from comity.vault.age import decrypt_file, encrypt
from comity.vault.age_keys import X25519Identity, X25519Recipient, parse_identities
from comity.vault.age_stream import BLOCK_SIZE, CHUNK_SIZE
from conftest import cannot_run

SIZES = [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 777, 3 * BLOCK_SIZE + 777]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        cannot_run(f"the {name} command is not on PATH (install Debian's 'age' package)")
    assert path is not None
    return path


def _run(*command: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # noqa: S603 - the age tools, on files of this test
        command, capture_output=True, check=False
    )


@pytest.fixture
def age_cli() -> str:
    return _tool("age")


@pytest.fixture
def identity(tmp_path: Path) -> tuple[X25519Identity, Path]:
    identity = X25519Identity.generate()
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"# public key: {identity.recipient}\n{identity.secret_text()}\n")
    return identity, key_file


def _plaintext(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "plain.bin"
    path.write_bytes(hashlib.shake_256(str(size).encode()).digest(size))
    return path


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES)
def test_age_decrypts_what_we_encrypt(
    age_cli: str, identity: tuple[X25519Identity, Path], tmp_path: Path, size: int, armor: bool
) -> None:
    ours, key_file = identity
    plain = _plaintext(tmp_path, size)
    sealed = tmp_path / "ours.age"
    with plain.open("rb") as reader, sealed.open("wb") as writer:
        encrypt(reader, writer, [ours.recipient], armor=armor)
    done = _run(age_cli, "-d", "-i", str(key_file), str(sealed))
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == plain.read_bytes()


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES)
def test_we_decrypt_what_age_encrypts(
    age_cli: str, identity: tuple[X25519Identity, Path], tmp_path: Path, size: int, armor: bool
) -> None:
    ours, _ = identity
    plain = _plaintext(tmp_path, size)
    sealed = tmp_path / "theirs.age"
    flags = ["-a"] if armor else []
    done = _run(age_cli, *flags, "-r", str(ours.recipient), "-o", str(sealed), str(plain))
    assert done.returncode == 0, done.stderr.decode()
    result = decrypt_file(sealed, tmp_path / "back.bin", [ours])
    assert (tmp_path / "back.bin").read_bytes() == plain.read_bytes()
    assert result.plaintext_size == size


def test_keys_from_age_keygen(age_cli: str, tmp_path: Path) -> None:
    keygen = _tool("age-keygen")
    key_file = tmp_path / "keygen.txt"
    assert _run(keygen, "-o", str(key_file)).returncode == 0
    (identity,) = parse_identities(key_file.read_text())
    public = _run(keygen, "-y", str(key_file)).stdout.decode().strip()
    assert str(identity.recipient) == public
    assert X25519Recipient.parse(public) == identity.recipient
    plain = _plaintext(tmp_path, 1000)
    sealed = tmp_path / "theirs.age"
    assert _run(age_cli, "-r", public, "-o", str(sealed), str(plain)).returncode == 0
    decrypt_file(sealed, tmp_path / "back.bin", [identity])
    assert (tmp_path / "back.bin").read_bytes() == plain.read_bytes()
