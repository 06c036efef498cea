"""Where the vault's encrypted payloads live: a blob store behind one small interface.

A blob is written once, as a stream, and named by the SHA-256 of its own bytes
(``sha256/<hex>``) once it is complete: the name is a checksum anyone can recompute, a blob
cannot be overwritten by a different one, and writing the same bytes twice keeps one copy.
A blob that was not finished — the writer failed, the process was killed — is never
visible under a name: it is written to a temporary file first and renamed into place
only after its bytes are on disk (``fsync`` of the file, then of its directory).

The local store (the default, in ``<home>/vault``) checks that every path it touches
lies inside its root. Its writer hashes what it is given at once and writes it to the
file a batch of :data:`WRITE_BATCH` bytes at a time, with one ``writev``. Every
:data:`WRITE_BACK_STEP` written, it asks the kernel to start writing that range back and
to drop the pages already on disk (``POSIX_FADV_DONTNEED``): the final ``fsync`` then
waits for a few MiB instead of the whole file, and the page cache does not fill with
the ciphertext. (Age encryption calls ``write`` from a helper thread, so all of this
overlaps with reading and hashing the plaintext: see :mod:`comity.vault.age_stream`.)

Other stores (S3-compatible object storage) implement the same :class:`BlobStore`
protocol. Each store also lists everything it holds (:meth:`BlobStore.inventory`), so
that a check of the whole vault can find what no item names: blobs of ingests that were
stopped before their item was committed, temporary files of killed writers, and files
that should not be there at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol, Self

from comity.errors import ComityError, NotFound

BLOB_NAME = re.compile(r"sha256/[0-9a-f]{64}")
_TEMPORARY = re.compile(r"tmp/[0-9a-f]{32}\.part")
READ_CHUNK = 1024 * 1024
WRITE_BATCH = 1024 * 1024
"""Bytes a local writer collects before it writes them to the file."""
WRITE_BACK_STEP = 4 * 1024 * 1024
"""Bytes written between two requests to start write-back and drop written pages."""
_MAX_PARTS = 512  # pieces in one batch, below the kernel's limit for writev (IOV_MAX)


class BlobStoreError(ComityError):
    """The blob store cannot do what was asked (a bad name, a damaged or missing blob)."""

    code = "blob_store_error"


def check_name(name: str) -> str:
    if not BLOB_NAME.fullmatch(name):
        raise BlobStoreError(f"{name!r} is not a blob name (sha256/ and 64 hex digits).")
    return name


class BlobWriter(Protocol):
    """A blob being written: bytes go in with :meth:`write`; :meth:`commit` makes it
    durable and returns its name; leaving the ``with`` block without committing discards
    it.

    A writer may keep the bytes and store them later (the local one writes them a batch
    at a time): a failure to store them is then raised by a later :meth:`write` or by
    :meth:`commit`, and after any failure the blob can only be discarded. Its methods
    may be called from any thread, one call at a time."""

    def write(self, data: bytes, /) -> int: ...

    def commit(self) -> str: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@dataclass(frozen=True)
class Stored:
    """One file or object a blob store holds, as :meth:`BlobStore.inventory` lists it:
    a finished blob (``name`` set), a temporary one (``temporary``), or a stray that the
    store never writes (neither)."""

    key: str
    """Its place in the store: a path below the root, or an object key."""
    name: str | None
    size: int
    modified: dt.datetime
    temporary: bool


class BlobStore(Protocol):
    def writer(self) -> BlobWriter:
        """A new blob to write (see :class:`BlobWriter`)."""
        ...

    def open(self, name: str) -> contextlib.AbstractContextManager[BinaryIO]:
        """The blob's bytes, as a readable binary stream."""
        ...

    def exists(self, name: str) -> bool: ...

    def size(self, name: str) -> int: ...

    def check(self, name: str) -> bool:
        """Whether the blob's bytes still hash to its name."""
        ...

    def delete(self, name: str) -> None:
        """Remove a blob for good (only legal deletion does this, and the removal of a
        blob no item names)."""
        ...

    def inventory(self) -> Iterator[Stored]:
        """Everything the store holds, in no particular order."""
        ...

    def discard(self, key: str) -> None:
        """Remove the temporary blob at ``key`` (as :meth:`inventory` gives it)."""
        ...


def _drop_cached(descriptor: int, start: int, end: int) -> None:
    """Starts writing back bytes ``start`` to ``end`` of the file and drops from the page
    cache those of them already on disk (where the system has ``posix_fadvise``)."""
    if hasattr(os, "posix_fadvise") and end > start:
        os.posix_fadvise(descriptor, start, end - start, os.POSIX_FADV_DONTNEED)


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_all(descriptor: int, parts: list[bytes]) -> int:
    """Writes ``parts`` in order, with one ``writev`` unless the kernel takes fewer bytes;
    returns how many were written."""
    total = sum(len(part) for part in parts)
    written = os.writev(descriptor, parts) if parts else 0
    if written < total:
        rest = memoryview(b"".join(parts))[written:]
        while rest:
            rest = rest[os.write(descriptor, rest) :]
    return total


