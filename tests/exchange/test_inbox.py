"""The receiving side: envelopes posted to a real node's app or service are refused with
their reason and change nothing (a tampered, unsigned, misaddressed, expired or replayed
one, or one from a revoked peer), a repeat is answered with the same receipts, and
messages that arrive in any order are delivered in sequence order, each once."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from comity.audit.models import AuditEvent
from comity.db import utcnow
from comity.errors import Conflict
from comity.exchange import peers
from comity.exchange.envelope import seal
from comity.exchange.inbox import ReceiveOutcome, receive_envelope
from comity.exchange.inbox_order import release_stale_holds
from comity.exchange.message_models import ExchangeReceipt, InboxState
from comity.exchange.reading import read_message
from comity.exchange.receipts import ReceiptKind, parse_receipt, verify_receipt
from comity.exchange.transport import ENVELOPES_PATH
from comity.exchange.trust import recipient_keys, sender_keys
from exchange.network import OPERATOR, Member, Network, counts, inbox, ledger_kinds, network


@pytest.fixture
def pair(tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[Network]:
    yield from network(tmp_path, new_database, 2)


@pytest.fixture
def trio(tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[Network]:
    yield from network(tmp_path, new_database, 3)


def sealed(
    sender: Member,
    receiver: Member,
    *,
    conversation_id: str | None = None,
    sequence: int = 1,
    message_id: str | None = None,
    body: bytes = b"A statement for the file.",
    elsewhere: bool = False,
) -> bytes:
    """An envelope from ``sender`` to ``receiver`` (or, ``elsewhere``, to another node)."""
    now = utcnow()
    with sender.node.uow() as uow:
        keys = recipient_keys(uow.session, [receiver.id], now=now)
    if elsewhere:
        keys = {"org.example.elsewhere": X25519PrivateKey.generate().public_key()}
    return seal(
        sender=sender.id,
        signing_key=sender.node.keys.signing_key(),
        recipients=keys,
        conversation_id=conversation_id or str(uuid.uuid4()),
        sequence=sequence,
        message_type="statement.share",
        body=body,
        sent_at=now,
        expires_at=now + dt.timedelta(days=1),
        message_id=message_id,
    )


def tampered(data: bytes) -> bytes:
    document = json.loads(data)
    ciphertext = bytearray(base64.b64decode(document["ciphertext"]))
    ciphertext[len(ciphertext) // 2] ^= 1
    document["ciphertext"] = base64.b64encode(bytes(ciphertext)).decode()
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def unsigned(data: bytes) -> bytes:
    document = json.loads(data)
    document["signature"] = ""
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def post(member: Member, data: bytes) -> tuple[int, dict[str, object]]:
    answer = member.client.post(
        ENVELOPES_PATH, content=data, headers={"content-type": "application/json"}
    )
    return answer.status_code, answer.json()


def test_an_accepted_envelope_and_its_repeat_get_the_same_receipts(pair: Network) -> None:
    varesh, helgar = pair["varesh"], pair["helgar"]
    data = sealed(varesh, helgar)
    status, first = post(helgar, data)
    assert (status, first["outcome"]) == (201, "accepted")
    documents = first["receipts"]
    assert isinstance(documents, list)
    kinds = [parse_receipt(doc.encode()).receipt.kind for doc in documents]
    assert kinds == [ReceiptKind.ACCEPTANCE, ReceiptKind.DELIVERY]
    with varesh.node.uow() as uow:
        keys = sender_keys(uow.session)(helgar.id).keys
    for doc in documents:
        verify_receipt(parse_receipt(doc.encode()), keys)

    before = counts(helgar.node)
    status, again = post(helgar, data)
    assert (status, again["outcome"], again["receipts"]) == (200, "duplicate", documents)
    assert counts(helgar.node) == before
    assert len(inbox(helgar.node)) == 1


@pytest.mark.parametrize(
    ("case", "reason", "signed"),
    [
        ("tampered", "bad_signature", False),
        ("unsigned", "unsigned", False),
        ("misaddressed", "misaddressed", True),
        ("revoked", "revoked_sender", False),
        ("unknown", "unknown_sender", False),
        ("garbage", "malformed", False),
    ],
)
def test_a_refused_envelope_changes_nothing_but_the_audit_trail(
    pair: Network, case: str, reason: str, signed: bool
) -> None:
    varesh, helgar = pair["varesh"], pair["helgar"]
    data = {
        "tampered": lambda: tampered(sealed(varesh, helgar)),
        "unsigned": lambda: unsigned(sealed(varesh, helgar)),
        "misaddressed": lambda: sealed(varesh, helgar, elsewhere=True),
        "revoked": lambda: sealed(varesh, helgar),
        "unknown": lambda: unknown_sender_envelope(varesh, helgar),
        "garbage": lambda: b'{"header": "not an envelope"}',
    }[case]()
    if case == "revoked":
        with helgar.node.uow() as uow:
            peers.revoke_peer(uow, OPERATOR, varesh.id, reason="key reported stolen")
    before = counts(helgar.node)
    ledger = ledger_kinds(helgar.node)

    status, answer = post(helgar, data)

    assert status == 422
    assert (answer["outcome"], answer["fields"]) == ("rejected", {"reason": reason})
    documents = answer["receipts"]
    assert isinstance(documents, list)
    if signed:
        [document] = documents
        rejection = parse_receipt(document.encode()).receipt
        assert (rejection.kind, rejection.reason) == (ReceiptKind.REJECTION, reason)
        assert rejection.receiver == helgar.id
    else:
        assert documents == []
    after = counts(helgar.node)
    assert {name: after[name] - before[name] for name in after if after[name] != before[name]} == {
        "audit_events": 1
    }
    assert ledger_kinds(helgar.node) == ledger
    with helgar.node.uow() as uow:
        event = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None
    assert (event.action, event.outcome, event.detail["reason"]) == (
        "messages.receive",
        "failure",
        reason,
    )


def unknown_sender_envelope(varesh: Member, helgar: Member) -> bytes:
    """An envelope that names a sender Helgar has never heard of, signed by Varesh's key."""
    data = json.loads(sealed(varesh, helgar))
    data["header"]["sender"] = "org.example.stranger"
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def test_expired_and_replayed_envelopes_are_refused_with_a_signed_rejection(
    pair: Network,
) -> None:
    varesh, helgar = pair["varesh"], pair["helgar"]
    conversation = str(uuid.uuid4())
    first = sealed(varesh, helgar, conversation_id=conversation)
    assert receive_envelope(helgar.node, first).outcome is ReceiveOutcome.ACCEPTED
    message_id = json.loads(first)["header"]["message_id"]
    before = counts(helgar.node)

    cases = {
        "message_id_reused": sealed(
            varesh, helgar, conversation_id=conversation, message_id=message_id, body=b"other"
        ),
        "sequence_passed": sealed(varesh, helgar, conversation_id=conversation, sequence=1),
        "expired": sealed(varesh, helgar, conversation_id=conversation, sequence=2),
    }
    for reason, data in cases.items():
        later = utcnow() + dt.timedelta(days=2) if reason == "expired" else None
        received = receive_envelope(helgar.node, data, now=later)
        assert (received.outcome, received.reason) == (ReceiveOutcome.REJECTED, reason)
        [document] = received.receipts
        assert parse_receipt(document).receipt.reason == reason
    after = counts(helgar.node)
    assert {n: after[n] - before[n] for n in after if after[n] != before[n]} == {"audit_events": 3}


