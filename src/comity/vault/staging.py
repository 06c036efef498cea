"""The files where resumable uploads (:mod:`comity.vault.uploads`) wait to be ingested.

Each upload has a directory ``<home>/uploads/<upload id>`` (mode 0700, like
``<home>/uploads`` itself) holding one file under the upload's original name (mode
0600), so that the ingest reads that name as the item's. The file lies outside the
vault's blob store and is not encrypted: its bytes are plaintext on the node's disk
until they are ingested, and the directory is removed as soon as the upload ends. Names
are checked to be plain file names, so that every path stays inside the upload's
directory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from comity.errors import Conflict, ValidationError
from comity.node import Node
from comity.vault.inputs import check_name

UPLOADS_DIR = "uploads"
MAX_NAME_BYTES = 255  # NAME_MAX of the file systems a node runs on


def staging_root(node: Node) -> Path:
    return node.settings.home / UPLOADS_DIR


def staged_path(node: Node, upload_id: str, name: str) -> Path:
    return staging_root(node) / upload_id / name


def check_staged_name(name: str) -> str:
    """``name`` if it can name the staged file as it is: a single file name (no ``/``,
    not ``.`` or ``..``) that :func:`~comity.vault.inputs.check_name` accepts and that
    fits the file system."""
    check_name(name)
    if not name or "/" in name or name in {".", ".."}:
        raise ValidationError(
            f"The file name {name!r} is not a plain file name; send the name alone, "
            "without folders.",
            fields={"name": "not_a_file_name"},
        )
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ValidationError(
            f"The file name is {len(name.encode())} bytes long in UTF-8; at most "
            f"{MAX_NAME_BYTES} are allowed. Rename the file and upload it again.",
            fields={"name": "too_long"},
        )
    return name


def create_staged(node: Node, upload_id: str, name: str, size: int) -> None:
    """Make the upload's directory and its empty file, if there is room for ``size``
    bytes; ``name`` must have passed :func:`check_staged_name`."""
    root = staging_root(node)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    free = shutil.disk_usage(root).free
    if free < size:
        raise Conflict(
            f"The node has {free} bytes of free space for uploads and the file is {size}; "
            "ask the operator to make room.",
            fields={"size": "no_space"},
        )
    directory = root / upload_id
    directory.mkdir(mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    os.close(os.open(directory / name, flags, 0o600))


def remove_staged(node: Node, upload_id: str) -> None:
    shutil.rmtree(staging_root(node) / upload_id, ignore_errors=True)


def remove_orphans(node: Node, keep: set[str], before: dt.datetime) -> None:
    """Remove the staging directories not in ``keep`` last changed before ``before``
    (left by a process stopped while it started an upload, or while it removed one)."""
    root = staging_root(node)
    if not root.is_dir():
        return
    for directory in root.iterdir():
        changed = dt.datetime.fromtimestamp(directory.lstat().st_mtime, dt.UTC)
        if directory.name not in keep and changed < before:
            shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[BinaryIO]:
    """The staged file, open for reading and writing under an exclusive lock, so that
    concurrent requests on one upload take turns (also across server processes)."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise Conflict(
            "The staged bytes of this upload are gone (cancelled or expired meanwhile); "
            "start the upload again.",
            fields={"status": "gone"},
        ) from None
    with os.fdopen(descriptor, "r+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield handle


def cut_back(handle: BinaryIO, received: int) -> None:
    """Make the staged file hold exactly the ``received`` bytes the database counts."""
    on_disk = os.fstat(handle.fileno()).st_size
    if on_disk < received:
        raise Conflict(
            f"The staged file holds {on_disk} bytes but {received} were recorded: the "
            "node's disk lost data. Cancel this upload and start again.",
            fields={"status": "damaged"},
        )
    if on_disk > received:
        handle.truncate(received)
