"""The vault's errors: one class, :class:`AgeError`, whose :class:`AgeFailure` says which
part of an age file (or of a key) is wrong.

    ValidationError
    └── AgeError    an age file, key, recipient or passphrase was rejected; ``failure``
                    names the part: key, armor, header, header MAC, no matching
                    identity, payload
"""

from __future__ import annotations

from enum import StrEnum

from comity.errors import ValidationError


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
