"""What a receiving node refuses, and that a refusal changes nothing: manifests that are
not signed, altered, from a node that is not a confirmed peer, for another node, expired
or not canonical; a chunk that does not match the manifest; a second manifest under a
payload id. And what it does only once: completing a payload."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from comity.exchange import payload_files, peers
from comity.exchange.payload_errors import PayloadReason, PayloadRejected
from comity.exchange.payload_format import (
    MIN_CHUNK_SIZE,
    PROOF_HEADER,
    Contents,
    sign_manifest,
)
from comity.exchange.payload_inbox import payload_state, receive_chunk, receive_offer
from comity.exchange.payload_models import IncomingChunk, IncomingPayload
from comity.exchange.payload_send import send_payload
from comity.exchange.payload_store import open_payload
from comity.exchange.payloads import Prepared, outgoing_manifest, prepare_payload
from comity.node import Node
from comity.vault.age import encrypt_bytes
from comity.vault.age_keys import X25519Recipient
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

URL = "/api/v1/exchange/payloads"


@dataclasses.dataclass
class World:
    sender: Node
    receiver: Node
    client: TestClient
    relay: Relay
    prepared: Prepared
    tmp: Path

    @property
    def payload_id(self) -> str:
        return self.prepared.manifest.manifest.payload_id

    def send(self) -> None:
        send_payload(
            self.sender, OPERATOR, self.relay.transport, self.payload_id, node_id(self.receiver)
        )


@pytest.fixture
def world(node: Node, tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[World]:
    receiver, _ = second_node(tmp_path / "receiver", new_database("receiver"), "Helgar Legal Aid")
    befriend(node, receiver)
    befriend(receiver, node)
    source = random_file(tmp_path / "statement.bin", 3 * MIN_CHUNK_SIZE)
    prepared = prepare_payload(
        node, OPERATOR, source, [node_id(receiver)], chunk_size=MIN_CHUNK_SIZE
    )
    with TestClient(create_app(receiver)) as client:
        yield World(node, receiver, client, Relay(client), prepared, tmp_path)
    receiver.close()


def offered(world: World, data: bytes) -> Any:
    return world.client.post(URL, content=data, headers={"content-type": "application/json"})


def reason(answer: Any) -> str:
    value = answer.json()["fields"]["reason"]
    assert isinstance(value, str)
    return value


def resigned(world: World, **changes: object) -> bytes:
    """The world's manifest with ``changes``, signed again by the sender."""
    manifest = dataclasses.replace(world.prepared.manifest.manifest, **changes)  # type: ignore[arg-type]
    return sign_manifest(manifest, world.sender.keys.signing_key()).raw


def nothing_received(world: World) -> None:
    partial = payload_files.exchange_dir(world.receiver, "incoming", "partial")
    assert list(partial.iterdir()) == []
    with world.receiver.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(IncomingPayload)) == 0


