"""A large payload sent to a receiving node that runs as its own ``comity serve`` process
(its own home, keys and database, on a free loopback port: :mod:`exchange.processes`),
killed with SIGKILL in the middle of the transfer and started again: the transfer
resumes, every chunk the receiver had acknowledged is still held, and the payload arrives
once and intact.

The payload is 64 MiB by default; ``COMITY_TEST_PAYLOAD_MB=1024`` runs the issue's 1 GB
(the benchmark, ``bench/payload_bench.py``, sends 1 GB too).
"""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from comity.errors import PeerUnreachable
from comity.exchange import payload_files
from comity.exchange.payload_inbox import payload_state
from comity.exchange.payload_send import send_payload
from comity.exchange.payload_store import open_payload
from comity.exchange.payloads import prepare_payload
from comity.ledger.transport import HttpTransport
from comity.node import Node
from exchange.payloading import OPERATOR, audit_count, befriend, ledger_count, node_id
from exchange.processes import Served, new_node

MIB = 1024 * 1024
SIZE = int(os.environ.get("COMITY_TEST_PAYLOAD_MB", "64")) * MIB
CHUNK = MIB


@pytest.fixture
def served(node: Node, tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[Served]:
    served = new_node(
        tmp_path / "receiver", new_database("receiver"), "Helgar Legal Aid Collective"
    )
    with served.opened() as receiver:
        befriend(node, receiver)
        befriend(receiver, node)
    served.start()
    yield served
    served.kill()


def test_a_receiver_killed_mid_transfer_gets_the_payload_once_and_whole_after_a_restart(
    node: Node, served: Served, tmp_path: Path
) -> None:
    source = tmp_path / "evidence.bin"
    with source.open("wb") as out:
        for _ in range(SIZE // MIB):
            out.write(os.urandom(MIB))
    receiver_id = served.node_id
    prepared = prepare_payload(node, OPERATOR, source, [receiver_id], chunk_size=CHUNK)
    manifest = prepared.manifest.manifest
    payload_id = manifest.payload_id
    acknowledged = 0

    def kill_midway(_held: int, _size: int) -> None:
        nonlocal acknowledged
        acknowledged += 1
        if acknowledged == manifest.chunks // 3:
            served.kill()

    with HttpTransport(read_timeout=120) as transport:
        with pytest.raises(PeerUnreachable):
            send_payload(node, OPERATOR, transport, payload_id, receiver_id, progress=kill_midway)
        assert served.process is not None
        assert served.process.returncode == -signal.SIGKILL

        served.start()
        status = transport.get_json(
            f"{served.settings.base_url}/api/v1/exchange/payloads/{payload_id}"
        )
        held = status["held"]
        assert status["status"] == "receiving"
        assert manifest.chunks // 3 <= held < manifest.chunks  # nothing acknowledged is lost

        sent = send_payload(node, OPERATOR, transport, payload_id, receiver_id)
        assert (sent.status, sent.chunks_sent) == ("complete", manifest.chunks - held)
        again = send_payload(node, OPERATOR, transport, payload_id, receiver_id)
        assert (again.status, again.chunks_sent) == ("complete", 0)
    served.kill()

    receiver = Node.open(served.settings)
    try:
        incoming = payload_files.exchange_dir(receiver, "incoming")
        assert sorted(path.name for path in incoming.iterdir()) == [manifest.sha256, "partial"]
        assert list((incoming / "partial").iterdir()) == []
        assert payload_state(receiver, payload_id).status == "complete"
        assert ledger_count(receiver, "exchange.payload.receive") == 1
        assert audit_count(receiver, "exchange.payload.receive") == 1
        target = tmp_path / "opened.bin"
        open_payload(receiver, OPERATOR, node_id(node), prepared.attachment, target)
        assert _sha256(target) == _sha256(source) == prepared.attachment.sha256
    finally:
        receiver.close()
    assert ledger_count(node, "exchange.payload.send") == 1


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(MIB):
            digest.update(block)
    return digest.hexdigest()
