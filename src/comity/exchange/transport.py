"""How the outbox hands an envelope to a peer: the :class:`EnvelopeTransport` interface
and :class:`HttpEnvelopeTransport`, its implementation with httpx.

One call: post the envelope's bytes to the peer's ``/api/v1/exchange/envelopes`` and
read its JSON answer. Answers of 2xx and 4xx are returned (a 4xx may carry a signed
rejection receipt, which is final); everything else — no connection, a timeout, a
redirect, a 5xx, an answer too large or not a JSON object — raises
:class:`~comity.errors.PeerUnreachable`, and the delivery is tried again later. Tests
inject a transport that hands the bytes to the other node's app in process.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

import httpx

from comity import __version__
from comity.errors import PeerUnreachable

ENVELOPES_PATH = "/api/v1/exchange/envelopes"
ENVELOPE_MEDIA_TYPE = "application/json"
CONNECT_TIMEOUT = 5.0
TRANSFER_TIMEOUT = 120.0  # an envelope may be 16 MiB
MAX_ANSWER_BYTES = 256 * 1024  # a few receipts of at most 4 KiB each, or an error
# httpx writes a request's headers and body in two sends. With Nagle's algorithm on, the
# body of a small envelope waits for the peer to acknowledge the headers, which it delays
# (by 40 ms on Linux): a post would take 40 ms whatever the peer does.
NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


@dataclass(frozen=True)
class PostAnswer:
    status: int
    body: dict[str, Any]


class EnvelopeTransport(Protocol):
    def post_envelope(self, url: str, envelope: bytes) -> PostAnswer:
        """``POST url`` with the envelope; the answer (2xx or 4xx, a JSON object), or
        :class:`PeerUnreachable`."""
        ...


def envelopes_url(endpoint: str) -> str:
    """Where a peer whose descriptor names ``endpoint`` takes envelopes."""
    return endpoint.rstrip("/") + ENVELOPES_PATH


class HttpEnvelopeTransport:
    """:class:`EnvelopeTransport` over httpx, with timeouts, no redirects and a cap on
    the answer's size. Close it (or use it as a context manager)."""

    def __init__(self, *, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(
            transport=transport or httpx.HTTPTransport(socket_options=NO_DELAY),
            timeout=httpx.Timeout(TRANSFER_TIMEOUT, connect=CONNECT_TIMEOUT),
            follow_redirects=False,
            headers={"User-Agent": f"comity/{__version__}"},
        )

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

    def post_envelope(self, url: str, envelope: bytes) -> PostAnswer:
        try:
            with self._client.stream(
                "POST", url, content=envelope, headers={"Content-Type": ENVELOPE_MEDIA_TYPE}
            ) as response:
                chunks: list[bytes] = []
                received = 0
                for chunk in response.iter_bytes():
                    received += len(chunk)
                    if received > MAX_ANSWER_BYTES:
                        raise PeerUnreachable(
                            f"The answer of {url} is larger than {MAX_ANSWER_BYTES} bytes."
                        )
                    chunks.append(chunk)
                status = response.status_code
        except httpx.TimeoutException:
            raise PeerUnreachable(f"{url} did not answer in time.") from None
        except httpx.HTTPError as exc:
            raise PeerUnreachable(f"Cannot reach {url}: {exc or type(exc).__name__}.") from None
        if not (200 <= status < 300 or 400 <= status < 500):
            raise PeerUnreachable(f"{url} answered HTTP {status}.")
        try:
            body = json.loads(b"".join(chunks))
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise PeerUnreachable(f"{url} answered HTTP {status}, not with a JSON object.")
        return PostAnswer(status, body)
