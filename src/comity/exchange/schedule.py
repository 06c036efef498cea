"""Message delivery on a timer while ``comity serve`` runs (started by the web app's
lifespan): every ``COMITY_EXCHANGE_DELIVERY_INTERVAL_SECONDS`` (0 turns it off), one
delivery round (:func:`~comity.exchange.delivery.deliver_due`, what
``comity messages deliver`` does by hand), in a worker thread, as the node itself
(:func:`~comity.identity.permissions.system_actor`) holding only ``messages:manage``.
A round that fails is logged and the next one comes at the next interval; it never
stops the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from comity.exchange.delivery import DeliveryRound, deliver_due
from comity.exchange.transport import HttpEnvelopeTransport
from comity.identity.permissions import Actor, Permission, system_actor
from comity.node import Node

log = logging.getLogger(__name__)


def delivery_actor() -> Actor:
    return system_actor("delivery", {Permission.MESSAGES_MANAGE})


def delivery_round(
    node: Node, transport: Callable[[], HttpEnvelopeTransport] = HttpEnvelopeTransport
) -> DeliveryRound:
    """One round as the node itself; what failed for good and what is tried again is
    logged."""
    with transport() as made:
        done = deliver_due(node, delivery_actor(), made)
    for ended in done.ended:
        log.warning(
            "Delivery of message %s to %s failed for good: %s.",
            ended.message_id,
            ended.recipient,
            ended.failure,
        )
    for attempt in done.attempts:
        if attempt.error:
            log.info(
                "Delivery of message %s to %s will be tried again: %s",
                attempt.message_id,
                attempt.recipient,
                attempt.error,
            )
    return done


async def run_deliveries(
    node: Node, transport: Callable[[], HttpEnvelopeTransport] = HttpEnvelopeTransport
) -> None:
    """Deliver at the configured interval until cancelled (see the module)."""
    every = node.settings.exchange_delivery_interval_seconds
    while every > 0:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(delivery_round, node, transport)
        except Exception:  # a failed round is retried at the next interval
            log.exception("The scheduled delivery of messages failed.")
