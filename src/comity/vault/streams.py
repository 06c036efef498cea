"""Byte streams for the vault: the two protocols its functions read from and write to,
and :class:`Source`, a read-ahead buffer that reads only through ``read``.

Anything with ``read(size)`` is a :class:`Reader` (open files, sockets' file objects,
``io.BytesIO``, a generator wrapped in a small class); anything with ``write(data)`` is
a :class:`Writer`. A short read is never taken for the end of the stream: only an empty
one is.
"""

from __future__ import annotations

from typing import Protocol

BLOCK_SIZE = 64 * 1024


class Reader(Protocol):
    def read(self, size: int, /) -> bytes: ...


class Writer(Protocol):
    def write(self, data: bytes, /) -> object: ...


class Source:
    """Reads ahead from a :class:`Reader` and hands out lines, exact-size pieces and
    peeks; it holds at most about one block beyond what was asked."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader
        self._buffer = bytearray()
        self._eof = False

    def _fill(self, size: int = BLOCK_SIZE) -> bool:
        """Appends what one ``read`` returns; ``False`` at the end of the stream."""
        if self._eof:
            return False
        data = self._reader.read(size)
        if not data:
            self._eof = True
            return False
        self._buffer += data
        return True

    def read(self, size: int) -> bytes:
        """Exactly ``size`` bytes, or fewer only at the end of the stream."""
        if not self._buffer and not self._eof:
            data = self._reader.read(size)
            if len(data) == size:
                return data
            if not data:
                self._eof = True
                return b""
            self._buffer += data
        while len(self._buffer) < size and self._fill(size - len(self._buffer)):
            pass
        piece = bytes(self._buffer[:size])
        del self._buffer[:size]
        return piece

    def readline(self, limit: int) -> bytes:
        """Up to and including the next LF; or ``limit`` bytes if no LF comes within
        them; or what is left at the end of the stream."""
        start = 0
        while True:
            end = self._buffer.find(b"\n", start, limit)
            if end >= 0:
                return self.read(end + 1)
            if len(self._buffer) >= limit:
                return self.read(limit)
            start = len(self._buffer)
            if not self._fill():
                return self.read(len(self._buffer))

    def peek(self, size: int) -> bytes:
        """Up to ``size`` bytes from the front, left in place."""
        while len(self._buffer) < size and self._fill():
            pass
        return bytes(self._buffer[:size])

    def skip(self, chars: bytes) -> None:
        """Drops every leading byte that is one of ``chars``."""
        while True:
            kept = self._buffer.lstrip(chars)
            if kept:
                self._buffer = kept
                return
            self._buffer.clear()
            if not self._fill():
                return

    def at_eof(self) -> bool:
        """``True`` when nothing is left (reads one byte ahead if needed)."""
        return not self._buffer and not self._fill(1)
