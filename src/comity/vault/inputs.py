"""What a file must be to be taken into the evidence vault, and how it is read.

A file to ingest is a readable, non-empty regular file whose name has no control
characters (:func:`open_input` says which of these it is not, in one line naming the
problem, before anything is written). The person adding it may say how it was acquired
(:class:`Acquisition`). While it is encrypted, :class:`Reading` keeps its first bytes for
the media type and reports progress; :func:`changed_since` tells whether it was written
to while it was read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from comity.errors import ValidationError
from comity.vault.access import check_text
from comity.vault.media import SNIFF_BYTES

MAX_NAME_LENGTH = 255
MAX_DETAIL_LENGTH = 2000
ACQUISITION_FIELDS = ("who", "when", "where", "how", "tool")

Progress = Callable[[int], None]
"""Called with the number of plaintext bytes read since the last call."""


@dataclass(frozen=True)
class Acquisition:
    """How the file was acquired, as the person adding it tells it (all optional, free
    text): who collected it, when, where, how, and with what tool."""

    who: str = ""
    when: str = ""
    where: str = ""
    how: str = ""
    tool: str = ""

    def given(self) -> dict[str, str]:
        """The details that were given, checked and stripped."""
        details = {name: getattr(self, name).strip() for name in ACQUISITION_FIELDS}
        return {
            name: check_text(
                f"acquisition '{name}'", value, max_length=MAX_DETAIL_LENGTH, multiline=True
            )
            for name, value in details.items()
            if value
        }


class Reading:
    """Reads the input, keeping its first bytes (for the media type) and reporting
    progress."""

    def __init__(self, stream: BinaryIO, progress: Progress | None) -> None:
        self._stream = stream
        self._progress = progress
        self.head = b""

    def read(self, size: int, /) -> bytes:
        data = self._stream.read(size)
        if len(self.head) < SNIFF_BYTES:
            self.head += data[: SNIFF_BYTES - len(self.head)]
        if self._progress is not None and data:
            self._progress(len(data))
        return data


def check_name(name: str) -> str:
    """The file name, if it can be kept as it is (no control characters, not too long)."""
    return check_text("file name", name, max_length=MAX_NAME_LENGTH)


def open_input(path: Path) -> tuple[BinaryIO, int]:
    """The file at ``path`` opened for reading, and its size; refuses anything that is
    not a readable, non-empty regular file, with a message naming the problem."""
    check_name(path.name)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ValidationError(f"{path} does not exist.", fields={"path": "missing"}) from None
    except OSError as exc:
        raise ValidationError(
            f"Cannot read {path}: {exc.strerror or exc}.", fields={"path": "unreadable"}
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise ValidationError(
            f"{path} is a directory; add the files in it with --recursive.",
            fields={"path": "directory"},
        )
    if not stat.S_ISREG(info.st_mode):
        raise ValidationError(
            f"{path} is not a regular file (a device, pipe or socket); only files can be added.",
            fields={"path": "not_a_file"},
        )
    try:
        # O_NONBLOCK: should the path have become a pipe since, opening it does not hang.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ValidationError(
            f"Cannot read {path}: {exc.strerror or exc}.", fields={"path": "unreadable"}
        ) from None
    stream = os.fdopen(descriptor, "rb")
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        stream.close()
        problem = "is empty" if stat.S_ISREG(info.st_mode) else "is not a regular file"
        raise ValidationError(
            f"{path} {problem}; there is nothing to preserve.", fields={"path": "empty"}
        )
    return stream, info.st_size


def changed_since(stream: BinaryIO, opened: os.stat_result) -> bool:
    """Whether the open file was written to since it was opened (its metadata must
    describe the bytes that were hashed)."""
    now = os.fstat(stream.fileno())
    return (now.st_size, now.st_mtime_ns) != (opened.st_size, opened.st_mtime_ns)


def files_under(path: Path) -> list[Path]:
    """The regular files under the directory ``path``, in a stable order; symbolic links
    are not followed, and anything that is not a regular file is left out."""
    found: list[Path] = []
    for directory, subdirectories, names in os.walk(path):
        subdirectories.sort()
        for name in sorted(names):
            candidate = Path(directory) / name
            if candidate.is_file() and not candidate.is_symlink():
                found.append(candidate)
    return found
