"""The ledger's duties on a timer while ``comity serve`` runs.

Two duties, each at its own interval (``COMITY_CHECKPOINT_INTERVAL_SECONDS``,
``COMITY_WITNESS_INTERVAL_SECONDS``; 0 turns one off):

- **checkpoint**: if the node time-stamps evidence (``COMITY_VAULT_TIMESTAMPS``),
  time-stamp the evidence items that have no token yet (their ledger events then go
  into this checkpoint); sign a checkpoint when the ledger has grown since the latest
  one, so that witnesses and proof files never lag far behind the log; then, if an
  RFC 3161 authority is configured, time-stamp the checkpoints that have no token yet;
- **witness**: one witnessing round of every log this node follows (what
  ``comity ledger witness-run`` does by hand).

The first run of each duty is one interval after the server starts. Each run happens in
a worker thread (database and network calls block), in its own units of work, as the
node itself (:func:`~comity.identity.permissions.system_actor`) holding only the ledger
permissions (and ``evidence:read`` to find the items to time-stamp), and is audited
like the same action from the command line. A run that fails is logged and tried again
at the next interval: it never stops the server or the other duty. Witnessing never
holds a database transaction open while a peer answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from comity.errors import ComityError
from comity.identity.permissions import Actor, Permission, system_actor
from comity.ledger import checkpoints, store, witnessing
from comity.ledger.timestamping import timestamp_pending
from comity.ledger.transport import HttpTransport
from comity.node import Node
from comity.vault.timestamps import timestamp_pending_items

log = logging.getLogger(__name__)

LEDGER_DUTY = frozenset({Permission.LEDGER_READ, Permission.LEDGER_MANAGE})
ITEM_STAMPING_DUTY = LEDGER_DUTY | {Permission.EVIDENCE_READ}


def duty_actor(duty: str) -> Actor:
    return system_actor(duty, LEDGER_DUTY)


def checkpoint_if_grown(node: Node) -> int | None:
    """Sign a checkpoint if the ledger grew since the latest one; its size, else ``None``."""
    with node.uow() as uow:
        latest = checkpoints.latest(uow.session)
        if latest is not None and latest.size == store.size(uow.session):
            return None
        return checkpoints.make_checkpoint(uow, node.keys, duty_actor("checkpoint")).size


def _stamp_items(node: Node) -> None:
    try:
        run = timestamp_pending_items(node, system_actor("checkpoint", ITEM_STAMPING_DUTY))
    except ComityError as exc:  # the roots file went missing: the checkpoint still goes on
        log.warning("Time-stamping evidence is not possible: %s", exc.message)
        return
    if run.stamped:
        log.info("Time-stamped %d evidence item(s) by %s.", len(run.stamped), run.authority)
    if run.failure is not None:
        log.warning(
            "Time-stamping evidence by %s failed: %s", run.authority, run.failure.error.message
        )


def _checkpoint_duty(node: Node) -> None:
    if node.settings.vault_timestamps:
        _stamp_items(node)
    size = checkpoint_if_grown(node)
    if size is not None:
        log.info("Signed a checkpoint of the ledger at size %d.", size)
    if node.settings.tsa_url:
        run = timestamp_pending(node, duty_actor("checkpoint"))
        if run.stamped:
            log.info("Time-stamped %d checkpoint(s) by %s.", len(run.stamped), run.authority)
        if run.failure is not None:
            log.warning("Time-stamping by %s failed: %s", run.authority, run.failure.error.message)


def _witness_duty(node: Node) -> None:
    with HttpTransport() as transport:
        outcomes = witnessing.witness_logs(node, duty_actor("witness"), transport)
    for origin, outcome in outcomes:
        if isinstance(outcome, ComityError):
            log.warning("Witnessing %s failed: %s", origin, outcome.message)


@dataclass
class _Duty:
    name: str
    every: float
    run: Callable[[Node], None]
    due: float = 0.0


class LedgerSchedule:
    """Runs the duties of ``node`` at their intervals until cancelled (see the module)."""

    def __init__(self, node: Node) -> None:
        settings = node.settings
        self._node = node
        self._duties = [
            _Duty("checkpoint", settings.checkpoint_interval_seconds, _checkpoint_duty),
            _Duty("witness", settings.witness_interval_seconds, _witness_duty),
        ]
        self._duties = [duty for duty in self._duties if duty.every > 0]

    @property
    def active(self) -> bool:
        return bool(self._duties)

    async def run(self) -> None:
        start = time.monotonic()
        for duty in self._duties:
            duty.due = start + duty.every
        while self._duties:
            now = time.monotonic()
            await asyncio.sleep(max(0.0, min(duty.due for duty in self._duties) - now))
            for duty in self._duties:
                if duty.due <= time.monotonic():
                    await self._run(duty)
                    duty.due = time.monotonic() + duty.every

    async def _run(self, duty: _Duty) -> None:
        try:
            await asyncio.to_thread(duty.run, self._node)
        except Exception:  # a failed run is retried at the next interval
            log.exception("The scheduled ledger duty '%s' failed.", duty.name)
