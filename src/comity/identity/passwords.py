"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from comity.errors import ValidationError

MIN_LENGTH = 12
MAX_LENGTH = 1024
_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 "low memory" profile


@cache
def _dummy_hash() -> str:
    """Verifying against this keeps the time of a sign-in with an unknown name the same.
    Made on first use, not at import: an argon2 hash costs 64 MiB and a tenth of a second,
    which every command that never checks a password would otherwise pay."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def check_policy(password: str, *, username: str) -> None:
    """Refuse passwords that are too short, too long or trivially guessable."""
    if len(password) < MIN_LENGTH:
        raise ValidationError(
            f"The password must be at least {MIN_LENGTH} characters long.",
            fields={"password": "too_short"},
        )
    if len(password) > MAX_LENGTH:
        raise ValidationError(
            f"The password must be at most {MAX_LENGTH} characters long.",
            fields={"password": "too_long"},
        )
    if username and username.lower() in password.lower():
        raise ValidationError(
            "The password must not contain the user name.", fields={"password": "contains_name"}
        )
    if len(set(password)) < 5:
        raise ValidationError(
            "The password repeats too few different characters.",
            fields={"password": "too_simple"},
        )


def one_time_password() -> str:
    """A random password to hand over once (the holder must change it at first sign-in)."""
    return secrets.token_urlsafe(15)
