"""The local blob store: names are checksums, unfinished blobs never appear, paths stay
inside the store, damage is detected; writing in batches changes none of it."""

from __future__ import annotations

import errno
import hashlib
import resource
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from comity.errors import NotFound
from comity.vault.blobs import (
    WRITE_BACK_STEP,
    WRITE_BATCH,
    BlobStoreError,
    BlobWriter,
    LocalBlobStore,
)


def write_blob(store: LocalBlobStore, *parts: bytes) -> str:
    with store.writer() as writer:
        for part in parts:
            writer.write(part)
        return writer.commit()


def test_a_blob_is_named_by_the_hash_of_its_bytes_and_reads_back(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "vault")
    name = write_blob(store, b"first part, ", b"second part")
    assert name == "sha256/" + hashlib.sha256(b"first part, second part").hexdigest()
    assert store.exists(name)
    assert store.size(name) == 23
    with store.open(name) as stream:
        assert stream.read() == b"first part, second part"
    assert store.check(name)
    assert not any((tmp_path / "vault" / "tmp").iterdir())
    assert write_blob(store, b"first part, second part") == name  # the same bytes, one copy


def test_blobs_and_their_directories_are_the_owners_alone(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "vault")
    path = store.path_of(write_blob(store, b"private"))
    assert path.stat().st_mode & 0o777 == 0o600
    for directory in (
        path.parent,
        path.parent.parent,
        path.parent.parent.parent,
        store.root / "tmp",
    ):
        assert directory.stat().st_mode & 0o777 == 0o700


def test_a_blob_of_many_blocks_is_named_by_all_its_bytes_in_order(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "vault")
    pieces = [bytes([n % 251]) * 65_552 for n in range(57)]  # 3.6 MB in age-sized pieces
    name = write_blob(store, *pieces)
    assert name == "sha256/" + hashlib.sha256(b"".join(pieces)).hexdigest()
    assert store.check(name)
    assert store.size(name) == 57 * 65_552


def test_the_empty_blob_is_a_blob(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "vault")
    name = write_blob(store)
    assert name == "sha256/" + hashlib.sha256(b"").hexdigest()
    assert store.size(name) == 0


def test_an_unfinished_blob_leaves_nothing_behind(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "vault")

    def fail_halfway() -> None:
        with store.writer() as writer:
            writer.write(b"half of it")
            raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError):
        fail_halfway()
    assert not any((tmp_path / "vault" / "tmp").iterdir())
    assert not any((tmp_path / "vault").glob("sha256/**/*"))
    with store.writer() as writer:
        writer.write(b"never committed")
    assert not any((tmp_path / "vault" / "tmp").iterdir())


def test_a_committed_blob_cannot_be_written_to(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "vault")
    with store.writer() as writer:
        writer.write(b"done")
        writer.commit()
        with pytest.raises(BlobStoreError, match="not open"):
            writer.write(b"more")
        with pytest.raises(BlobStoreError, match="not open"):
            writer.commit()


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "sha256/../../../etc/passwd",
        "sha256/" + "A" * 64,
        "sha256/" + "0" * 63,
        "md5/" + "0" * 32,
        "sha256/" + "0" * 64 + "\n",
        "",
    ],
)
def test_names_that_are_not_blob_names_are_refused(tmp_path: Path, name: str) -> None:
    store = LocalBlobStore(tmp_path / "vault")
    with pytest.raises(BlobStoreError, match="is not a blob name"):
        store.exists(name)
    with pytest.raises(BlobStoreError), store.open(name):
        pass
    with pytest.raises(BlobStoreError):
        store.delete(name)


def test_a_store_whose_shard_directory_escapes_is_refused(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "vault")
    name = "sha256/" + "ab" * 32
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "vault" / "sha256").mkdir()
    (tmp_path / "vault" / "sha256" / "ab").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BlobStoreError, match="outside the store"):
        store.exists(name)


def test_a_changed_byte_is_detected_and_a_missing_blob_is_not_found(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "vault")
    name = write_blob(store, b"evidence bytes" * 1000)
    path = store.path_of(name)
    data = bytearray(path.read_bytes())
    data[7000] ^= 0x01
    path.write_bytes(bytes(data))
    assert not store.check(name)
    store.delete(name)
    assert not store.exists(name)
    with pytest.raises(NotFound, match="missing"), store.open(name):
        pass
    with pytest.raises(NotFound):
        store.size(name)


def test_a_blob_of_many_batches_holds_every_byte_in_order(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "vault")
    pieces = [hashlib.shake_256(n.to_bytes(4, "big")).digest(65_552) for n in range(200)]
    assert sum(map(len, pieces)) > 3 * WRITE_BACK_STEP > 3 * WRITE_BATCH
    name = write_blob(store, *pieces)
    assert name == "sha256/" + hashlib.sha256(b"".join(pieces)).hexdigest()
    assert store.size(name) == 200 * 65_552
    assert store.check(name)
    assert not any((tmp_path / "vault" / "tmp").iterdir())


def test_many_small_writes_make_one_blob(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "vault")
    pieces = [n.to_bytes(4, "big") for n in range(5000)]
    assert write_blob(store, *pieces) == "sha256/" + hashlib.sha256(b"".join(pieces)).hexdigest()


def test_a_buffer_changed_after_it_was_written_is_stored_as_it_was(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "vault")
    buffer = bytearray(b"as written")
    with store.writer() as writer:
        writer.write(buffer)  # type: ignore[arg-type]  # a caller that breaks the contract
        buffer[:] = b"overwrote!"
        name = writer.commit()
    with store.open(name) as stream:
        assert stream.read() == b"as written"


@pytest.fixture
def files_of_at_most_three_mib() -> Iterator[None]:
    """Writes past 3 MiB fail with EFBIG (as a full disk fails with ENOSPC)."""
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (3 * 1024 * 1024, limits[1]))
    yield
    resource.setrlimit(resource.RLIMIT_FSIZE, limits)
    signal.signal(signal.SIGXFSZ, handler)


@pytest.mark.usefixtures("files_of_at_most_three_mib")
def test_a_write_that_fails_is_raised_and_nothing_is_kept(
    tmp_path: Path,
) -> None:
    store = LocalBlobStore(tmp_path / "vault")
    piece = bytes(65_552)

    def write_13_mb_and_commit(writer: BlobWriter) -> None:
        for _ in range(200):
            writer.write(piece)
        writer.commit()

    with store.writer() as writer:
        with pytest.raises(OSError, match="too large") as failure:
            write_13_mb_and_commit(writer)
        assert failure.value.errno == errno.EFBIG
        with pytest.raises(BlobStoreError, match="not open"):
            writer.write(piece)
        with pytest.raises(BlobStoreError, match="not open"):
            writer.commit()
    assert not any((tmp_path / "vault" / "tmp").iterdir())
    assert not any((tmp_path / "vault").glob("sha256/**/*"))


def test_directories_are_made_owner_only_and_only_inside_the_store(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "vault")
    deep = store.root / "sha256" / "ab" / "cd"
    store.make_directories(deep)
    store.make_directories(deep)  # already there: nothing to do
    assert [(level.stat().st_mode & 0o777) for level in (deep, deep.parent)] == [0o700] * 2
    with pytest.raises(BlobStoreError, match="outside the store"):
        store.make_directories(tmp_path / "elsewhere" / "ab")
    assert not (tmp_path / "elsewhere").exists()
