"""Two real nodes witness each other: each is its own ``comity serve`` process with its own
data directory and database, on a free loopback port; they are set up and run with the
real command line, as two organisations' operators would. Then one node rewrites its
history under the same key, and the other catches it.

Slow (tens of seconds), and never skipped: it is the only test of the whole path over
real HTTP between processes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from sqlalchemy import func, select

from comity.audit.models import AuditEvent
from comity.ledger import checkpoints, services
from comity.ledger.checkpoint import CosignatureVerifier, verify_checkpoint, verify_cosignature
from comity.ledger.events import record_event
from comity.ledger.models import LedgerCosignature, LedgerFollowedLog
from comity.ledger.note import NoteVerifier
from comity.ledger.verify import VerifyReport
from comity.node import Node, local_operator
from comity.settings import Settings, load_settings
from conftest import TEST_SECRET
from factories import append_events
from ledger.tampering import tamper

START_TIMEOUT = 60.0
COMMAND_TIMEOUT = 120.0
LEDGER_TABLES = (  # children first: the foreign keys hold while rows go
    "ledger_cosignatures",
    "ledger_checkpoints",
    "ledger_salts",
    "ledger_nodes",
    "ledger_entries",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RealNode:
    """One organisation's node: a ``comity serve`` process, and its operator's shell."""

    def __init__(
        self, name: str, home: Path, database_url: str, timers: dict[str, str] | None = None
    ) -> None:
        self.name = name
        # The scheduled ledger duties are off unless a test sets their timers: what the
        # operators do by hand must be all that happens.
        self.timers = timers or {
            "COMITY_CHECKPOINT_INTERVAL_SECONDS": "0",
            "COMITY_WITNESS_INTERVAL_SECONDS": "0",
        }
        self.home = home
        self.database_url = database_url
        self.port = free_port()
        self.output_path = home.parent / f"{home.name}-serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("COMITY_")}
        env.update(
            COMITY_HOME=str(self.home),
            COMITY_DATABASE_URL=self.database_url,
            COMITY_SECRET_KEY=TEST_SECRET,
            COMITY_NODE_NAME=self.name,
        )
        env.update(self.timers)
        return env

    def settings(self) -> Settings:
        return load_settings(
            home=self.home,
            database_url=self.database_url,
            secret_key=TEST_SECRET,
            node_name=self.name,
        )

    def start(self) -> None:
        assert self.process is None
        self._output = self.output_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "comity", "serve", "--host=127.0.0.1", f"--port={self.port}"],
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(timeout=2) as client:
            while True:
                if self.process.poll() is not None:
                    pytest.fail(f"{self.name} exited at start:\n{self.server_output()}")
                try:
                    if client.get(self.url + "/api/v1/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{self.name} did not answer in time:\n{self.server_output()}")
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
            self.process = None
        if self._output is not None:
            self._output.close()
            self._output = None

    def server_output(self) -> str:
        return self.output_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def comity(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``comity ARGS`` in the operator's shell on this node's machine."""
        return subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "comity", *args],
            env=self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )

    def ok(self, *args: str) -> str:
        result = self.comity(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def database(self) -> Node:
        """This node's database and keys, opened beside the running server."""
        return Node.open(self.settings())

    def append(self, count: int, *, checkpoint: bool = False) -> None:
        node = self.database()
        try:
            append_events(node, count, checkpoint=checkpoint)
        finally:
            node.close()

    def cosignatures(self) -> int:
        node = self.database()
        try:
            with node.uow() as uow:
                return uow.session.scalar(select(func.count(LedgerCosignature.id))) or 0
        finally:
            node.close()

    def followed(self) -> LedgerFollowedLog:
        node = self.database()
        try:
            with node.uow() as uow:
                return uow.session.scalars(select(LedgerFollowedLog)).one()
        finally:
            node.close()

    def verify(self) -> VerifyReport:
        """What ``comity ledger verify`` reports, without starting another process."""
        node = self.database()
        try:
            with node.uow() as uow:
                return services.verify(uow, local_operator(), node.keys)
        finally:
            node.close()

    def public_checkpoint(self) -> str:
        with httpx.Client(timeout=10) as client:
            response = client.get(self.url + "/api/v1/ledger/checkpoint")
        assert response.status_code == 200, response.text
        return response.text


def rewrite_history(node: RealNode, size: int) -> None:
    """What someone with the node's files could do: throw the ledger away and write another
    of ``size`` entries under the same key, with a freshly signed checkpoint."""
    opened = node.database()
    try:
        for table in LEDGER_TABLES:
            tamper(opened, table, f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        with opened.uow() as uow:
            for number in range(size):
                record_event(uow.session, local_operator(), "test.rewritten", data={"n": number})
            checkpoints.ensure_checkpoint(uow.session, opened.keys)
            uow.commit()
    finally:
        opened.close()


@pytest.fixture
def two_nodes(
    tmp_path: Path, new_database: Callable[[str], str]
) -> Iterator[tuple[RealNode, RealNode]]:
    a = RealNode("Varesh Monitoring Network", tmp_path / "a", new_database("a"))
    b = RealNode("Northern Prosecutor's Office", tmp_path / "b", new_database("b"))
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        try:
            a.stop()
        finally:
            b.stop()


def test_two_nodes_witness_each_other_and_catch_a_rewritten_history(
    two_nodes: tuple[RealNode, RealNode],
) -> None:
    a, b = two_nodes
    status_a = a.json("ledger", "status")
    status_b = b.json("ledger", "status")
    origin_a, origin_b = status_a["origin"], status_b["origin"]
    log_key_a = NoteVerifier.from_vkey(status_a["vkey"])

    # The operators exchange keys by a channel they trust, then each sets up both roles.
    a.ok("ledger", "witness", "add", status_b["witness_vkey"], "--url", b.url)
    b.ok("ledger", "witness", "add", status_a["witness_vkey"], "--url", a.url)
    b.ok("ledger", "follow", status_a["vkey"], "--url", a.url)
    a.ok("ledger", "follow", status_b["vkey"], "--url", b.url)

    a.append(5)
    a.ok("ledger", "checkpoint")
    b.append(2, checkpoint=True)

    assert f"{origin_a}: cosigned size 6 (+6 since size 0)" in b.ok("ledger", "witness-run")
    assert f"{origin_b}: cosigned size 3 (+3 since size 0)" in a.ok("ledger", "witness-run")
    report = a.json("ledger", "verify")
    assert report["ok"] is True, report["problems"]
    assert report["cosignatures"] == 1
    report_b = b.verify()
    assert (report_b.ok, report_b.cosignatures) == (True, 1)
    served = a.public_checkpoint()
    assert verify_cosignature(served, CosignatureVerifier.from_vkey(status_b["witness_vkey"])) > 0

    # A grows; B checks the growth with a consistency proof from A, over HTTP.
    a.append(3, checkpoint=True)
    assert f"{origin_a}: cosigned size 9 (+3 since size 6)" in b.ok("ledger", "witness-run")
    witnessed = b.followed()
    assert witnessed.last_size == 9
    assert a.verify().cosignatures == 2

    # A rewrites its history under the same key: nine other entries, a new checkpoint.
    a.stop()
    rewrite_history(a, 9)
    a.start()
    assert a.verify().ok  # A alone cannot tell
    assert a.cosignatures() == 0

    result = b.comity("ledger", "witness-run")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"{origin_a}: ALARM split_view" in result.stdout
    assert "see 'comity ledger alarms'" in result.stderr
    [alarm] = b.json("ledger", "alarms")
    assert (alarm["origin"], alarm["kind"]) == (origin_a, "split_view")
    evidence = alarm["evidence"]
    assert evidence["previous_checkpoint"] == witnessed.last_note
    assert evidence["checkpoint"] == a.public_checkpoint()
    before = verify_checkpoint(evidence["previous_checkpoint"], log_key_a)
    after = verify_checkpoint(evidence["checkpoint"], log_key_a)
    assert before.size == after.size == 9
    assert before.root != after.root
    assert a.cosignatures() == 0  # nothing reached A

    # A carries on from the rewritten history: B still holds the first, and says so.
    a.append(3, checkpoint=True)
    result = b.comity("ledger", "witness-run", origin_a)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"{origin_a}: ALARM inconsistent" in result.stdout
    kinds = [found["kind"] for found in b.json("ledger", "alarms")]
    assert kinds == ["inconsistent", "split_view"]
    assert b.followed().last_note == witnessed.last_note
    assert a.cosignatures() == 0

    # B's own log is untouched, and still cosigned by A.
    assert f"{origin_b}: cosigned size 3 (unchanged)" in a.ok("ledger", "witness-run")


def audit_actions(node: RealNode, action: str) -> list[tuple[str, str, str]]:
    opened = node.database()
    try:
        with opened.uow() as uow:
            rows = uow.session.execute(
                select(AuditEvent.actor, AuditEvent.via, AuditEvent.target_id).where(
                    AuditEvent.action == action
                )
            )
            return [(actor, via, target) for actor, via, target in rows]
    finally:
        opened.close()


def test_serving_nodes_checkpoint_and_witness_on_their_own(
    tmp_path: Path, new_database: Callable[[str], str]
) -> None:
    timers = {
        "COMITY_CHECKPOINT_INTERVAL_SECONDS": "0.3",
        "COMITY_WITNESS_INTERVAL_SECONDS": "0.3",
    }
    a = RealNode("Varesh Monitoring Network", tmp_path / "a", new_database("a"), timers)
    b = RealNode("Northern Prosecutor's Office", tmp_path / "b", new_database("b"), timers)
    try:
        a.start()
        b.start()
        status_a, status_b = a.json("ledger", "status"), b.json("ledger", "status")
        a.ok("ledger", "witness", "add", status_b["witness_vkey"], "--url", b.url)
        b.ok("ledger", "follow", status_a["vkey"], "--url", a.url)

        a.append(4)  # and nobody runs 'ledger checkpoint' or 'witness-run'
        witness = CosignatureVerifier.from_vkey(status_b["witness_vkey"])
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            served = a.public_checkpoint()
            checkpoint = verify_checkpoint(served, NoteVerifier.from_vkey(status_a["vkey"]))
            if checkpoint.size == 5 and witness.name in served:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"no cosigned checkpoint of size 5; A serves:\n{served}")
            time.sleep(0.2)
        assert verify_cosignature(served, witness) > 0
        assert b.followed().last_size == 5
        assert ("system:checkpoint", "system", "5") in audit_actions(a, "ledger.checkpoint")
        assert ("system:witness", "system") in {
            (actor, via) for actor, via, _ in audit_actions(b, "ledger.cosign")
        }
        assert a.verify().ok
    finally:
        try:
            a.stop()
        finally:
            b.stop()
