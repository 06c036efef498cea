"""ASCII armor for age files: strict PEM (RFC 7468, section 3) with the label
``AGE ENCRYPTED FILE``, streamed both ways.

Reading accepts only what the age specification allows: whitespace before the BEGIN line
and after the END line, LF or CRLF line ends, base64 lines of exactly 64 columns except a
shorter last one, ``=`` padding only at the very end, canonical base64, no headers, no
blank lines, no checksum line. Anything else is an :class:`AgeError` with ``failure``
``ARMOR``. Full lines are checked and decoded in batches, so armored input costs little
more than binary input.
"""

from __future__ import annotations

import binascii
import re

from comity.vault.errors import AgeError, AgeFailure
from comity.vault.streams import BLOCK_SIZE, Source, Writer

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"
COLUMNS = 64
WHITESPACE = b" \t\r\n"

_FULL_LINES = re.compile(rb"(?:[A-Za-z0-9+/]{64}\r?\n)+")
_LAST_LINE = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
_LINE_LIMIT = COLUMNS + 3  # 64 columns and CRLF, plus one to see that a line is too long
_BYTES_PER_LINE = COLUMNS // 4 * 3


def _strip_eol(line: bytes) -> bytes:
    if line.endswith(b"\r\n"):
        return line[:-2]
    return line[:-1] if line.endswith(b"\n") else line


def looks_armored(source: Source) -> bool:
    """Whether ``source`` starts, after whitespace, like a PEM block (left unread)."""
    return source.peek(1024).lstrip(WHITESPACE).startswith(b"-----BEGIN")


class ArmorReader:
    """Reads the binary age file out of the armored text of ``source``."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._decoded = bytearray()
        self._started = False
        self._last_seen = False  # a short or padded line: only the END line may follow
        self._done = False

    def read(self, size: int) -> bytes:
        if not self._started:
            self._begin()
        while len(self._decoded) < size and not self._done:
            self._advance(size - len(self._decoded))
        piece = bytes(self._decoded[:size])
        del self._decoded[:size]
        return piece

    def _begin(self) -> None:
        self._started = True
        self._source.skip(WHITESPACE)
        line = self._source.readline(len(BEGIN) + 2)
        if _strip_eol(line) != BEGIN or not line.endswith(b"\n"):
            raise AgeError(AgeFailure.ARMOR, "armor does not start with the age BEGIN line")

    def _advance(self, wanted: int) -> None:
        if not self._last_seen:
            block = self._source.peek(min(BLOCK_SIZE, wanted // _BYTES_PER_LINE * 66 + 66))
            full = _FULL_LINES.match(block)
            if full:
                text = self._source.read(full.end()).translate(None, b"\r\n")
                self._decoded += binascii.a2b_base64(text, strict_mode=True)
                return
        self._line()

    def _line(self) -> None:
        line = self._source.readline(_LINE_LIMIT)
        content = _strip_eol(line)
        if content == END:
            self._end()
            return
        if not line.endswith(b"\n"):
            if len(line) >= _LINE_LIMIT:
                raise AgeError(AgeFailure.ARMOR, f"armor line longer than {COLUMNS} columns")
            raise AgeError(AgeFailure.ARMOR, "armor has no END line")
        if not content:
            raise AgeError(AgeFailure.ARMOR, "blank line inside the armor")
        if self._last_seen:
            raise AgeError(AgeFailure.ARMOR, "armor line after a short or padded line")
        if len(content) > COLUMNS:
            raise AgeError(AgeFailure.ARMOR, f"armor line longer than {COLUMNS} columns")
        if not _LAST_LINE.fullmatch(content) or len(content) % 4:
            raise AgeError(AgeFailure.ARMOR, "armor line is not whole padded base64")
        data = binascii.a2b_base64(content, strict_mode=True)
        if binascii.b2a_base64(data, newline=False) != content:
            raise AgeError(AgeFailure.ARMOR, "armor base64 is not canonical")
        self._decoded += data
        self._last_seen = True  # a full unpadded line would have been taken by the batch

    def _end(self) -> None:
        self._done = True
        self._source.skip(WHITESPACE)
        if not self._source.at_eof():
            raise AgeError(AgeFailure.ARMOR, "data follows the armor's END line")


class ArmorWriter:
    """Writes armored text to ``writer``; :meth:`close` writes the tail and END line."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._pending = bytearray()
        writer.write(BEGIN + b"\n")

    def write(self, data: bytes) -> int:
        self._pending += data
        whole = len(self._pending) // _BYTES_PER_LINE * _BYTES_PER_LINE
        if whole:
            self._emit(bytes(self._pending[:whole]))
            del self._pending[:whole]
        return len(data)

    def _emit(self, data: bytes) -> None:
        text = binascii.b2a_base64(data, newline=False)
        lines = [text[i : i + COLUMNS] for i in range(0, len(text), COLUMNS)]
        self._writer.write(b"\n".join(lines) + b"\n")

    def close(self) -> None:
        if self._pending:
            self._emit(bytes(self._pending))
            self._pending.clear()
        self._writer.write(END + b"\n")
