"""Checkpoints (C2SP tlog-checkpoint) and witness cosignatures (C2SP tlog-cosignature).

A checkpoint is the signed statement of a log's size and root. Its body is the origin line,
the tree size in decimal (no leading zeros), the root in standard base64, each ending in a
newline, then optional non-empty extension lines. A Comity node signs it as a signed note
(:mod:`comity.ledger.note`) with its Ed25519 key, whose key name is the checkpoint's
origin: :func:`sign_checkpoint` and :func:`verify_checkpoint` insist on that, so a key
speaks only for its own log.

A witness that has checked a checkpoint against the previous one it saw adds a
cosignature: one more signature line on the same note, in the Ed25519 ``cosignature/v1``
format of C2SP tlog-cosignature (v1.0.0 text, read again for this module):

- key ID ``SHA-256(name ‖ "\\n" ‖ 0x04 ‖ public key)[:4]``; verifier key
  ``name+hexid+base64(0x04 ‖ public key)``;
- line payload ``key ID (4) ‖ timestamp (8, big-endian, POSIX seconds, at most 2^63 - 1)
  ‖ Ed25519 signature (64)``;
- signed message ``"cosignature/v1\\ntime <timestamp>\\n"`` followed by the whole checkpoint
  body, extension lines included (the timestamp in decimal without leading zeros).

The message does not name the witness, so a witness must not reuse one key under two names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from comity.ledger.errors import CheckpointError, NoteError
from comity.ledger.merkle import HASH_SIZE
from comity.ledger.note import (
    Ed25519KeyVerifier,
    NoteSigner,
    NoteVerifier,
    b64decode_strict,
    b64encode,
    check_key_name,
    compute_key_id,
    open_note,
    parse_note,
    raw_public_key,
    sign_note,
    signature_line,
)

ALGORITHM_COSIGNATURE_V1 = 0x04
COSIGNATURE_HEADER = "cosignature/v1\n"
MAX_TREE_SIZE = 2**63 - 1
MAX_TIMESTAMP = 2**63 - 1
_COSIGNATURE_BYTES = 8 + 64

_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x1f]")


def _check_line(value: str, what: str) -> None:
    if not value or _CONTROL.search(value):
        raise CheckpointError(f"The checkpoint {what} must be a non-empty line of text.")


@dataclass(frozen=True)
class Checkpoint:
    """A log's size and root under its origin; valid by construction."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"Tree size {self.size!r} is not between 0 and 2^63 - 1.")
        if len(self.root) != HASH_SIZE:
            raise CheckpointError(f"The root is {len(self.root)} bytes; roots are 32 bytes.")
        for extension in self.extensions:
            _check_line(extension, "extension line")

    def body(self) -> str:
        lines = [self.origin, str(self.size), b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Read a checkpoint body strictly; ``parse(c.body()) == c``."""
        lines = body.split("\n")
        if len(lines) < 4 or lines.pop() != "":
            raise CheckpointError("A checkpoint body is at least three lines, each ending in \\n.")
        origin, size, encoded_root, *extensions = lines
        if not _DECIMAL.fullmatch(size) or len(size) > len(str(MAX_TREE_SIZE)):
            raise CheckpointError(f"Tree size {size!r} is not a decimal without leading zeros.")
        root = b64decode_strict(encoded_root)
        if root is None:
            raise CheckpointError(f"Root {encoded_root!r} is not standard padded base64.")
        return cls(origin, int(size), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The checkpoint as a note signed by the log's key, named as the origin."""
    if signer.name != checkpoint.origin:
        raise CheckpointError(
            f"Key {signer.name} cannot sign a checkpoint of log {checkpoint.origin}."
        )
    return sign_note(checkpoint.body(), [signer])


def verify_checkpoint(note: str | bytes, verifier: NoteVerifier) -> Checkpoint:
    """The checkpoint in ``note``, if the log's key ``verifier`` signed it.

    Cosignatures and other signatures on the note are ignored; see :func:`verify_cosignature`.
    """
    checkpoint = Checkpoint.parse(open_note(note, [verifier]).text)
    if checkpoint.origin != verifier.name:
        raise CheckpointError(
            f"The checkpoint's origin {checkpoint.origin!r} is not the key name {verifier.name!r}."
        )
    return checkpoint


def log_signed_note(note: str, verifier: NoteVerifier) -> str:
    """``note`` with only the signature lines of the log's key ``verifier``: the note as the
    log signed and stored it, before witnesses appended their cosignatures. This is what a
    time-stamp of the checkpoint covers."""
    parsed = parse_note(note)
    own = (verifier.name, verifier.key_id)
    return (
        parsed.text
        + "\n"
        + "".join(
            signature_line(line.name, line.key_id, line.signature)
            for line in parsed.signatures
            if (line.name, line.key_id) == own
        )
    )


def cosigned_message(body: bytes, timestamp: int) -> bytes:
    """What a ``cosignature/v1`` signs: header, time line, checkpoint body."""
    return f"{COSIGNATURE_HEADER}time {timestamp}\n".encode() + body


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError(f"Timestamp {timestamp!r} is not between 0 and 2^63 - 1.")


class Cosigner:
    """A witness's Ed25519 ``cosignature/v1`` key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        check_key_name(name)
        self.name = name
        self._private_key = private_key
        self.key_id = compute_key_id(
            name, ALGORITHM_COSIGNATURE_V1, raw_public_key(private_key.public_key())
        )

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self._private_key.public_key())

    def cosign(self, checkpoint: Checkpoint, timestamp: int) -> str:
        """The signature line to append to the checkpoint's signed note.

        Only for a checkpoint the witness has verified and found consistent with the
        largest one it saw before from the same log; ``timestamp`` is now, in POSIX seconds.
        """
        _check_timestamp(timestamp)
        signature = self._private_key.sign(cosigned_message(checkpoint.body().encode(), timestamp))
        return signature_line(self.name, self.key_id, timestamp.to_bytes(8, "big") + signature)

    def __repr__(self) -> str:
        return f"Cosigner({self.name!r}, key ID {self.key_id.hex()})"


class CosignatureVerifier(Ed25519KeyVerifier):
    """A witness's public ``cosignature/v1`` key; a :class:`~comity.ledger.note.Verifier`."""

    ALGORITHM = ALGORITHM_COSIGNATURE_V1

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != _COSIGNATURE_BYTES:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        try:
            self.public_key.verify(signature[8:], cosigned_message(text, timestamp))
        except InvalidSignature:
            return False
        return True


def verify_cosignature(note: str | bytes, verifier: CosignatureVerifier) -> int:
    """The timestamp of ``verifier``'s valid cosignature on the checkpoint in ``note``.

    Checks only the cosignature: check the log's own signature with
    :func:`verify_checkpoint`, and compare the timestamp with the clock if it matters.
    """
    parsed = parse_note(note)
    Checkpoint.parse(parsed.text)
    mine: Sequence[bytes] = [
        signature.signature
        for signature in parsed.signatures
        if (signature.name, signature.key_id) == (verifier.name, verifier.key_id)
    ]
    if not mine:
        raise NoteError(f"The checkpoint carries no cosignature by {verifier.name}.")
    if len(mine) > 1:
        raise NoteError(f"The checkpoint carries two cosignatures by {verifier.name}.")
    if not verifier.verify(parsed.text.encode("utf-8"), mine[0]):
        raise NoteError(f"The cosignature by {verifier.name} does not verify.")
    return int.from_bytes(mine[0][:8], "big")
