"""The vault's errors: :class:`AgeError`, whose :class:`AgeFailure` says which part of an
age file (or of a key) is wrong, and the refusals of a resumable upload's chunks.

    ValidationError
    ├── AgeError         an age file, key, recipient or passphrase was rejected; ``failure``
    │                    names the part: key, armor, header, header MAC, no matching
    │                    identity, payload
    └── ChunkRefused     an upload chunk is empty, its range is malformed or lies beyond
        │                the declared size (HTTP 400); nothing was written
        └── ChunkTooLarge  larger than the node's chunk limit (HTTP 413)
    Conflict
    └── OffsetMismatch   an upload chunk does not start where the upload stands
                         (``expected``): out of order, a gap or an overlap (HTTP 409)
"""

from __future__ import annotations

from enum import StrEnum

from comity.errors import Conflict, ValidationError


class AgeFailure(StrEnum):
    """Which part of the input was rejected."""

    KEY = "key"
    """A key, recipient, identity or passphrase is malformed or cannot be used."""
    ARMOR = "armor"
    """The ASCII armor around an age file is not strict PEM."""
    HEADER = "header"
    """The header (or the payload nonce after it) is malformed."""
    HEADER_MAC = "header_mac"
    """The header is well formed, but its MAC does not match the file key."""
    NO_MATCH = "no_match"
    """No identity given can unwrap any recipient stanza."""
    PAYLOAD = "payload"
    """The encrypted payload is truncated, corrupted, reordered or followed by data."""


class AgeError(ValidationError):
    """An age file, key or passphrase was rejected; the message names what is wrong."""

    code = "age_error"

    def __init__(self, failure: AgeFailure, message: str) -> None:
        super().__init__(message)
        self.failure = failure


class ChunkRefused(ValidationError):
    """An upload chunk that cannot be taken; the message says why. Nothing was written."""

    code = "chunk_refused"


class ChunkTooLarge(ChunkRefused):
    """An upload chunk larger than the node accepts in one request."""

    code = "chunk_too_large"


class OffsetMismatch(Conflict):
    """An upload chunk that does not start at ``expected``, the number of bytes the upload
    holds; nothing was written. The client resumes from ``expected``."""

    code = "offset_mismatch"

    def __init__(self, message: str, expected: int) -> None:
        super().__init__(message, fields={"offset": str(expected)})
        self.expected = expected
