"""The base of Comity's error hierarchy.

Services raise domain errors; only the edges (web, CLI) turn them into HTTP statuses or
exit codes, each in one place. Every error carries a message written for the person who
will read it, and optionally per-field detail.

    ComityError
    ├── ConfigurationError     settings missing, invalid or unsafe (start-up refuses)
    ├── ValidationError        input rejected; nothing was changed
    ├── NotFound               the object does not exist, or the actor may not know it does
    ├── Conflict               the change clashes with the current state (duplicate name …)
    ├── AuthenticationError    who you are could not be established
    │   ├── InvalidCredentials
    │   ├── AccountLocked
    │   └── Throttled
    ├── PermissionDenied       you are known, but may not do this
    ├── PeerUnreachable        a peer node (or the time-stamping authority) did not answer,
    │                          or answered with an HTTP error
    └── PeerAnswerInvalid      a peer node (or the time-stamping authority) answered, but not
                               with what the protocol says
"""

from __future__ import annotations

from collections.abc import Mapping


class ComityError(Exception):
    """Base class of every error Comity raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})


class ConfigurationError(ComityError):
    code = "configuration_error"


class ValidationError(ComityError):
    code = "validation_error"


class NotFound(ComityError):
    code = "not_found"


class Conflict(ComityError):
    code = "conflict"


class AuthenticationError(ComityError):
    code = "authentication_required"


class InvalidCredentials(AuthenticationError):
    code = "invalid_credentials"


class AccountLocked(AuthenticationError):
    code = "account_locked"


class Throttled(AuthenticationError):
    code = "throttled"


class PermissionDenied(ComityError):
    code = "permission_denied"


class PeerUnreachable(ComityError):
    """A peer node, or another service the node calls (the RFC 3161 time-stamping
    authority), could not be reached, timed out, or answered with an HTTP error."""

    code = "peer_unreachable"


class PeerAnswerInvalid(ComityError):
    """A peer node (or the time-stamping authority) answered, but with something unusable:
    a malformed document, or a signature that does not verify with the key or the roots
    we hold for it."""

    code = "peer_answer_invalid"
