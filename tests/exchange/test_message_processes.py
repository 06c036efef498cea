"""Messages between real nodes, each its own ``comity serve`` process with its own home,
keys and database, on loopback ports (:mod:`exchange.processes`); the nodes are confirmed
peers of each other, as their administrators make them with descriptors and
fingerprints.

* Two nodes write to each other and the servers' own delivery timers carry every message
  and receipt, the retrieval receipt included; the operators see it with the command line.
* Three nodes: a group message is one envelope delivered to both recipients, and a reply
  reaches both other participants; ``comity messages deliver`` runs the rounds.
* The receiving node is killed with SIGKILL while a round posts to it, and started again:
  every message arrives exactly once, in order in its conversation, and the sender holds
  one acceptance and one delivery receipt for each.
"""

from __future__ import annotations

import datetime as dt
import random
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from comity.db import utcnow
from comity.exchange.delivery import deliver_due
from comity.exchange.message_models import (
    DeliveryState,
    ExchangeDelivery,
    ExchangeOutboxMessage,
    ExchangeReceipt,
    InboxState,
    ReceiptDirection,
)
from comity.exchange.outbox import send_message
from comity.exchange.receipts import ReceiptKind, envelope_digest, parse_receipt
from comity.exchange.transport import HttpEnvelopeTransport, PostAnswer
from comity.node import Node
from exchange.network import OPERATOR, inbox
from exchange.payloading import ledger_count
from exchange.processes import Served, befriend_all, eventually, new_node, start_all

NAMES = {
    "varesh": "Varesh Monitoring Network",
    "helgar": "Helgar Legal Aid Collective",
    "ostrel": "Ostrel Prosecution Service",
}
TIMER = {"COMITY_EXCHANGE_DELIVERY_INTERVAL_SECONDS": "0.2"}


def nodes(
    tmp_path: Path, new_database: Callable[[str], str], names: list[str], env: dict[str, str]
) -> dict[str, Served]:
    made = {name: new_node(tmp_path / name, new_database(name), NAMES[name], env) for name in names}
    befriend_all(list(made.values()))
    return made