def test_a_peer_outside_a_conversation_cannot_write_into_it(trio: Network) -> None:
    varesh, helgar, ostrel = trio["varesh"], trio["helgar"], trio["ostrel"]
    sent = trio.send("varesh", ["helgar"])
    trio.deliver("varesh")
    intruding = sealed(ostrel, helgar, conversation_id=sent.message.conversation_id)
    received = receive_envelope(helgar.node, intruding)
    assert (received.outcome, received.reason) == (ReceiveOutcome.REJECTED, "not_a_participant")
    assert [row.sender for row in inbox(helgar.node)] == [varesh.id]


def test_a_held_message_is_not_read_and_is_released_when_its_gap_cannot_fill(
    pair: Network,
) -> None:
    varesh, helgar = pair["varesh"], pair["helgar"]
    conversation = str(uuid.uuid4())
    third = sealed(varesh, helgar, conversation_id=conversation, sequence=3)
    received = receive_envelope(helgar.node, third)
    assert [parse_receipt(r).receipt.kind for r in received.receipts] == ["acceptance"]
    [held] = inbox(helgar.node)
    assert held.state == InboxState.HELD
    with pytest.raises(Conflict, match="held until the messages before it arrive"):
        read_message(helgar.node, OPERATOR, held.message_id)

    assert release_stale_holds(helgar.node, OPERATOR, now=utcnow()) == 0
    month = utcnow() + dt.timedelta(days=31)
    assert release_stale_holds(helgar.node, OPERATOR, now=month) == 1
    [released] = inbox(helgar.node)
    assert released.state == InboxState.DELIVERED
    assert ledger_kinds(helgar.node)[-2:] == ["exchange.conversation.gap", "exchange.receipt.issue"]
    late = sealed(varesh, helgar, conversation_id=conversation, sequence=1)
    assert receive_envelope(helgar.node, late).reason == "sequence_passed"


@settings(
    max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(order=st.permutations(range(4)), data=st.data())
def test_any_arrival_order_delivers_in_sequence_order_exactly_once(
    pair: Network, order: list[int], data: st.DataObject
) -> None:
    varesh, helgar = pair["varesh"], pair["helgar"]
    conversation = str(uuid.uuid4())
    envelopes = [
        sealed(varesh, helgar, conversation_id=conversation, sequence=n + 1) for n in range(4)
    ]
    ids = [json.loads(e)["header"]["message_id"] for e in envelopes]
    arrivals = list(order)
    for repeat in data.draw(st.lists(st.integers(0, 3), max_size=3), label="repeats"):
        first = arrivals.index(repeat)
        arrivals.insert(data.draw(st.integers(first + 1, len(arrivals)), label="at"), repeat)

    delivered: list[str] = []
    for index in arrivals:
        received = receive_envelope(helgar.node, envelopes[index])
        assert received.outcome in {ReceiveOutcome.ACCEPTED, ReceiveOutcome.DUPLICATE}
        if received.outcome is ReceiveOutcome.ACCEPTED:
            for raw in received.receipts:
                receipt = parse_receipt(raw).receipt
                if receipt.kind is ReceiptKind.DELIVERY:
                    delivered.append(receipt.message_id)
    assert delivered == ids
    with helgar.node.uow() as uow:
        issued = uow.session.scalars(
            select(ExchangeReceipt.message_id)
            .where(ExchangeReceipt.message_id.in_(ids), ExchangeReceipt.kind == "delivery")
            .order_by(ExchangeReceipt.id)
        ).all()
    assert list(issued) == ids
    states = {row.message_id: row.state for row in inbox(helgar.node) if row.message_id in ids}
    assert states == dict.fromkeys(ids, InboxState.DELIVERED)
