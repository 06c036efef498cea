"""The rules of an envelope's fields, and how its times are written: node ids, random
UUIDs, counts, message types, attachment names, RFC 3339 times to the millisecond.

Each ``check_*`` function returns its value when it follows the rule and raises
:class:`~comity.exchange.errors.EnvelopeInvalid` naming the field otherwise; the values
are shown cut short in messages, since they may come from anyone.
:mod:`comity.exchange.envelope_format` builds the header and the inner part from them.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from comity.exchange.errors import EnvelopeInvalid
from comity.ledger.canonical import MAX_SAFE_INTEGER

MAX_ATTACHMENT_NAME_BYTES = 255
MAX_TYPE_LENGTH = 64

NODE_ID = re.compile(r"\A[a-z0-9][a-z0-9.-]{1,98}[a-z0-9]\Z")
"""A node's stable id, as in node descriptors: 3 to 100 lowercase ASCII letters, digits,
dots and hyphens, starting and ending with a letter or digit."""
UUID4 = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
MESSAGE_TYPE = re.compile(r"\A[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)*\Z")
SHA256_HEX = re.compile(r"\A[0-9a-f]{64}\Z")
_TIME = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z\Z")
# Control, format (bidirectional overrides, zero-width), line and paragraph separators:
# characters that make a file name display as something other than what it is.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def shown(value: object) -> str:
    """``repr(value)``, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def invalid(field: str, message: str) -> EnvelopeInvalid:
    return EnvelopeInvalid(message, fields={field: message})


def check_node_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not NODE_ID.match(value):
        raise invalid(
            field,
            f"{field} {shown(value)} is not a node id (3 to 100 of a-z, 0-9, '.', '-', "
            "starting and ending with a letter or digit).",
        )
    return value


def check_uuid4(value: object, field: str) -> str:
    if not isinstance(value, str) or not UUID4.match(value):
        raise invalid(field, f"{field} {shown(value)} is not a random UUID in lower case.")
    return value


def check_count(value: object, field: str, minimum: int) -> int:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not minimum <= value <= MAX_SAFE_INTEGER
    ):
        raise invalid(field, f"{field} must be an integer from {minimum} to 2^53 - 1.")
    return value


def check_sha256(value: object, field: str) -> str:
    if not isinstance(value, str) or not SHA256_HEX.match(value):
        raise invalid(field, f"{field} {shown(value)} is not a SHA-256 in lower-case hex.")
    return value


def check_message_type(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_TYPE_LENGTH or not MESSAGE_TYPE.match(value):
        raise invalid(
            "type",
            f"message type {shown(value)} is not a dotted token of a-z, 0-9, '_', '-' "
            f"(at most {MAX_TYPE_LENGTH} characters).",
        )
    return value


def check_attachment_name(value: object) -> str:
    if not isinstance(value, str) or value in {"", ".", ".."}:
        raise invalid("name", f"attachment name {shown(value)} is empty or not a file name.")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise invalid("name", "an attachment name is not valid Unicode.") from None
    if size > MAX_ATTACHMENT_NAME_BYTES:
        raise invalid(
            "name", f"an attachment name is longer than {MAX_ATTACHMENT_NAME_BYTES} bytes."
        )
    if "/" in value or "\\" in value:
        raise invalid("name", f"attachment name {shown(value)} holds a path separator.")
    if any(unicodedata.category(char) in _HIDDEN_CATEGORIES for char in value):
        raise invalid(
            "name", f"attachment name {shown(value)} holds a control or format character."
        )
    return value


def check_time(value: dt.datetime, field: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise invalid(field, f"{field} must be an aware datetime, not a naive one.")
    if value.microsecond % 1000:
        raise invalid(field, f"{field} must be a whole number of milliseconds.")
    return value


def envelope_time(value: dt.datetime, field: str) -> dt.datetime:
    """``value`` in UTC, cut to the millisecond: the precision of envelope times."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise invalid(field, f"{field} must be an aware datetime, not a naive one.")
    value = value.astimezone(dt.UTC)
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def format_time(value: dt.datetime) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. ``2025-06-01T09:30:00.000Z``."""
    t = value.astimezone(dt.UTC)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f".{t.microsecond // 1000:03d}Z"
    )


def parse_time(value: object, field: str) -> dt.datetime:
    if not isinstance(value, str) or not _TIME.match(value):
        raise invalid(field, f"{field} is not a UTC time like 2025-06-01T09:30:00.000Z.")
    try:
        return dt.datetime.fromisoformat(value[:-1]).replace(tzinfo=dt.UTC)
    except ValueError:
        raise invalid(field, f"{field} {shown(value)} is not a valid date and time.") from None
