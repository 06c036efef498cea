"""The errors of envelopes, the signed and encrypted messages between nodes.

    ValidationError
    ├── EnvelopeInvalid    seal() was given something the format cannot carry (a node id,
    │                      a message type, a time, a size out of bounds); nothing was sealed
    └── EnvelopeRejected   an envelope was refused when opened or peeked at; ``reason``
                           (a :class:`RejectReason`) says why, for machines, and the
                           message says it to a person

Opening an envelope raises no other exception for bad input: errors of JSON, base64 and
age are all turned into an :class:`EnvelopeRejected`. The reasons are listed, with the
order in which they are checked, in ``docs/formats/envelope.md``.
"""

from __future__ import annotations

from enum import StrEnum

from comity.errors import ValidationError


class RejectReason(StrEnum):
    """Why an envelope was refused, in the order the checks are made."""

    TOO_LARGE = "too_large"
    """Longer than the format's maximum; nothing of it was parsed."""
    MALFORMED = "malformed"
    """Not an envelope: bad JSON, a missing or invalid field, not in canonical form, or an
    encrypted part that does not follow the format."""
    UNSUPPORTED_FORMAT = "unsupported_format"
    """An envelope of another format or version than ``comity-envelope/1``."""
    UNSIGNED = "unsigned"
    """The signature is missing or empty."""
    UNKNOWN_SENDER = "unknown_sender"
    """The sender is not on this node's trust list."""
    SENDER_NOT_CONFIRMED = "sender_not_confirmed"
    """The sender is on the trust list but pending confirmation, or suspended."""
    REVOKED_SENDER = "revoked_sender"
    """The sender was revoked."""
    UNKNOWN_KEY = "unknown_key"
    """The sender has no signing key with the id the header names."""
    BAD_SIGNATURE = "bad_signature"
    """The signature does not verify: the header, the ciphertext or the signature changed."""
    KEY_NOT_VALID_AT_SEND_TIME = "key_not_valid_at_send_time"
    """The signing key was not valid at the envelope's ``sent_at``."""
    MISADDRESSED = "misaddressed"
    """This node is not among the recipients."""
    EXPIRED = "expired"
    """``expires_at`` has passed (beyond the allowed clock skew)."""
    FROM_THE_FUTURE = "from_the_future"
    """``sent_at`` lies ahead of this node's clock by more than the allowed skew."""
    UNDECRYPTABLE = "undecryptable"
    """None of this node's encryption keys opens the ciphertext, or the age ciphertext is
    corrupt."""
    INNER_MISMATCH = "inner_mismatch"
    """The encrypted part names another message id or sender than the signed header."""


class EnvelopeInvalid(ValidationError):
    """:func:`~comity.exchange.envelope.seal` refused its input; the message says which
    field and why, ``fields`` names it."""

    code = "envelope_invalid"


class EnvelopeRejected(ValidationError):
    """An envelope was refused; nothing of it may be used."""

    code = "envelope_rejected"

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message, fields={"reason": reason.value})
        self.reason = reason

    def __repr__(self) -> str:
        return f"EnvelopeRejected({self.reason.value!r}, {self.message!r})"
