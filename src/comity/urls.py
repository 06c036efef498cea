"""The check on the URL of a service an operator names for this node to call (an RFC 3161
time-stamping authority, an S3-compatible endpoint, a followed node): ``http`` or
``https`` with a host, and nothing that would carry a secret or be lost on the way — no
user name or password, no fragment, and no query where the caller appends paths.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def is_service_url(value: str, *, query: bool = False) -> bool:
    """Whether ``value`` is an ``http://`` or ``https://`` URL with a host and without a
    user name, password or fragment, nor a query unless ``query`` allows one.

    Raises ``ValueError`` where :func:`urllib.parse.urlsplit` does (an unclosed ``[``).
    """
    parts = urlsplit(value)
    return (
        parts.scheme in {"http", "https"}
        and bool(parts.hostname)
        and not parts.username
        and not parts.password
        and not parts.fragment
        and (query or not parts.query)
    )
