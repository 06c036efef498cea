"""How this node talks to peer nodes over HTTP: the :class:`Transport` interface the
witnessing services use, and :class:`HttpTransport`, its implementation with httpx, which
also posts time-stamp requests to an RFC 3161 authority (:meth:`HttpTransport.post_bytes`)
and carries large payloads to peers (:meth:`~HttpTransport.post_bytes`,
:meth:`~HttpTransport.put_bytes`; :mod:`comity.exchange.payloads`).

The interface is three calls, each on a full URL: read a text document, read a JSON
object, post a JSON object and read the JSON answer. Every failure (no connection, a
timeout, an HTTP error status, an answer too large or not of the kind asked for) is
raised as :class:`~comity.errors.PeerUnreachable` with a message naming the URL and what
went wrong, so callers handle one domain error and never an httpx exception. Tests inject
an ``httpx.MockTransport`` (or anything else with the three methods).
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any, Protocol, Self

import httpx

from comity import __version__
from comity.errors import PeerUnreachable

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
MAX_ANSWER_BYTES = 2 * 1024 * 1024  # a checkpoint note is at most 1 MiB
_ERROR_MESSAGE_CHARS = 300


class Transport(Protocol):
    """Reaching peer nodes; every method raises :class:`PeerUnreachable` on failure."""

    def get_text(self, url: str) -> str:
        """The body of ``GET url`` as text (UTF-8)."""
        ...

    def get_json(self, url: str) -> dict[str, Any]:
        """The body of ``GET url``, which must be a JSON object."""
        ...

    def post_json(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST url`` with ``body`` as JSON; the answer, which must be a JSON object."""
        ...


def _peer_message(data: bytes) -> str:
    """The ``message`` of a Comity error answer, else the start of the body as text."""
    text = data.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        text = parsed["message"]
    text = " ".join(text.split())
    if len(text) > _ERROR_MESSAGE_CHARS:
        text = text[:_ERROR_MESSAGE_CHARS] + "…"
    return text or "no explanation given"


class HttpTransport:
    """:class:`Transport` over httpx, with timeouts and a cap on the size of answers.

    Redirects are not followed: a peer's URL is configured by an operator and a redirect
    elsewhere is reported, not obeyed. Close it (or use it as a context manager).
    """

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=False,
            headers={"User-Agent": f"comity/{__version__}"},
        )
        self._timeouts = f"{connect_timeout:g} s allowed to connect, {read_timeout:g} s to answer"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None = None,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        try:
            with self._client.stream(
                method, url, json=body, content=content, headers=headers
            ) as response:
                chunks: list[bytes] = []
                received = 0
                for chunk in response.iter_bytes():
                    received += len(chunk)
                    if received > MAX_ANSWER_BYTES:
                        raise PeerUnreachable(
                            f"The answer of {url} is larger than {MAX_ANSWER_BYTES} bytes; "
                            "it was not read."
                        )
                    chunks.append(chunk)
                status = response.status_code
        except httpx.TimeoutException:
            raise PeerUnreachable(f"{url} did not answer in time ({self._timeouts}).") from None
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise PeerUnreachable(f"Cannot reach {url}: {reason}.") from None
        data = b"".join(chunks)
        if not 200 <= status < 300:
            raise PeerUnreachable(f"{url} answered HTTP {status}: {_peer_message(data)}")
        return data

    def get_text(self, url: str) -> str:
        data = self._send("GET", url)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise PeerUnreachable(f"The answer of {url} is not UTF-8 text.") from None

    def _json_object(self, url: str, data: bytes) -> dict[str, Any]:
        try:
            parsed = json.loads(data)
        except ValueError:
            raise PeerUnreachable(f"The answer of {url} is not JSON.") from None
        if not isinstance(parsed, dict):
            raise PeerUnreachable(f"The answer of {url} is not a JSON object.")
        return parsed

    def get_json(self, url: str) -> dict[str, Any]:
        return self._json_object(url, self._send("GET", url))

    def post_json(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._json_object(url, self._send("POST", url, body))

    def post_bytes(self, url: str, body: bytes, *, content_type: str, accept: str) -> bytes:
        """``POST url`` with ``body`` as ``content_type``; the answer's bytes."""
        return self._send(
            "POST", url, content=body, headers={"Content-Type": content_type, "Accept": accept}
        )

    def put_bytes(self, url: str, body: bytes, *, headers: dict[str, str]) -> bytes:
        """``PUT url`` with ``body`` and ``headers``; the answer's bytes."""
        return self._send("PUT", url, content=body, headers=headers)
