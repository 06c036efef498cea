"""Encrypting and decrypting in the age v1 format (https://age-encryption.org/v1), streamed.

Every evidence file is encrypted with its own random 16-byte file key. :func:`encrypt`
wraps a fresh key for the recipients given; :func:`encrypt_with_file_key` takes a key
and stanzas made elsewhere (the vault's key management wraps keys itself). Both read the
plaintext once, a 64 KiB chunk at a time, write the ciphertext as they go and return the
plaintext's size and SHA-256 computed in the same pass. Beyond 1 MiB of plaintext they
call the writer from a helper thread, one call at a time, and return once it has written
everything (:mod:`comity.vault.age_stream`): the writer must not depend on the thread
it is called from.

:func:`decrypt` does the reverse through :class:`EncryptedFile`, which parses the header
first, so that a caller can :meth:`~EncryptedFile.unwrap` the file key with identities or
bring its own, then :meth:`~EncryptedFile.decrypt` the payload. Armored input is
recognised (or forced with ``armored=True``).

**A streaming decrypt writes each chunk as soon as it authenticates.** If the file is
truncated or altered further on, the error comes after some plaintext was written: write
to a temporary file and discard it on error, as :func:`decrypt_file` and
:func:`decrypt_bytes` do. Every failure is an :class:`~comity.vault.errors.AgeError`.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from comity.vault.age_armor import ArmorReader, ArmorWriter, looks_armored
from comity.vault.age_format import (
    FILE_KEY_SIZE,
    Header,
    Stanza,
    build_header,
    read_header,
)
from comity.vault.age_keys import HYBRID_TYPE, Identity, Recipient
from comity.vault.age_stream import decrypt_payload, encrypt_payload
from comity.vault.errors import AgeError, AgeFailure
from comity.vault.streams import Reader, Source, Writer


@dataclass(frozen=True)
class EncryptResult:
    """The plaintext's size and SHA-256, and how many bytes were written."""

    plaintext_size: int
    plaintext_sha256: bytes
    encrypted_size: int


@dataclass(frozen=True)
class DecryptResult:
    """The plaintext's size and SHA-256."""

    plaintext_size: int
    plaintext_sha256: bytes


class _Counting:
    """Passes writes through and counts the bytes."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self.count = 0

    def write(self, data: bytes) -> int:
        self._writer.write(data)
        self.count += len(data)
        return len(data)


def generate_file_key() -> bytes:
    """A fresh random file key; never use one for two files."""
    return os.urandom(FILE_KEY_SIZE)


def wrap(file_key: bytes, recipients: Sequence[Recipient]) -> list[Stanza]:
    """The stanzas that carry ``file_key`` for every recipient. Post-quantum recipients
    are not mixed with classical ones, which would undo their protection (and a passphrase
    must be the only recipient: :func:`build_header` refuses it with others)."""
    if not recipients:
        raise AgeError(AgeFailure.KEY, "at least one recipient is needed")
    stanzas = [stanza for recipient in recipients for stanza in recipient.wrap(file_key)]
    kinds = {stanza.type == HYBRID_TYPE for stanza in stanzas}
    if len(kinds) > 1:
        raise AgeError(
            AgeFailure.KEY, "post-quantum recipients cannot be mixed with classical ones"
        )
    return stanzas


def encrypt_with_file_key(
    reader: Reader,
    writer: Writer,
    file_key: bytes,
    stanzas: Sequence[Stanza],
    *,
    armor: bool = False,
) -> EncryptResult:
    """Encrypts all of ``reader`` to ``writer`` under ``file_key``, whose wrapped forms
    are ``stanzas``."""
    header = build_header(file_key, stanzas)
    counting = _Counting(writer)
    armored = ArmorWriter(counting) if armor else None
    out: Writer = armored or counting
    out.write(header)
    plaintext = encrypt_payload(Source(reader), out, file_key)
    if armored:
        armored.close()
    return EncryptResult(plaintext.size, plaintext.sha256, counting.count)


def encrypt(
    reader: Reader, writer: Writer, recipients: Sequence[Recipient], *, armor: bool = False
) -> EncryptResult:
    """Encrypts all of ``reader`` to ``writer`` for ``recipients`` with a fresh file key."""
    file_key = generate_file_key()
    return encrypt_with_file_key(reader, writer, file_key, wrap(file_key, recipients), armor=armor)


def unwrap(header: Header, identities: Sequence[Identity]) -> bytes:
    """The file key, from the first identity that unwraps a stanza of ``header``, checked
    against the header MAC."""
    if not identities:
        raise AgeError(AgeFailure.KEY, "at least one identity is needed")
    for identity in identities:
        file_key = identity.unwrap(header.stanzas)
        if file_key is not None:
            header.verify_mac(file_key)
            return file_key
    raise AgeError(AgeFailure.NO_MATCH, "no identity matches any recipient stanza")


class EncryptedFile:
    """An age file being read: its header is parsed on opening; the payload follows."""

    def __init__(self, reader: Reader, *, armored: bool | None = None) -> None:
        source = Source(reader)
        if armored is None:
            armored = looks_armored(source)
        self._source = Source(ArmorReader(source)) if armored else source
        self.header = read_header(self._source)
        self._read = False

    def unwrap(self, identities: Sequence[Identity]) -> bytes:
        return unwrap(self.header, identities)

    def decrypt(self, writer: Writer, file_key: bytes) -> DecryptResult:
        """Checks the header MAC with ``file_key``, then streams the plaintext to
        ``writer``, chunk by authenticated chunk (see the module's warning)."""
        if self._read:
            raise AgeError(AgeFailure.PAYLOAD, "the payload of this file was already read")
        self.header.verify_mac(file_key)
        self._read = True
        plaintext = decrypt_payload(self._source, writer, file_key)
        return DecryptResult(plaintext.size, plaintext.sha256)


def decrypt(
    reader: Reader,
    writer: Writer,
    identities: Sequence[Identity],
    *,
    armored: bool | None = None,
) -> DecryptResult:
    """Decrypts ``reader`` to ``writer`` with the first identity that matches."""
    encrypted = EncryptedFile(reader, armored=armored)
    return encrypted.decrypt(writer, encrypted.unwrap(identities))


def decrypt_with_file_key(
    reader: Reader, writer: Writer, file_key: bytes, *, armored: bool | None = None
) -> DecryptResult:
    """Decrypts ``reader`` to ``writer`` with a file key obtained elsewhere."""
    return EncryptedFile(reader, armored=armored).decrypt(writer, file_key)


def encrypt_bytes(
    plaintext: bytes, recipients: Sequence[Recipient], *, armor: bool = False
) -> bytes:
    out = io.BytesIO()
    encrypt(io.BytesIO(plaintext), out, recipients, armor=armor)
    return out.getvalue()


def decrypt_bytes(data: bytes, identities: Sequence[Identity]) -> bytes:
    """The whole plaintext, or an :class:`AgeError` and nothing."""
    out = io.BytesIO()
    decrypt(io.BytesIO(data), out, identities)
    return out.getvalue()


def decrypt_file(source: Path, target: Path, identities: Sequence[Identity]) -> DecryptResult:
    """Decrypts the file ``source`` into ``target`` through a temporary file beside it,
    renamed into place only once the whole payload has authenticated (and removed
    otherwise), so ``target`` never holds unauthenticated plaintext."""
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    try:
        with source.open("rb") as reader, os.fdopen(handle, "wb") as writer:
            result = decrypt(reader, writer, identities)
            writer.flush()
            os.fsync(writer.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return result
