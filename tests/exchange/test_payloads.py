"""Large payloads between two real nodes, each with its own database and keys, the
sender reaching the receiver's real app in process: a payload arrives whole and once,
opens to the sender's file, and an interrupted transfer resumes where it stopped."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from comity.errors import PeerUnreachable, PermissionDenied
from comity.exchange import payload_files
from comity.exchange.payload_format import MIN_CHUNK_SIZE
from comity.exchange.payload_inbox import payload_state
from comity.exchange.payload_send import send_payload
from comity.exchange.payload_store import open_payload
from comity.exchange.payloads import Prepared, prepare_payload
from comity.identity.permissions import Permission, system_actor
from comity.node import Node
from comity.web.app import create_app
from exchange.payloading import (
    OPERATOR,
    Relay,
    audit_count,
    befriend,
    ledger_count,
    node_id,
    random_file,
)
from ledger.peers import second_node


@dataclass
class Pair:
    sender: Node
    receiver: Node
    relay: Relay
    tmp: Path

    def prepare(self, size: int, name: str = "evidence.bin") -> tuple[Prepared, bytes]:
        source = random_file(self.tmp / name, size)
        prepared = prepare_payload(
            self.sender, OPERATOR, source, [node_id(self.receiver)], chunk_size=MIN_CHUNK_SIZE
        )
        return prepared, source.read_bytes()

    def send(self, prepared: Prepared) -> None:
        send_payload(
            self.sender,
            OPERATOR,
            self.relay.transport,
            prepared.manifest.manifest.payload_id,
            node_id(self.receiver),
        )


@pytest.fixture
def pair(node: Node, tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[Pair]:
    receiver, _ = second_node(tmp_path / "receiver", new_database("receiver"), "Helgar Legal Aid")
    befriend(node, receiver)
    befriend(receiver, node)
    with TestClient(create_app(receiver)) as client:
        yield Pair(node, receiver, Relay(client), tmp_path)
    receiver.close()


def test_a_payload_arrives_whole_once_and_opens_to_the_file_sent(pair: Pair) -> None:
    prepared, plaintext = pair.prepare(5 * MIN_CHUNK_SIZE + 1234)
    manifest = prepared.manifest.manifest
    assert manifest.chunks == 6
    assert prepared.attachment.sha256 == hashlib.sha256(plaintext).hexdigest()
    assert prepared.attachment.size == len(plaintext)

    pair.send(prepared)

    received = payload_files.incoming_path(pair.receiver, manifest.sha256)
    assert hashlib.sha256(received.read_bytes()).hexdigest() == manifest.sha256
    state = payload_state(pair.receiver, manifest.payload_id)
    assert (state.status, state.held, state.missing) == ("complete", 6, ())
    target = pair.tmp / "opened.bin"
    open_payload(pair.receiver, OPERATOR, node_id(pair.sender), prepared.attachment, target)
    assert target.read_bytes() == plaintext
    assert ledger_count(pair.sender, "exchange.payload.prepare") == 1
    assert ledger_count(pair.sender, "exchange.payload.send") == 1
    assert ledger_count(pair.receiver, "exchange.payload.receive") == 1
    assert audit_count(pair.receiver, "exchange.payload.offer") == 1
    assert audit_count(pair.receiver, "exchange.payload.open") == 1


def test_an_interrupted_transfer_resumes_where_it_stopped(pair: Pair) -> None:
    prepared, plaintext = pair.prepare(7 * MIN_CHUNK_SIZE - 4096)
    manifest = prepared.manifest.manifest
    assert manifest.chunks == 7
    pair.relay.cut_after = 3
    with pytest.raises(PeerUnreachable, match="the receiving node is gone"):
        pair.send(prepared)
    state = payload_state(pair.receiver, manifest.payload_id)
    assert (state.status, state.held) == ("receiving", 3)
    assert sum(end - first for first, end in state.missing or ()) == 4

    pair.relay.cut_after = None
    pair.relay.chunks = 0
    pair.send(prepared)
    assert pair.relay.chunks == 4  # only the missing ones
    assert payload_state(pair.receiver, manifest.payload_id).status == "complete"
    pair.send(prepared)  # again: nothing to send, nothing recorded twice
    assert pair.relay.chunks == 4
    assert ledger_count(pair.receiver, "exchange.payload.receive") == 1
    assert ledger_count(pair.sender, "exchange.payload.send") == 1
    target = pair.tmp / "opened.bin"
    open_payload(pair.receiver, OPERATOR, node_id(pair.sender), prepared.attachment, target)
    assert target.read_bytes() == plaintext


def test_preparing_sending_and_opening_need_the_messages_permissions(pair: Pair) -> None:
    nobody = system_actor("walker", ())
    source = random_file(pair.tmp / "statement.bin", 1000)
    with pytest.raises(PermissionDenied):
        prepare_payload(pair.sender, nobody, source, [node_id(pair.receiver)])
    assert list(payload_files.exchange_dir(pair.sender, "outgoing").iterdir()) == []
    prepared, _ = pair.prepare(1000)
    payload_id = prepared.manifest.manifest.payload_id
    with pytest.raises(PermissionDenied):
        send_payload(pair.sender, nobody, pair.relay.transport, payload_id, node_id(pair.receiver))
    deliverer = system_actor("delivery", (Permission.MESSAGES_MANAGE,))
    send_payload(pair.sender, deliverer, pair.relay.transport, payload_id, node_id(pair.receiver))
    target = pair.tmp / "opened.bin"
    with pytest.raises(PermissionDenied):
        open_payload(pair.receiver, nobody, node_id(pair.sender), prepared.attachment, target)
    assert not target.exists()


def test_a_chunk_larger_than_the_request_limit_passes_on_the_chunk_route(pair: Pair) -> None:
    assert pair.receiver.settings.max_request_bytes < 2 * 1024 * 1024
    source = random_file(pair.tmp / "video.bin", 3 * 1024 * 1024)
    prepared = prepare_payload(
        pair.sender, OPERATOR, source, [node_id(pair.receiver)], chunk_size=2 * 1024 * 1024
    )
    pair.send(prepared)
    manifest = prepared.manifest.manifest
    assert payload_state(pair.receiver, manifest.payload_id).status == "complete"
    answer = pair.relay.client.post("/api/v1/exchange/payloads", content=b" " * (2 * 1024 * 1024))
    assert answer.status_code == 413  # elsewhere the limit holds
