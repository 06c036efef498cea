"""The HTTP transport to peer nodes: what it sends, and every failure as one domain error
with a message that names the URL and what went wrong."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from comity import __version__
from comity.errors import PeerUnreachable
from comity.ledger.transport import MAX_ANSWER_BYTES, HttpTransport

URL = "https://peer.example/api/v1/x"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def peer() -> Iterator[Callable[[Handler], HttpTransport]]:
    made: list[HttpTransport] = []

    def make(handler: Handler) -> HttpTransport:
        transport = HttpTransport(transport=httpx.MockTransport(handler))
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()


def test_it_reads_text_and_json_and_posts_json(
    peer: Callable[[Handler], HttpTransport],
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(201, json={"echo": json.loads(request.content)})
        if request.url.path.endswith("/text"):
            return httpx.Response(200, text="déjà vu\n")
        return httpx.Response(200, json={"proof": []})

    transport = peer(handler)
    assert transport.get_text("https://peer.example/text") == "déjà vu\n"
    assert transport.get_json(URL) == {"proof": []}
    assert transport.post_json(URL, {"a": "b"}) == {"echo": {"a": "b"}}
    assert {r.headers["user-agent"] for r in seen} == {f"comity/{__version__}"}
    assert seen[-1].headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            httpx.Response(
                422, json={"error": "validation_error", "message": "No such witness.", "fields": {}}
            ),
            f"{URL} answered HTTP 422: No such witness.",
        ),
        (
            httpx.Response(500, text="<h1>Internal\n  error</h1>"),
            "answered HTTP 500: <h1>Internal error</h1>",
        ),
        (httpx.Response(503), "answered HTTP 503: no explanation given"),
        (httpx.Response(404, text="x" * 1000), "answered HTTP 404: " + "x" * 300 + "…"),
        (
            httpx.Response(301, headers={"location": "https://elsewhere.example/"}),
            "answered HTTP 301",
        ),
        (httpx.Response(200, text="not json"), f"The answer of {URL} is not JSON."),
        (httpx.Response(200, json=[1, 2]), f"The answer of {URL} is not a JSON object."),
        (
            httpx.Response(200, content=b"x" * (MAX_ANSWER_BYTES + 1)),
            f"The answer of {URL} is larger than {MAX_ANSWER_BYTES} bytes",
        ),
    ],
)
def test_bad_answers_are_peer_unreachable(
    peer: Callable[[Handler], HttpTransport], answer: httpx.Response, message: str
) -> None:
    transport = peer(lambda _request: answer)
    with pytest.raises(PeerUnreachable) as raised:
        transport.get_json(URL)
    assert message in raised.value.message


def test_text_that_is_not_utf8_is_refused(peer: Callable[[Handler], HttpTransport]) -> None:
    transport = peer(lambda _request: httpx.Response(200, content=b"\xff\xfe"))
    with pytest.raises(PeerUnreachable, match="is not UTF-8 text"):
        transport.get_text(URL)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (httpx.ConnectError, f"Cannot reach {URL}: boom."),
        (
            httpx.ReadTimeout,
            f"{URL} did not answer in time (5 s allowed to connect, 15 s to answer).",
        ),
        (httpx.ConnectTimeout, "did not answer in time"),
    ],
)
def test_network_failures_are_peer_unreachable(
    peer: Callable[[Handler], HttpTransport], error: type[httpx.TransportError], message: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("boom", request=request)

    with pytest.raises(PeerUnreachable) as raised:
        peer(handler).post_json(URL, {})
    assert message in raised.value.message


def test_a_closed_port_is_peer_unreachable() -> None:
    """Real sockets: nothing listens on port 9 of the loopback."""
    with (
        HttpTransport(connect_timeout=2, read_timeout=2) as transport,
        pytest.raises(PeerUnreachable, match=r"Cannot reach http://127\.0\.0\.1:9/"),
    ):
        transport.get_text("http://127.0.0.1:9/api/v1/ledger/checkpoint")