def test_manifests_that_fail_a_check_are_refused_with_their_reason(world: World) -> None:
    raw = world.prepared.manifest.raw
    document = json.loads(raw)
    unsigned = json.dumps({"manifest": document["manifest"], "signature": ""}).encode()
    flipped = bytearray(base64.b64decode(document["signature"]))
    flipped[0] ^= 1
    altered = json.dumps(
        {"manifest": document["manifest"], "signature": base64.b64encode(flipped).decode()},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    created = world.prepared.manifest.manifest.created_at
    cases = {
        b"x" * 40_000: "too_large",
        b"[]": "malformed",
        raw.replace(b'"format":"comity-payload/1"', b'"format":"comity-payload/2"'): (
            "unsupported_format"
        ),
        unsigned: "unsigned",
        raw.replace(b"{", b"{ ", 1): "malformed",
        altered: "bad_signature",
        resigned(world, recipients=("org.example.elsewhere",)): "misaddressed",
        resigned(
            world,
            created_at=created - dt.timedelta(days=20),
            expires_at=created - dt.timedelta(days=10),
        ): "key_not_valid_at_creation",
        resigned(
            world,
            created_at=created + dt.timedelta(hours=1),
            expires_at=created + dt.timedelta(days=1),
        ): "from_the_future",
        resigned(world, contents=b"not an age file"): "undecryptable",
    }
    for data, expected in cases.items():
        answer = offered(world, data)
        assert answer.status_code == 422, (expected, answer.text)
        assert reason(answer) == expected
    expires = world.prepared.manifest.manifest.expires_at
    with pytest.raises(PayloadRejected) as expired:
        receive_offer(world.receiver, OPERATOR, raw, now=expires + dt.timedelta(minutes=6))
    assert expired.value.reason is PayloadReason.EXPIRED
    nothing_received(world)
    assert audit_count(world.receiver, "exchange.payload.offer") == len(cases) + 1  # refusals


@pytest.mark.parametrize("change", ["suspended", "revoked"])
def test_a_sender_that_is_not_a_confirmed_peer_is_refused(world: World, change: str) -> None:
    sender = node_id(world.sender)
    with world.receiver.uow() as uow:
        if change == "suspended":
            peers.suspend_peer(uow, OPERATOR, sender)
        else:
            peers.revoke_peer(uow, OPERATOR, sender)
    answer = offered(world, world.prepared.manifest.raw)
    assert answer.status_code == 422
    assert (
        reason(answer) == {"suspended": "sender_not_confirmed", "revoked": "revoked_sender"}[change]
    )
    nothing_received(world)


def test_a_sender_unknown_to_the_receiver_is_refused(
    world: World, new_database: Callable[[str], str]
) -> None:
    stranger, _ = second_node(world.tmp / "stranger", new_database("stranger"), "Stranger")
    befriend(world.sender, stranger)  # the sender trusts it, not the other way round
    source = random_file(world.tmp / "note.bin", 1000)
    prepared = prepare_payload(world.sender, OPERATOR, source, [node_id(stranger)])
    with pytest.raises(PayloadRejected) as refused:
        receive_offer(stranger, OPERATOR, prepared.manifest.raw)
    assert refused.value.reason is PayloadReason.UNKNOWN_SENDER
    stranger.close()


def test_a_tampered_chunk_is_refused_and_nothing_is_written(world: World) -> None:
    def flip(request: httpx.Request) -> httpx.Request:
        if request.method != "PUT" or not request.url.path.endswith("/chunks/1"):
            return request
        data = bytearray(request.content)
        data[100] ^= 0x01
        return httpx.Request("PUT", request.url, headers=request.headers, content=bytes(data))

    world.relay.rewrite = flip
    with pytest.raises(Exception, match="does not match the manifest"):
        world.send()
    state = payload_state(world.receiver, world.payload_id)
    assert (state.held, state.missing) == (state.chunks - 1, ((1, 2),))  # all but that one
    partial = payload_files.partial_path(world.receiver, world.payload_id)
    offset, length = world.prepared.manifest.manifest.chunk_span(1)
    with partial.open("rb") as stored:
        stored.seek(offset)
        assert stored.read(length) == bytes(length)  # a hole: nothing was written there

    with pytest.raises(PayloadRejected) as short:
        receive_chunk(world.receiver, world.payload_id, 1, b"short", "")
    assert short.value.reason is PayloadReason.CHUNK_MISMATCH
    answer = world.client.put(
        f"{URL}/{world.payload_id}/chunks/1",
        content=bytes(length),
        headers={PROOF_HEADER: "not base64!"},
    )
    assert (answer.status_code, reason(answer)) == (422, "chunk_mismatch")

    world.relay.rewrite = None
    world.send()
    assert payload_state(world.receiver, world.payload_id).status == "complete"


def test_another_manifest_under_the_same_payload_id_is_refused(world: World) -> None:
    assert offered(world, world.prepared.manifest.raw).status_code == 200
    other = resigned(world, chunk_root="00" * 32)
    answer = offered(world, other)
    assert answer.status_code == 409
    assert answer.json()["error"] == "manifest_conflict"
    assert world.client.get(f"{URL}/{world.payload_id}").json()["held"] == 0


def test_a_payload_is_completed_and_recorded_once_even_after_a_stop_midway(
    world: World,
) -> None:
    world.relay.cut_after = world.prepared.manifest.manifest.chunks - 1
    with pytest.raises(Exception, match="gone"):
        world.send()
    # The last chunk arrives, is written and recorded, and the process stops after
    # renaming the file into place but before recording the completion.
    manifest = world.prepared.manifest.manifest
    partial = payload_files.partial_path(world.receiver, world.payload_id)
    data = (payload_files.outgoing_dir(world.sender, world.payload_id) / "data").read_bytes()
    partial.write_bytes(data)
    os.replace(partial, payload_files.incoming_path(world.receiver, manifest.sha256))
    ((missing, _),) = payload_state(world.receiver, world.payload_id).missing or ()
    with world.receiver.uow() as uow:
        uow.session.add(IncomingChunk(payload_id=world.payload_id, number=missing))
        uow.commit()

    state = receive_offer(world.receiver, OPERATOR, world.prepared.manifest.raw)
    assert state.status == "complete"
    receive_offer(world.receiver, OPERATOR, world.prepared.manifest.raw)
    world.relay.cut_after = None
    world.send()
    assert ledger_count(world.receiver, "exchange.payload.receive") == 1
    assert audit_count(world.receiver, "exchange.payload.receive") == 1
    assert ledger_count(world.sender, "exchange.payload.send") == 1


def test_a_payload_whose_contents_lie_does_not_open(world: World) -> None:
    """A sender that seals another digest than the file's: the file is received, but
    opening it for the announced attachment refuses and leaves no file."""
    receiver_key = X25519Recipient(
        world.receiver.keys.encryption_key().public_key().public_bytes_raw()
    )
    claim = Contents(sha256="ab" * 32, size=world.prepared.attachment.size)
    lying = resigned(world, contents=encrypt_bytes(claim.encode(), [receiver_key]))
    outgoing = payload_files.outgoing_dir(world.sender, world.payload_id) / "manifest"
    outgoing.unlink()
    payload_files.write_durably(outgoing, lying)
    assert outgoing_manifest(world.sender, world.payload_id).raw == lying
    world.send()
    announced = dataclasses.replace(world.prepared.attachment, sha256=claim.sha256)
    target = world.tmp / "opened.bin"
    with pytest.raises(PayloadRejected, match="another SHA-256"):
        open_payload(world.receiver, OPERATOR, node_id(world.sender), announced, target)
    assert not target.exists()
    assert list(world.tmp.glob(".opened*")) == []
    with pytest.raises(Exception, match="No complete payload"):
        open_payload(
            world.receiver, OPERATOR, node_id(world.sender), world.prepared.attachment, target
        )
