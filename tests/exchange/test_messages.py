"""Messages between real nodes in one process: sent both ways and to a group, each
delivery answered by signed receipts that the sender verifies and keeps; retries with
back-off while a peer is down, a missing receipt that turns into a final failure, and a
retrieval receipt that reaches the sender. Receipts are ledger events on both sides."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from comity.audit.models import AuditEvent
from comity.db import utcnow
from comity.errors import Conflict, NotFound, ValidationError
from comity.exchange import peers
from comity.exchange.delivery import NO_RECEIPT, backoff
from comity.exchange.message_models import (
    DeliveryState,
    ExchangeDelivery,
    ExchangeReceipt,
    InboxState,
    ReceiptDirection,
)
from comity.exchange.outbox import resend_message
from comity.exchange.reading import read_message
from comity.exchange.receipts import ReceiptKind, envelope_digest, parse_receipt
from comity.exchange.schedule import run_deliveries
from exchange.network import OPERATOR, Network, counts, inbox, ledger_kinds, network


@pytest.fixture
def pair(tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[Network]:
    yield from network(tmp_path, new_database, 2)


@pytest.fixture
def trio(tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[Network]:
    yield from network(tmp_path, new_database, 3)


def deliveries(net: Network, name: str, message_id: str) -> dict[str, ExchangeDelivery]:
    with net[name].node.uow() as uow:
        rows = uow.session.scalars(
            select(ExchangeDelivery).where(ExchangeDelivery.message_id == message_id)
        ).all()
        return {row.recipient: row for row in rows}


def receipts(net: Network, name: str, message_id: str) -> list[ExchangeReceipt]:
    with net[name].node.uow() as uow:
        return list(
            uow.session.scalars(
                select(ExchangeReceipt)
                .where(ExchangeReceipt.message_id == message_id)
                .order_by(ExchangeReceipt.id)
            )
        )


def test_messages_go_both_ways_with_verified_receipts_on_both_ledgers(pair: Network) -> None:
    varesh, helgar = pair["varesh"], pair["helgar"]
    sent = pair.send("varesh", ["helgar"], b"Three witnesses need counsel.")
    assert [d.state for d in sent.deliveries] == [DeliveryState.QUEUED]

    done = pair.deliver("varesh")
    assert [(a.recipient, a.state, a.error) for a in done.attempts] == [
        (helgar.id, DeliveryState.DELIVERED, "")
    ]
    [received] = inbox(helgar.node)
    assert (received.message_id, received.sender, received.state) == (
        sent.message.message_id,
        varesh.id,
        InboxState.DELIVERED,
    )
    assert received.envelope == sent.message.envelope  # kept as it came, still encrypted

    kept = receipts(pair, "varesh", sent.message.message_id)
    assert [(r.kind, r.direction) for r in kept] == [
        (ReceiptKind.ACCEPTANCE, ReceiptDirection.RECEIVED),
        (ReceiptKind.DELIVERY, ReceiptDirection.RECEIVED),
    ]
    for row in kept:
        receipt = parse_receipt(row.document).receipt
        assert receipt.envelope_sha256 == envelope_digest(sent.message.envelope)
        assert (receipt.sender, receipt.receiver) == (varesh.id, helgar.id)
    issued = receipts(pair, "helgar", sent.message.message_id)
    assert [r.document for r in issued] == [r.document for r in kept]
    assert ledger_kinds(varesh.node)[-3:] == [
        "exchange.message.send",
        "exchange.receipt.receive",
        "exchange.receipt.receive",
    ]
    assert ledger_kinds(helgar.node)[-2:] == ["exchange.receipt.issue"] * 2

    reply = pair.send(
        "helgar", [], b"We can take two of them.", conversation_id=sent.message.conversation_id
    )
    assert reply.message.sequence == 1  # Helgar's first message in the conversation
    assert pair.deliver("helgar").attempts[0].state == DeliveryState.DELIVERED
    [answer] = inbox(varesh.node)
    assert (answer.conversation_id, answer.sender) == (sent.message.conversation_id, helgar.id)
    assert read_message(varesh.node, OPERATOR, answer.message_id).message.body == (
        b"We can take two of them."
    )


def test_a_retrieval_receipt_reaches_the_sender(pair: Network) -> None:
    sent = pair.send("varesh", ["helgar"])
    pair.deliver("varesh")
    helgar = pair["helgar"]

    opened = read_message(helgar.node, OPERATOR, sent.message.message_id)
    assert opened.message.body == b"Please find the referral attached."
    assert (opened.first_reading, opened.receipt_sent) == (True, True)
    again = read_message(helgar.node, OPERATOR, sent.message.message_id)
    assert (again.first_reading, again.receipt_sent) == (False, False)
    assert deliveries(pair, "varesh", sent.message.message_id)[helgar.id].state == (
        DeliveryState.DELIVERED
    )

    round_ = pair.deliver("helgar")  # the receipt travels as a message of its own
    assert [a.state for a in round_.attempts] == [DeliveryState.DELIVERED]
    delivery = deliveries(pair, "varesh", sent.message.message_id)[helgar.id]
    assert delivery.state == DeliveryState.RETRIEVED
    assert delivery.retrieved_at is not None
    kinds = [r.kind for r in receipts(pair, "varesh", sent.message.message_id)]
    assert kinds == [ReceiptKind.ACCEPTANCE, ReceiptKind.DELIVERY, ReceiptKind.RETRIEVAL]
    [carrier] = [
        row for row in inbox(pair["varesh"].node) if row.message_type.startswith("receipt.")
    ]
    assert carrier.retrieved_by == "system"
    assert pair.deliver("helgar").attempts == ()  # nothing more to send: no receipt of receipts


def test_a_group_message_is_one_envelope_delivered_to_each(trio: Network) -> None:
    sent = trio.send("varesh", ["helgar", "ostrel"], b"To both services.")
    assert len({d.recipient for d in sent.deliveries}) == 2
    done = trio.deliver("varesh")
    assert sorted(a.state for a in done.attempts) == [DeliveryState.DELIVERED] * 2
    for name in ("helgar", "ostrel"):
        [row] = inbox(trio[name].node)
        assert row.envelope == sent.message.envelope
        assert read_message(trio[name].node, OPERATOR, row.message_id).message.body == (
            b"To both services."
        )
    states = {r: d.state for r, d in deliveries(trio, "varesh", sent.message.message_id).items()}
    assert states == {trio["helgar"].id: "delivered", trio["ostrel"].id: "delivered"}

    # A reply goes to every other participant, and the conversation keeps its members.
    with pytest.raises(ValidationError, match="every message in it goes to all of them"):
        trio.send("helgar", ["varesh"], conversation_id=sent.message.conversation_id)
    reply = trio.send("helgar", [], conversation_id=sent.message.conversation_id)
    assert sorted(d.recipient for d in reply.deliveries) == sorted(
        [trio["varesh"].id, trio["ostrel"].id]
    )


def test_an_unreachable_receiver_is_retried_with_back_off_then_reached(pair: Network) -> None:
    start = utcnow()
    sent = pair.send("varesh", ["helgar"], now=start)
    pair.down.add("helgar")

    first = pair.deliver("varesh", now=start)
    [attempt] = first.attempts
    assert attempt.state == DeliveryState.QUEUED
    assert "Cannot reach https://helgar.example" in attempt.error
    delivery = deliveries(pair, "varesh", sent.message.message_id)[pair["helgar"].id]
    assert delivery.attempts == 1
    assert delivery.next_attempt_at == start + backoff(1, 1.0)
    assert pair.deliver("varesh", now=start + dt.timedelta(seconds=10)).attempts == ()
    second = pair.deliver("varesh", now=start + dt.timedelta(seconds=31))
    assert second.attempts[0].state == DeliveryState.QUEUED
    delivery = deliveries(pair, "varesh", sent.message.message_id)[pair["helgar"].id]
    assert delivery.next_attempt_at == start + dt.timedelta(seconds=31) + backoff(2, 1.0)
    assert inbox(pair["helgar"].node) == []

    pair.down.clear()
    later = start + dt.timedelta(minutes=2)
    assert pair.deliver("varesh", now=later).attempts[0].state == DeliveryState.DELIVERED
    delivery = deliveries(pair, "varesh", sent.message.message_id)[pair["helgar"].id]
    assert (delivery.attempts, delivery.last_error, delivery.next_attempt_at) == (3, "", None)


def test_back_off_doubles_up_to_an_hour_with_jitter() -> None:
    assert [backoff(n, 1.0).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(30, 1.0) == dt.timedelta(hours=1)
    assert backoff(1, 0.0) == dt.timedelta(seconds=15)


def test_no_receipt_in_time_is_a_final_failure_and_a_new_message_fills_the_gap(
    pair: Network,
) -> None:
    start = utcnow()
    helgar = pair["helgar"]
    sent = pair.send("varesh", ["helgar"], b"first", now=start)
    pair.down.add("helgar")
    pair.deliver("varesh", now=start)
    second = pair.send(
        "varesh", [], b"second", conversation_id=sent.message.conversation_id, now=start
    )

    timeout = start + dt.timedelta(hours=48, seconds=1)
    round_ = pair.deliver("varesh", now=timeout)
    assert {(e.message_id, e.failure) for e in round_.ended} == {
        (sent.message.message_id, NO_RECEIPT),
        (second.message.message_id, NO_RECEIPT),
    }
    delivery = deliveries(pair, "varesh", sent.message.message_id)[helgar.id]
    assert delivery.state == DeliveryState.FAILED
    assert delivery.last_error.startswith(f"No acceptance receipt from {helgar.id} by ")
    assert ledger_kinds(pair["varesh"].node)[-2:] == ["exchange.delivery.fail"] * 2

    pair.down.clear()  # final: the failed deliveries are never tried again
    assert pair.deliver("varesh", now=timeout + dt.timedelta(hours=1)).attempts == ()
    with pytest.raises(NotFound, match="sent no message"):
        resend_message(pair["varesh"].node, OPERATOR, sent.message.message_id, "no-such-node")

    # Sent anew, the second message first: it is held until the first comes again.
    again_second = resend_message(
        pair["varesh"].node, OPERATOR, second.message.message_id, helgar.id
    )
    assert pair.deliver("varesh").attempts[0].state == DeliveryState.ACCEPTED
    assert [row.state for row in inbox(helgar.node)] == [InboxState.HELD]
    again_first = resend_message(pair["varesh"].node, OPERATOR, sent.message.message_id, helgar.id)
    assert again_first.message.sequence == 1
    assert again_first.message.resent_from == sent.message.message_id
    [attempt] = pair.deliver("varesh").attempts
    assert attempt.state == DeliveryState.DELIVERED
    assert [row.state for row in inbox(helgar.node)] == [InboxState.DELIVERED] * 2
    with pytest.raises(Conflict, match="only a failed delivery"):
        resend_message(pair["varesh"].node, OPERATOR, again_first.message.message_id, helgar.id)
    # The first's answer carried the released second's delivery receipt too.
    assert deliveries(pair, "varesh", again_second.message.message_id)[helgar.id].state == (
        DeliveryState.DELIVERED
    )
    with pytest.raises(Conflict, match="already sent anew"):
        resend_message(pair["varesh"].node, OPERATOR, sent.message.message_id, helgar.id)
    assert deliveries(pair, "varesh", sent.message.message_id)[helgar.id].state == "failed"


def test_a_signed_rejection_is_final(pair: Network, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = pair.send("varesh", ["helgar"])
    ahead = utcnow() + dt.timedelta(days=8)  # Helgar's clock: the envelope has expired
    monkeypatch.setattr("comity.exchange.inbox.utcnow", lambda: ahead)
    [attempt] = pair.deliver("varesh").attempts
    assert attempt.state == DeliveryState.FAILED
    delivery = deliveries(pair, "varesh", sent.message.message_id)[pair["helgar"].id]
    assert (delivery.failure, delivery.next_attempt_at) == ("expired", None)
    [rejection] = receipts(pair, "varesh", sent.message.message_id)
    assert rejection.kind == ReceiptKind.REJECTION
    assert parse_receipt(rejection.document).receipt.reason == "expired"
    assert inbox(pair["helgar"].node) == []


def test_an_unsigned_refusal_is_retried_until_the_peer_confirms_us(pair: Network) -> None:
    helgar = pair["helgar"]
    with helgar.node.uow() as uow:
        peers.suspend_peer(uow, OPERATOR, pair["varesh"].id)
    sent = pair.send("varesh", ["helgar"])
    [attempt] = pair.deliver("varesh").attempts
    assert attempt.state == DeliveryState.QUEUED
    assert "sender_not_confirmed" in attempt.error
    assert receipts(pair, "varesh", sent.message.message_id) == []

    with helgar.node.uow() as uow:
        peers.resume_peer(uow, OPERATOR, pair["varesh"].id)
    later = utcnow() + dt.timedelta(minutes=1)
    assert pair.deliver("varesh", now=later).attempts[0].state == DeliveryState.DELIVERED


def test_an_envelope_larger_than_the_request_limit_is_taken(pair: Network) -> None:
    body = b"x" * (3 * 1024 * 1024)  # the node's usual limit is 1 MiB
    sent = pair.send("varesh", ["helgar"], body)
    assert pair.deliver("varesh").attempts[0].state == DeliveryState.DELIVERED
    message = read_message(pair["helgar"].node, OPERATOR, sent.message.message_id).message
    assert message.body == body
    answer = pair["helgar"].client.post("/api/v1/ledger/cosignatures", content=b"{" * 2_000_000)
    assert answer.status_code == 413


def test_sending_refuses_bad_input_and_changes_nothing(pair: Network) -> None:
    before = counts(pair["varesh"].node)
    with pytest.raises(ValidationError, match="kept for the receipts"):
        pair.send("varesh", ["helgar"], message_type="receipt.delivery")
    with pytest.raises(ValidationError, match="not a dotted token"):
        pair.send("varesh", ["helgar"], message_type="Bad Type")
    with pytest.raises(ValidationError, match="to itself"):
        pair.send("varesh", ["varesh"])
    assert counts(pair["varesh"].node) == before


def test_the_server_delivers_on_its_timer_as_the_node_itself(pair: Network) -> None:
    varesh = pair["varesh"]
    timed = dataclasses.replace(
        varesh.node,
        settings=varesh.node.settings.model_copy(
            update={"exchange_delivery_interval_seconds": 0.05}
        ),
    )
    sent = pair.send("varesh", ["helgar"])

    async def serve_a_while() -> None:
        task = asyncio.create_task(run_deliveries(timed, pair.transport))
        for _ in range(200):
            await asyncio.sleep(0.05)
            if inbox(pair["helgar"].node):
                break
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # In a loop of its own thread, as the server runs it: the test's thread may already
    # run a loop (Playwright's, when the browser tests ran first in this process).
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, serve_a_while()).result(timeout=60)
    assert [row.message_id for row in inbox(pair["helgar"].node)] == [sent.message.message_id]
    with varesh.node.uow() as uow:
        actors = set(
            uow.session.scalars(
                select(AuditEvent.actor).where(AuditEvent.action == "messages.receipt.receive")
            )
        )
    assert actors == {"system:delivery"}