class _LocalWriter:
    """Hashes what it is given and writes it in batches (see the module docstring)."""

    def __init__(self, store: LocalBlobStore) -> None:
        self._store = store
        self._hash = hashlib.sha256()
        self._temporary = store.temporary_path()
        self._descriptor: int | None = None
        self._name: str | None = None
        self._failed = False
        self._batch: list[bytes] = []
        self._batch_size = 0
        self._written = 0
        self._write_back_from = 0
        self._write_back_to = 0

    def __enter__(self) -> Self:
        # Owner-only, like everything else in the data directory: blobs are encrypted,
        # but their sizes and number are still nobody else's business.
        self._descriptor = os.open(self._temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return self

    def _require_open(self) -> int:
        if self._descriptor is None or self._name is not None or self._failed:
            raise BlobStoreError("This blob is not open for writing.")
        return self._descriptor

    def write(self, data: bytes, /) -> int:
        self._require_open()
        # Kept until its batch is written: a mutable buffer could change before then.
        data = data if type(data) is bytes else bytes(data)
        self._hash.update(data)
        self._batch.append(data)
        self._batch_size += len(data)
        if self._batch_size >= WRITE_BATCH or len(self._batch) >= _MAX_PARTS:
            self._write_batch()
        return len(data)

    def _write_batch(self) -> int:
        """Writes the batch; starts write-back every :data:`WRITE_BACK_STEP`."""
        descriptor = self._require_open()
        try:
            self._written += _write_all(descriptor, self._batch)
        except BaseException:
            self._failed = True  # some bytes are hashed but not written: discard only
            raise
        self._batch = []
        self._batch_size = 0
        if self._written - self._write_back_to >= WRITE_BACK_STEP:
            # Pages still being written back when a range is first passed stay in the
            # cache; passing each range twice drops them on the next call.
            _drop_cached(descriptor, self._write_back_from, self._written)
            self._write_back_from = self._write_back_to
            self._write_back_to = self._written
        return descriptor

    def commit(self) -> str:
        descriptor = self._write_batch()
        self._failed = True  # one attempt: should the rest fail, the blob is discarded
        os.fsync(descriptor)
        _drop_cached(descriptor, 0, self._written)
        self._descriptor = None
        os.close(descriptor)
        name = f"sha256/{self._hash.hexdigest()}"
        final = self._store.path_of(name)
        self._store.make_directories(final.parent)
        os.replace(self._temporary, final)  # same bytes, same name: replacing is harmless
        _fsync_directory(final.parent)
        self._name = name
        return name

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None
        if self._name is None:
            self._temporary.unlink(missing_ok=True)


class LocalBlobStore:
    """Blobs as files under ``root``: ``root/sha256/ab/cd/<hex>``, temporary files in
    ``root/tmp`` (same file system, so the final rename is atomic)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.make_directories(self.root / "tmp")

    def make_directories(self, directory: Path) -> None:
        """``directory`` and any missing parent below the root, each owner-only (one
        ``mkdir`` when only the last level is missing, the usual case)."""
        if not directory.is_relative_to(self.root):
            raise BlobStoreError(f"The directory {directory} would lie outside the store.")
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            return
        except FileNotFoundError:
            self.make_directories(directory.parent)
            directory.mkdir(mode=0o700, exist_ok=True)

    def temporary_path(self) -> Path:
        return self.root / "tmp" / f"{secrets.token_hex(16)}.part"

    def path_of(self, name: str) -> Path:
        digest = check_name(name).removeprefix("sha256/")
        shards = os.path.join(self.root, "sha256")
        first = os.path.join(shards, digest[:2])
        second = os.path.join(first, digest[2:4])
        path = os.path.join(second, digest)
        # The root is resolved and the name checked: only a symbolic link below the root
        # could lead elsewhere, so the whole path is resolved only if there is one.
        if any(map(os.path.islink, (shards, first, second, path))):
            real = Path(path).resolve()
            if not real.is_relative_to(self.root):
                raise BlobStoreError(f"The blob {name} would lie outside the store.")
            return real
        return Path(path)

    def writer(self) -> BlobWriter:
        return _LocalWriter(self)

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        try:
            stream = self.path_of(name).open("rb")
        except FileNotFoundError:
            raise NotFound(f"The blob {name} is missing from the store.") from None
        with stream:
            yield stream

    def exists(self, name: str) -> bool:
        return self.path_of(name).is_file()

    def size(self, name: str) -> int:
        try:
            return self.path_of(name).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"The blob {name} is missing from the store.") from None

    def check(self, name: str) -> bool:
        digest = hashlib.sha256()
        with self.open(name) as stream:
            while chunk := stream.read(READ_CHUNK):
                digest.update(chunk)
        return f"sha256/{digest.hexdigest()}" == name

    def delete(self, name: str) -> None:
        path = self.path_of(name)
        path.unlink(missing_ok=True)
        _fsync_directory(path.parent)

    def inventory(self) -> Iterator[Stored]:
        for directory, _, files in os.walk(self.root):
            for file in files:
                path = Path(directory, file)
                info = path.lstat()
                key = path.relative_to(self.root).as_posix()
                parts = key.split("/")
                name = f"sha256/{file}"
                finished = (
                    len(parts) == 4
                    and parts[0] == "sha256"
                    and BLOB_NAME.fullmatch(name) is not None
                    and parts[1:3] == [file[:2], file[2:4]]
                )
                yield Stored(
                    key=key,
                    name=name if finished else None,
                    size=info.st_size,
                    modified=dt.datetime.fromtimestamp(info.st_mtime, dt.UTC),
                    temporary=len(parts) == 2 and parts[0] == "tmp",
                )

    def discard(self, key: str) -> None:
        if not _TEMPORARY.fullmatch(key):
            raise BlobStoreError(f"{key!r} is not a temporary blob of this store.")
        (self.root / key).unlink(missing_ok=True)