@pytest.fixture
def pair(tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[dict[str, Served]]:
    """Varesh and Helgar, served, each delivering on its own timer."""
    made = nodes(tmp_path, new_database, ["varesh", "helgar"], TIMER)
    start_all(list(made.values()))
    yield made
    for each in made.values():
        each.kill()


@pytest.fixture
def trio(tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[dict[str, Served]]:
    """Varesh, Helgar and Ostrel, served, delivering only when their operators say so."""
    made = nodes(tmp_path, new_database, ["varesh", "helgar", "ostrel"], {})
    start_all(list(made.values()))
    yield made
    for each in made.values():
        each.kill()


def send(node: Node, to: list[Served], body: bytes, conversation: str | None = None) -> str:
    sent = send_message(
        node,
        OPERATOR,
        to=[each.node_id for each in to],
        message_type="referral.request",
        body=body,
        conversation_id=conversation,
    )
    return sent.message.message_id


def deliveries(node: Node) -> list[ExchangeDelivery]:
    with node.uow() as uow:
        return list(uow.session.scalars(select(ExchangeDelivery).order_by(ExchangeDelivery.id)))


def receipts(node: Node, direction: ReceiptDirection) -> list[ExchangeReceipt]:
    with node.uow() as uow:
        return list(
            uow.session.scalars(
                select(ExchangeReceipt)
                .where(ExchangeReceipt.direction == direction)
                .order_by(ExchangeReceipt.id)
            )
        )


def all_in(node: Node, state: DeliveryState) -> bool:
    states = {delivery.state for delivery in deliveries(node)}
    return states == {state}


def test_two_served_nodes_write_to_each_other_and_their_timers_carry_the_receipts(
    pair: dict[str, Served],
) -> None:
    varesh, helgar = pair["varesh"], pair["helgar"]
    first = varesh.json(
        "messages", "send", "--to", helgar.node_id, "--type", "referral.request",
        "--body", "Three witnesses from the Ostrel valley need counsel.",
    )  # fmt: skip
    conversation = first["conversation_id"]
    with varesh.opened() as at_varesh, helgar.opened() as at_helgar:
        second = send(at_varesh, [], b"Their statements follow.", conversation)
        replies = [
            send(at_helgar, [], b"We can take two of them.", conversation),
            send(at_helgar, [], b"The third needs a lawyer who speaks Ostreli.", conversation),
        ]
        eventually(
            lambda: (
                all_in(at_varesh, DeliveryState.DELIVERED)
                and all_in(at_helgar, DeliveryState.DELIVERED)
            ),
            "every delivery both ways",
        )

        # The sender holds the receiver's acceptance and delivery receipts, each about
        # the exact envelope sent, and they are the documents the receiver issued.
        for sender, receiver in ((at_varesh, at_helgar), (at_helgar, at_varesh)):
            kept = receipts(sender, ReceiptDirection.RECEIVED)
            assert sorted(r.kind for r in kept) == sorted(
                [ReceiptKind.ACCEPTANCE, ReceiptKind.DELIVERY] * 2
            )
            issued = receipts(receiver, ReceiptDirection.ISSUED)
            assert {r.document for r in kept} == {r.document for r in issued}
            with sender.uow() as uow:
                for row in kept:
                    receipt = parse_receipt(row.document).receipt
                    assert row.message_id == receipt.message_id
                    sent = uow.session.get_one(ExchangeOutboxMessage, receipt.message_id)
                    assert receipt.envelope_sha256 == envelope_digest(sent.envelope)

        delivered = InboxState.DELIVERED
        assert [(r.message_id, r.sender, r.sequence, r.state) for r in inbox(at_helgar)] == [
            (first["message_id"], varesh.node_id, 1, delivered),
            (second, varesh.node_id, 2, delivered),
        ]
        assert [(r.message_id, r.sender, r.sequence, r.state) for r in inbox(at_varesh)] == [
            (replies[0], helgar.node_id, 1, delivered),
            (replies[1], helgar.node_id, 2, delivered),
        ]

    outbox = varesh.json("messages", "outbox")
    assert sorted((e["message_id"], e["recipient"], e["state"]) for e in outbox) == sorted(
        [(first["message_id"], helgar.node_id, "delivered"), (second, helgar.node_id, "delivered")]
    )
    assert all(e["accepted_at"] and e["delivered_at"] and e["attempts"] >= 1 for e in outbox)

    # Reading it at Helgar sends a retrieval receipt, which Helgar's timer delivers.
    opened = helgar.json("messages", "read", first["message_id"])
    assert opened["body"] == "Three witnesses from the Ostrel valley need counsel."
    with varesh.opened() as at_varesh:
        eventually(
            lambda: deliveries(at_varesh)[0].state == DeliveryState.RETRIEVED,
            "the retrieval receipt's arrival",
        )


def test_a_group_message_reaches_two_served_nodes_and_a_reply_reaches_both_others(
    trio: dict[str, Served],
) -> None:
    varesh, helgar, ostrel = trio["varesh"], trio["helgar"], trio["ostrel"]
    with varesh.opened() as at_varesh:
        group = send(at_varesh, [helgar, ostrel], b"To both services: a referral.")
    done = varesh.json("messages", "deliver")
    assert sorted((a["recipient"], a["state"], a["error"]) for a in done["attempts"]) == sorted(
        [(helgar.node_id, "delivered", ""), (ostrel.node_id, "delivered", "")]
    )
    with ostrel.opened() as at_ostrel:
        [received] = inbox(at_ostrel)
        reply = send(at_ostrel, [], b"Ostrel will take it.", received.conversation_id)
    done = ostrel.json("messages", "deliver")
    assert sorted((a["recipient"], a["state"]) for a in done["attempts"]) == sorted(
        [(varesh.node_id, "delivered"), (helgar.node_id, "delivered")]
    )

    with varesh.opened() as at_varesh, helgar.opened() as at_helgar:
        sealed = envelope_of(at_varesh, group)
        assert [(r.message_id, r.envelope) for r in inbox(at_helgar)] == [
            (group, sealed),  # one envelope, with a stanza for each recipient
            (reply, received_envelope(at_varesh, reply)),
        ]
        assert [(r.message_id, r.sender) for r in inbox(at_varesh)] == [(reply, ostrel.node_id)]
        assert received.envelope == sealed
        kept = receipts(at_varesh, ReceiptDirection.RECEIVED)
        assert sorted((r.receiver, r.kind) for r in kept) == sorted(
            (peer.node_id, kind)
            for peer in (helgar, ostrel)
            for kind in (ReceiptKind.ACCEPTANCE, ReceiptKind.DELIVERY)
        )


def envelope_of(node: Node, message_id: str) -> bytes:
    with node.uow() as uow:
        return uow.session.get_one(ExchangeOutboxMessage, message_id).envelope


def received_envelope(node: Node, message_id: str) -> bytes:
    [row] = [row for row in inbox(node) if row.message_id == message_id]
    return row.envelope


class KillingTransport(HttpEnvelopeTransport):
    """The real transport, which SIGKILLs ``victim`` a few milliseconds after its post
    number ``at`` leaves: while the receiver checks, stores or answers it."""

    def __init__(self, victim: Served, at: int) -> None:
        super().__init__()
        self.victim, self.at, self.posts = victim, at, 0
        self.killer = threading.Timer(0.003, victim.kill)

    def post_envelope(self, url: str, envelope: bytes) -> PostAnswer:
        self.posts += 1
        if self.posts == self.at:
            self.killer.start()
        return super().post_envelope(url, envelope)


def test_a_receiver_killed_while_messages_reach_it_gets_each_once_in_order_after_a_restart(
    tmp_path: Path, new_database: Callable[[str], str]
) -> None:
    """The sender runs its rounds here (over real HTTP to the served receiver) so that it
    can be asked to deliver later than now: after a failed post a delivery waits 15 to
    30 s, which a test should not spend waiting."""
    made = nodes(tmp_path, new_database, ["varesh", "helgar"], {})
    helgar = made["helgar"]
    helgar.start()
    per_conversation, conversations = 12, 2
    try:
        with made["varesh"].opened() as varesh:
            sent: dict[str, list[str]] = {}
            for _ in range(conversations):
                first = send(varesh, [helgar], b"Referral 1")
                conversation = conversation_of(varesh, first)
                sent[conversation] = [first]
            for number in range(2, per_conversation + 1):
                for conversation, ids in sent.items():
                    ids.append(send(varesh, [], f"Referral {number}".encode(), conversation))
            total = per_conversation * conversations

            killing = KillingTransport(helgar, at=9)
            with killing:
                first_round = deliver_due(varesh, OPERATOR, killing)
            killing.killer.join()
            assert helgar.process is not None
            assert helgar.process.returncode == -signal.SIGKILL
            states = [attempt.state for attempt in first_round.attempts]
            assert len(states) == total
            assert states[:8] == [DeliveryState.DELIVERED] * 8  # before the kill
            # The 9th post, or the 10th on a fast machine, was in flight; then none got in.
            assert all("Cannot reach" in a.error for a in first_round.attempts[10:])

            helgar.start()
            # Seeded: the retries come back in a shuffled order, the same at every run.
            jitter = random.Random(9).random  # noqa: S311 - not for cryptography
            later = utcnow()
            with HttpEnvelopeTransport() as transport:
                for _ in range(6):
                    later += dt.timedelta(hours=2)  # past any back-off
                    deliver_due(varesh, OPERATOR, transport, now=later, jitter=jitter)
                    if all_in(varesh, DeliveryState.DELIVERED):
                        break
            assert all_in(varesh, DeliveryState.DELIVERED)
            kept = receipts(varesh, ReceiptDirection.RECEIVED)
            assert sorted((r.message_id, r.kind) for r in kept) == sorted(
                (message_id, kind)
                for ids in sent.values()
                for message_id in ids
                for kind in (ReceiptKind.ACCEPTANCE, ReceiptKind.DELIVERY)
            )
            assert ledger_count(varesh, "exchange.receipt.receive") == 2 * total

        with helgar.opened() as at_helgar:
            rows = inbox(at_helgar)
            assert sorted(row.message_id for row in rows) == sorted(
                message_id for ids in sent.values() for message_id in ids
            )  # each once: none lost, none twice
            for conversation, ids in sent.items():
                ordered = sorted(
                    (row for row in rows if row.conversation_id == conversation),
                    key=lambda row: row.sequence,
                )
                assert [row.message_id for row in ordered] == ids
                assert [row.sequence for row in ordered] == list(range(1, per_conversation + 1))
                assert {row.state for row in ordered} == {InboxState.DELIVERED}
                times = [row.delivered_at for row in ordered]
                assert times == sorted(times)  # released in the conversation's order
            issued = receipts(at_helgar, ReceiptDirection.ISSUED)
            assert len(issued) == 2 * total
            assert ledger_count(at_helgar, "exchange.receipt.issue") == 2 * total
    finally:
        helgar.kill()


def conversation_of(node: Node, message_id: str) -> str:
    with node.uow() as uow:
        return uow.session.get_one(ExchangeOutboxMessage, message_id).conversation_id
