"""The age v1 header: recipient stanzas, the version and MAC lines, their strict
encoding (canonical unpadded base64, 64-column body lines, LF only) and the header MAC.

The header is parsed from a :class:`~comity.vault.streams.Source` line by line, with
every rule of the C2SP age specification that makes something strict enforced: a
malformed header is an :class:`AgeError` with ``failure`` ``HEADER``, a wrong MAC one
with ``HEADER_MAC``. The MAC is computed over the exact bytes read, up to and including
``---``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from comity.vault.errors import AgeError, AgeFailure
from comity.vault.streams import Source

FILE_KEY_SIZE = 16
VERSION_PREFIX = b"age-encryption.org/"
VERSION_LINE = VERSION_PREFIX + b"v1\n"
MAC_PREFIX = b"---"
STANZA_PREFIX = b"-> "
BODY_COLUMNS = 64
MAX_LINE = 8 * 1024
"""Longest header line accepted (a post-quantum stanza's argument line is ~1,500)."""
MAX_HEADER = 1024 * 1024
"""Largest header accepted, so that a hostile header cannot take unbounded memory."""
SCRYPT = "scrypt"

_BASE64 = re.compile(rb"[A-Za-z0-9+/]*")
_MAC_LINE = len(MAC_PREFIX) + 1 + 43 + 1


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA-256 (extract, then expand) to 32 bytes, as everywhere in age."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def b64encode(data: bytes) -> str:
    """Canonical unpadded standard base64."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").decode("ascii")


def b64decode(text: str | bytes, what: str, failure: AgeFailure = AgeFailure.HEADER) -> bytes:
    """Decodes canonical unpadded base64, refusing padding, other characters and
    encodings whose unused trailing bits are not zero."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if not _BASE64.fullmatch(raw) or len(raw) % 4 == 1:
        raise AgeError(failure, f"{what} is not unpadded base64")
    data = base64.b64decode(raw + b"=" * (-len(raw) % 4))
    if b64encode(data).encode("ascii") != raw:
        raise AgeError(failure, f"{what} is not canonical base64")
    return data


def check_file_key(file_key: bytes) -> None:
    if len(file_key) != FILE_KEY_SIZE:
        raise AgeError(AgeFailure.KEY, f"a file key is {FILE_KEY_SIZE} bytes, not {len(file_key)}")


@dataclass(frozen=True)
class Stanza:
    """A recipient stanza: its arguments (the first is its type) and its body."""

    args: tuple[str, ...]
    body: bytes

    def __post_init__(self) -> None:
        if not self.args:
            raise AgeError(AgeFailure.HEADER, "a recipient stanza has no arguments")
        for arg in self.args:
            if not arg or any(not 0x21 <= ord(char) <= 0x7E for char in arg):
                raise AgeError(
                    AgeFailure.HEADER,
                    f"stanza argument {arg!r} is empty or not printable ASCII without spaces",
                )

    @property
    def type(self) -> str:
        return self.args[0]

    def encode(self) -> bytes:
        """The stanza as it appears in a header: argument line, then the body in base64
        wrapped at 64 columns and ended by a shorter (possibly empty) line."""
        text = b64encode(self.body)
        lines = [text[i : i + BODY_COLUMNS] for i in range(0, len(text), BODY_COLUMNS)]
        if len(text) % BODY_COLUMNS == 0:
            lines.append("")
        return ("-> " + " ".join(self.args) + "\n" + "".join(f"{line}\n" for line in lines)).encode(
            "ascii"
        )


def check_stanza_mix(stanzas: Sequence[Stanza]) -> None:
    """An scrypt stanza must be the only stanza of its header."""
    if len(stanzas) > 1 and any(stanza.type == SCRYPT for stanza in stanzas):
        raise AgeError(AgeFailure.HEADER, "an scrypt stanza must be the only stanza in the header")


def _mac(file_key: bytes, mac_input: bytes) -> hmac.HMAC:
    mac = hmac.HMAC(hkdf_sha256(file_key, b"", b"header"), hashes.SHA256())
    mac.update(mac_input)
    return mac


@dataclass(frozen=True)
class Header:
    """A parsed header: its stanzas, its MAC, and the bytes the MAC covers."""

    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes

    def verify_mac(self, file_key: bytes) -> None:
        """Raises ``HEADER_MAC`` unless the MAC matches ``file_key``."""
        check_file_key(file_key)
        try:
            _mac(file_key, self.mac_input).verify(self.mac)
        except InvalidSignature:
            raise AgeError(
                AgeFailure.HEADER_MAC,
                "header MAC mismatch: the header was altered or the file key is wrong",
            ) from None


def build_header(file_key: bytes, stanzas: Sequence[Stanza]) -> bytes:
    """The complete header for ``stanzas``, MAC line included, for ``file_key``."""
    check_file_key(file_key)
    if not stanzas:
        raise AgeError(AgeFailure.KEY, "a header needs at least one recipient stanza")
    check_stanza_mix(stanzas)
    mac_input = VERSION_LINE + b"".join(stanza.encode() for stanza in stanzas) + MAC_PREFIX
    mac = _mac(file_key, mac_input).finalize()
    return mac_input + b" " + b64encode(mac).encode("ascii") + b"\n"


class _HeaderLines:
    """Reads header lines, each ending with LF, keeping every byte for the MAC."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self.raw = bytearray()

    def next(self) -> bytes:
        """The next line without its LF."""
        line = self._source.readline(MAX_LINE)
        if not line.endswith(b"\n"):
            if len(line) >= MAX_LINE:
                raise AgeError(AgeFailure.HEADER, f"header line longer than {MAX_LINE} bytes")
            raise AgeError(AgeFailure.HEADER, "header truncated: the input ends inside it")
        self.raw += line
        if len(self.raw) > MAX_HEADER:
            raise AgeError(AgeFailure.HEADER, f"header larger than {MAX_HEADER} bytes")
        if line.endswith(b"\r\n"):
            raise AgeError(AgeFailure.HEADER, "header lines must end with LF, not CRLF")
        return line[:-1]


def _arguments(line: bytes) -> tuple[str, ...]:
    """The arguments of a stanza's first line; :class:`Stanza` checks them."""
    return tuple(part.decode("latin-1") for part in line[len(STANZA_PREFIX) :].split(b" "))


def _body(lines: _HeaderLines) -> bytes:
    text = bytearray()
    while True:
        line = lines.next()
        if len(line) > BODY_COLUMNS:
            raise AgeError(
                AgeFailure.HEADER, f"stanza body line longer than {BODY_COLUMNS} columns"
            )
        if not _BASE64.fullmatch(line):
            if line.startswith((STANZA_PREFIX, MAC_PREFIX)):
                raise AgeError(
                    AgeFailure.HEADER, "stanza body does not end with a line shorter than 64"
                )
            raise AgeError(AgeFailure.HEADER, "stanza body line is not base64")
        text += line
        if len(line) < BODY_COLUMNS:
            return b64decode(bytes(text), "stanza body")


def read_header(source: Source) -> Header:
    """Parses the header at the front of ``source``, leaving the payload after it."""
    start = source.peek(len(VERSION_PREFIX))
    if not start:
        raise AgeError(AgeFailure.HEADER, "the input is empty: not an age file")
    if start != VERSION_PREFIX:
        raise AgeError(AgeFailure.HEADER, "not an age file: no age-encryption.org/v1 line")
    lines = _HeaderLines(source)
    version = lines.next()
    if version + b"\n" != VERSION_LINE:
        found = version[len(VERSION_PREFIX) :].decode("latin-1")
        raise AgeError(AgeFailure.HEADER, f"unsupported age version {found!r}")
    stanzas: list[Stanza] = []
    while True:
        line = lines.next()
        if line.startswith(STANZA_PREFIX):
            args = _arguments(line)
            stanzas.append(Stanza(args, _body(lines)))
        elif line.startswith(MAC_PREFIX):
            break
        else:
            raise AgeError(AgeFailure.HEADER, "header line is neither a stanza nor the MAC line")
    if not stanzas:
        raise AgeError(AgeFailure.HEADER, "the header has no recipient stanza")
    if len(line) + 1 != _MAC_LINE or line[len(MAC_PREFIX) : len(MAC_PREFIX) + 1] != b" ":
        raise AgeError(
            AgeFailure.HEADER, "malformed MAC line: want '--- ' and 43 base64 characters"
        )
    mac = b64decode(line[len(MAC_PREFIX) + 1 :], "header MAC")
    check_stanza_mix(stanzas)
    mac_input = bytes(lines.raw[: len(lines.raw) - len(line) - 1]) + MAC_PREFIX
    return Header(tuple(stanzas), mac, mac_input)
