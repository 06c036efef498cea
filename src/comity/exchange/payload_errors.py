"""The errors of large payloads, the files that travel between nodes apart from envelopes.

    ValidationError
    ├── PayloadInvalid     a manifest could not be made from what it was given (a node
    │                      id, a size, a time out of bounds); nothing was made
    └── PayloadRejected    a manifest or a chunk was refused by the receiver; ``reason``
                           (a :class:`PayloadReason`) says why, for machines, and the
                           message says it to a person
    Conflict
    └── ManifestConflict   another manifest was already offered under the same payload id

Reading a manifest raises no other exception for bad input: errors of JSON, base64 and
age are all turned into a :class:`PayloadRejected`. The reasons are listed, with the
order in which they are checked, in ``docs/formats/payload.md``.
"""

from __future__ import annotations

from enum import StrEnum

from comity.errors import Conflict, ValidationError


class PayloadReason(StrEnum):
    """Why a manifest or a chunk was refused, in the order the checks are made."""

    TOO_LARGE = "too_large"
    """The manifest is longer than the format allows; nothing of it was parsed."""
    MALFORMED = "malformed"
    """Not a manifest: bad JSON, a missing or invalid member, not in canonical form."""
    UNSUPPORTED_FORMAT = "unsupported_format"
    """A manifest of another format or version than ``comity-payload/1``."""
    UNSIGNED = "unsigned"
    """The signature is missing or empty."""
    UNKNOWN_SENDER = "unknown_sender"
    """The sender is not on this node's trust list."""
    REVOKED_SENDER = "revoked_sender"
    """The sender was revoked."""
    SENDER_NOT_CONFIRMED = "sender_not_confirmed"
    """The sender is pending confirmation, or suspended."""
    UNKNOWN_KEY = "unknown_key"
    """The sender has no signing key with the id the manifest names."""
    BAD_SIGNATURE = "bad_signature"
    """The signature does not verify: the manifest or the signature changed."""
    KEY_NOT_VALID_AT_CREATION = "key_not_valid_at_creation"
    """The signing key was not valid at the manifest's ``created_at``."""
    MISADDRESSED = "misaddressed"
    """This node is not among the recipients."""
    EXPIRED = "expired"
    """``expires_at`` has passed (beyond the allowed clock skew)."""
    FROM_THE_FUTURE = "from_the_future"
    """``created_at`` lies ahead of this node's clock by more than the allowed skew."""
    UNDECRYPTABLE = "undecryptable"
    """None of this node's encryption keys opens the sealed contents, or what they hold
    is not as specified."""
    CHUNK_MISMATCH = "chunk_mismatch"
    """A chunk's length, or its inclusion proof, does not match the signed manifest."""


class PayloadInvalid(ValidationError):
    """A manifest could not be made; the message says which value and why."""

    code = "payload_invalid"


class PayloadRejected(ValidationError):
    """A manifest or a chunk was refused; nothing of it was kept."""

    code = "payload_rejected"

    def __init__(self, reason: PayloadReason, message: str) -> None:
        super().__init__(message, fields={"reason": reason.value})
        self.reason = reason

    def __repr__(self) -> str:
        return f"PayloadRejected({self.reason.value!r}, {self.message!r})"


class ManifestConflict(Conflict):
    """A payload id already names another manifest on this node; nothing was changed."""

    code = "manifest_conflict"
