"""The ledger's scheduled duties in one process: a checkpoint when the log grew, witnessing
that fails without stopping anything, and the timers. The same duties between two real
``comity serve`` processes: ``test_two_nodes.py``."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from comity.audit.models import AuditEvent
from comity.ledger import checkpoints
from comity.ledger.following import follow_log
from comity.ledger.models import LedgerCheckpoint, LedgerTimestamp
from comity.ledger.schedule import LedgerSchedule, checkpoint_if_grown
from comity.node import Node, local_operator
from comity.settings import Settings
from factories import append_events
from ledger.peers import second_node
from ledger.test_two_nodes import free_port
from ledger.tsa import closed_url, running_authority, with_authority


def latest_size(node: Node) -> int:
    with node.uow() as uow:
        latest = checkpoints.latest(uow.session)
        assert latest is not None
        return latest.size


def scheduled_checkpoints(node: Node) -> list[tuple[str, str, str]]:
    with node.uow() as uow:
        rows = uow.session.execute(
            select(AuditEvent.actor, AuditEvent.via, AuditEvent.target_id).where(
                AuditEvent.action == "ledger.checkpoint"
            )
        )
        return [(actor, via, target) for actor, via, target in rows]


def test_a_checkpoint_is_signed_only_when_the_ledger_grew(node: Node) -> None:
    assert checkpoint_if_grown(node) is None  # the genesis checkpoint covers the log
    append_events(node, 3)
    assert checkpoint_if_grown(node) == 4
    assert latest_size(node) == 4
    assert checkpoint_if_grown(node) is None
    assert scheduled_checkpoints(node) == [("system:checkpoint", "system", "4")]


@pytest.fixture
def timed(settings: Settings) -> Iterator[Node]:
    """The test node's database opened again with short timers, as 'comity serve' would."""
    fast = settings.model_copy(
        update={"checkpoint_interval_seconds": 0.05, "witness_interval_seconds": 0.05}
    )
    opened = Node.open(fast)
    yield opened
    opened.close()


async def _run_for(schedule: LedgerSchedule, seconds: float) -> None:
    task = asyncio.create_task(schedule.run())
    await asyncio.sleep(seconds)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def run_for(schedule: LedgerSchedule, seconds: float) -> None:
    """Run ``schedule`` for ``seconds`` in an event loop of its own thread, as the server
    would: the test's own thread may already run a loop (Playwright's, in the browser
    tests' worker)."""
    failures: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(_run_for(schedule, seconds))
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            failures.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=seconds + 60)
    assert not thread.is_alive()
    if failures:
        raise failures[0]


def checkpointing(node: Node) -> Node:
    """The same node with the checkpoint duty every 50 ms and no witnessing."""
    return dataclasses.replace(
        node,
        settings=node.settings.model_copy(
            update={"checkpoint_interval_seconds": 0.05, "witness_interval_seconds": 0}
        ),
    )


def test_a_failing_duty_is_logged_and_the_others_go_on(
    node: Node,
    timed: Node,
    new_database: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A log this node follows, at an address where nothing answers.
    home = timed.settings.home.parent / "other"
    other, _ = second_node(home, new_database("other"), "Other Network")
    with other.uow() as uow:
        vkey = checkpoints.verifier(uow.session, other.keys).vkey
    other.close()
    with timed.uow() as uow:
        follow_log(uow, local_operator(), vkey=vkey, url=f"http://127.0.0.1:{free_port()}/")
    append_events(node, 2)

    with caplog.at_level(logging.INFO, logger="comity.ledger.schedule"):
        run_for(LedgerSchedule(timed), 1.0)

    assert latest_size(node) == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings
    assert all(message.startswith("Witnessing comity/") for message in warnings)
    assert "Signed a checkpoint of the ledger at size 3." in caplog.messages


def test_timers_at_zero_mean_no_schedule(settings: Settings) -> None:
    off = settings.model_copy(
        update={"checkpoint_interval_seconds": 0, "witness_interval_seconds": 0}
    )
    opened = Node.open(off)
    try:
        assert not LedgerSchedule(opened).active
    finally:
        opened.close()


def test_the_checkpoint_duty_time_stamps_when_an_authority_is_set(
    node: Node, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    append_events(node, 2)
    with running_authority(tmp_path / "tsa") as authority:
        stamped = checkpointing(with_authority(node, authority.url, authority.ca_file))
        with caplog.at_level(logging.INFO, logger="comity.ledger.schedule"):
            run_for(LedgerSchedule(stamped), 0.5)
    with node.uow() as uow:
        sizes = set(
            uow.session.scalars(
                select(LedgerCheckpoint.size).join(
                    LedgerTimestamp, LedgerTimestamp.checkpoint_id == LedgerCheckpoint.id
                )
            )
        )
    assert sizes == {1, 3}  # the genesis checkpoint and the scheduled one
    assert any(message.startswith("Time-stamped 2 checkpoint(s) by") for message in caplog.messages)


def test_a_down_authority_is_a_warning_and_the_checkpoint_stands(
    node: Node, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    append_events(node, 1)
    with running_authority(tmp_path / "tsa") as authority:
        ca_file = authority.ca_file
    down = checkpointing(with_authority(node, closed_url(), ca_file))
    with caplog.at_level(logging.INFO, logger="comity.ledger.schedule"):
        run_for(LedgerSchedule(down), 0.3)
    assert latest_size(node) == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings
    assert all(message.startswith("Time-stamping by http://127.0.0.1:") for message in warnings)
