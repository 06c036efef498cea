"""Sending a prepared payload to one recipient (:func:`send_payload`), resumably.

The sender offers the signed manifest; the recipient answers which chunks it still
misses (all of them the first time). The sender sends those, each with its Merkle
inclusion proof, :data:`PARALLEL_CHUNKS` at a time, until the recipient answers that it
holds the payload whole. Nothing is remembered between calls: after a failure, or a
restart of either node, calling :func:`send_payload` again resumes from the
recipient's answer. The first call that sees the payload complete records
``exchange.payload.send`` on the ledger and in the audit trail.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol

from comity.errors import Conflict, NotFound, PeerAnswerInvalid
from comity.exchange import payload_files as files
from comity.exchange.messaging import require_any
from comity.exchange.models import ExchangePeer
from comity.exchange.payload_checks import encode_proof
from comity.exchange.payload_format import PROOF_HEADER, Manifest
from comity.exchange.payloads import outgoing_leaves, outgoing_manifest, record_payload
from comity.identity.permissions import Actor, Permission
from comity.ledger import merkle
from comity.node import Node

PAYLOADS_PATH = "/api/v1/exchange/payloads"
PARALLEL_CHUNKS = 4
"""Chunks in flight to one recipient at once, so that the recipient receives the next
while it writes and fsyncs one. On the 2-core development machine (loopback, 8 MiB
chunks, SQLite) one at a time reached about half the throughput of four."""

Progress = Callable[[int, int], None]
"""Called as chunks arrive with the bytes the recipient holds and the payload's size."""


class PayloadTransport(Protocol):
    """Reaching a recipient node, from several threads at once; every method raises
    :class:`~comity.errors.PeerUnreachable` on failure (as
    :class:`~comity.ledger.transport.HttpTransport` does)."""

    def post_bytes(self, url: str, body: bytes, *, content_type: str, accept: str) -> bytes: ...

    def put_bytes(self, url: str, body: bytes, *, headers: dict[str, str]) -> bytes: ...


@dataclass(frozen=True)
class Sent:
    """How a send ended: the recipient's status, and what this call sent."""

    recipient: str
    status: str
    chunks_sent: int
    bytes_sent: int


@dataclass(frozen=True)
class _Answer:
    status: str
    held: int
    missing: tuple[tuple[int, int], ...]


def _answer(url: str, data: bytes, chunks: int) -> _Answer:
    """The recipient's answer, checked to be what the protocol says."""
    try:
        value = json.loads(data)
        missing = tuple((int(first), int(end)) for first, end in value.get("missing") or ())
        answer = _Answer(str(value["status"]), int(value["held"]), missing)
    except (ValueError, TypeError, KeyError, AttributeError):
        raise PeerAnswerInvalid(f"The answer of {url} is not a payload status.") from None
    if any(not 0 <= first < end <= chunks for first, end in missing):
        raise PeerAnswerInvalid(f"{url} asks for chunks the payload does not have.")
    return answer


def _endpoint(node: Node, recipient: str, manifest: Manifest) -> str:
    if recipient not in manifest.recipients:
        raise Conflict(f"Payload {manifest.payload_id} is not for {recipient}.")
    with node.uow() as uow:
        peer = uow.session.get(ExchangePeer, recipient)
    if peer is None:
        raise NotFound(f"{recipient!r} is not a peer of this node.")
    return peer.endpoint.rstrip("/") + PAYLOADS_PATH


class _Chunks:
    """Puts the chunks of one payload to one recipient, from several threads."""

    def __init__(
        self, node: Node, transport: PayloadTransport, manifest: Manifest, url: str
    ) -> None:
        self.manifest = manifest
        self.transport = transport
        self.url = f"{url}/{manifest.payload_id}/chunks"
        self.tree = merkle.MemoryTree(outgoing_leaves(node, manifest.payload_id))
        self.path = files.outgoing_dir(node, manifest.payload_id) / "data"

    def put(self, descriptor: int, number: int) -> tuple[int, _Answer]:
        offset, length = self.manifest.chunk_span(number)
        data = files.read_at(descriptor, offset, length)
        proof = merkle.inclusion_proof(self.tree, number, self.manifest.chunks)
        answer = self.transport.put_bytes(
            f"{self.url}/{number}",
            data,
            headers={"Content-Type": "application/octet-stream", PROOF_HEADER: encode_proof(proof)},
        )
        return length, _answer(self.url, answer, self.manifest.chunks)


def send_payload(
    node: Node,
    actor: Actor,
    transport: PayloadTransport,
    payload_id: str,
    recipient: str,
    *,
    progress: Progress | None = None,
    parallel: int = PARALLEL_CHUNKS,
) -> Sent:
    """Send the prepared payload ``payload_id`` to ``recipient``, from where it stands
    there, until the recipient holds it whole (see the module docstring);
    ``messages:send``, or ``messages:manage`` (the delivery rounds). Raises
    :class:`~comity.errors.PeerUnreachable` if the recipient cannot be reached or
    refuses; calling again resumes."""
    require_any(actor, Permission.MESSAGES_SEND, Permission.MESSAGES_MANAGE)
    signed = outgoing_manifest(node, payload_id)
    manifest = signed.manifest
    url = _endpoint(node, recipient, manifest)
    answer = _answer(
        url,
        transport.post_bytes(
            url, signed.raw, content_type="application/json", accept="application/json"
        ),
        manifest.chunks,
    )
    numbers = iter([number for first, end in answer.missing for number in range(first, end)])
    chunks = _Chunks(node, transport, manifest, url)
    statuses = {answer.status}
    sent = sent_bytes = 0
    held = answer.held
    descriptor = os.open(chunks.path, os.O_RDONLY)
    try:
        with ThreadPoolExecutor(max(1, parallel), thread_name_prefix="payload-send") as pool:
            pending: set[Future[tuple[int, _Answer]]] = set()
            while True:
                for number in numbers:
                    pending.add(pool.submit(chunks.put, descriptor, number))
                    if len(pending) >= parallel:
                        break
                if not pending:
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    length, reply = future.result()  # a failure ends the send here
                    statuses.add(reply.status)
                    sent, sent_bytes, held = sent + 1, sent_bytes + length, held + 1
                    if progress is not None:
                        progress(min(held * manifest.chunk_size, manifest.size), manifest.size)
    finally:
        os.close(descriptor)
    if "complete" not in statuses:
        raise Conflict(
            f"{recipient} does not hold payload {payload_id} whole yet; send it again to resume."
        )
    marker = files.outgoing_dir(node, payload_id) / f"sent-{recipient}"
    if not marker.exists():
        record_payload(node, actor, "exchange.payload.send", manifest, {"recipient": recipient})
        files.write_durably(marker, b"")
    return Sent(recipient, "complete", sent, sent_bytes)
