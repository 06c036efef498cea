"""Where large payloads lie on a node's disk, and the file operations on them that must be
durable: every directory 0700, every file 0600, every name a payload id (a UUID) or a
SHA-256 in hex, so every path stays inside ``<home>/exchange``.

- ``outgoing/<payload id>/``: what this node sends — ``data`` (the age ciphertext),
  ``manifest`` (the signed manifest) and ``leaves`` (the chunks' Merkle leaf hashes, 32
  bytes each, from which the inclusion proofs are made). Made in ``.<payload id>.part``
  and renamed into place once all three are durable, so it exists whole or not at all.
- ``incoming/partial/<payload id>``: a payload being received, a file of its full size
  (the space reserved) that chunks are written into at their offsets.
- ``incoming/<sha256>``: a received payload, complete and checked, named by the SHA-256
  of its ciphertext (two payloads with the same bytes are one file).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from comity.errors import Conflict
from comity.node import Node

EXCHANGE_DIR = "exchange"
READ_BLOCK = 1024 * 1024


def exchange_dir(node: Node, *parts: str) -> Path:
    """``<home>/exchange/<parts…>``, made (0700) if missing."""
    path = node.settings.home.joinpath(EXCHANGE_DIR, *parts)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def outgoing_dir(node: Node, payload_id: str) -> Path:
    return exchange_dir(node, "outgoing") / payload_id


def partial_path(node: Node, payload_id: str) -> Path:
    return exchange_dir(node, "incoming", "partial") / payload_id


def incoming_path(node: Node, sha256: str) -> Path:
    return exchange_dir(node, "incoming") / sha256


def sync_directory(path: Path) -> None:
    """Make the names in ``path`` (a rename, a new file) durable."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_durably(path: Path, data: bytes) -> None:
    """A new file ``path`` holding ``data``, on disk before this returns."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def make_partial(path: Path, size: int) -> None:
    """The file a payload of ``size`` bytes is received into, its space reserved
    (``posix_fallocate``), so that a transfer cannot run out of disk half-way. One that
    exists already (an offer stopped before it was recorded) is kept."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        if os.fstat(descriptor).st_size != size:
            os.posix_fallocate(descriptor, 0, size)
        os.fsync(descriptor)
    except OSError as exc:
        os.close(descriptor)
        if exc.errno != errno.ENOSPC:
            raise
        path.unlink(missing_ok=True)
        free = shutil.disk_usage(path.parent).free
        raise Conflict(
            f"This node has {free} bytes free for payloads and the payload is {size}; ask "
            "its operator to make room, then offer it again.",
            fields={"size": "no_space"},
        ) from None
    os.close(descriptor)
    sync_directory(path.parent)


@contextlib.contextmanager
def locked(path: Path, *, exclusive: bool) -> Iterator[int]:
    """``path`` open for reading and writing under a shared lock (chunk writers, which
    write at distinct offsets) or an exclusive one (completing the payload), across
    threads and processes. :class:`FileNotFoundError` if it is gone, or was renamed
    away (completed) while this waited for the lock."""
    descriptor = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        if not os.path.samestat(os.fstat(descriptor), os.stat(path)):
            raise FileNotFoundError(path)
        yield descriptor
    finally:
        os.close(descriptor)


def write_at(descriptor: int, offset: int, data: bytes) -> None:
    """``data`` written at ``offset`` and made durable."""
    view = memoryview(data)
    while view:
        written = os.pwrite(descriptor, view, offset)
        view, offset = view[written:], offset + written
    os.fdatasync(descriptor)


def read_at(descriptor: int, offset: int, length: int) -> bytes:
    """Exactly ``length`` bytes at ``offset`` of the open file."""
    data = os.pread(descriptor, length, offset)
    if len(data) != length:
        raise Conflict("A prepared payload is shorter than its manifest says; prepare it again.")
    return data


def file_sha256(descriptor: int) -> str:
    """The SHA-256 of everything the open file holds."""
    digest = hashlib.sha256()
    offset = 0
    while block := os.pread(descriptor, READ_BLOCK, offset):
        digest.update(block)
        offset += len(block)
    return digest.hexdigest()


def move_into_place(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` durably; if ``target`` exists already (the same
    bytes, since it is named by their digest), ``source`` is dropped instead."""
    if target.exists():
        source.unlink()
    else:
        os.replace(source, target)
    sync_directory(target.parent)
    sync_directory(source.parent)
