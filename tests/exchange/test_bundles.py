"""The offline route between two real nodes: messages exported to a bundle file, imported
on the other node, and the receipts carried back in a reply bundle, with the same checks,
receipts and records as over HTTP. A bundle imported twice changes nothing; a bundle
tampered with, cut short, unsigned, for another node or from a stranger is refused whole;
the routes can be mixed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from cli.test_cli import cli_env, invoke
from comity.db import utcnow
from comity.errors import Conflict, NotFound, PermissionDenied
from comity.exchange import peers
from comity.exchange.bundle_format import (
    BundleInvalid,
    BundleKind,
    make_bundle,
    parse_answer,
    parse_bundle,
)
from comity.exchange.bundles import Exported, Imported, export_bundle, import_bundle
from comity.exchange.inbox import ReceiveOutcome
from comity.exchange.message_models import DeliveryState, ExchangeDelivery, ExchangeReceipt
from comity.identity.permissions import Actor
from exchange.network import OPERATOR, Network, counts, envelope_of, inbox, ledger_kinds, network

RECORDS = {"audit_events", "ledger_entries", "ledger_nodes"}
"""The tables of the audit trail and the ledger (``ledger_nodes`` grows now and then)."""


def only_recorded(before: dict[str, int], after: dict[str, int]) -> bool:
    """Whether only the audit trail and the ledger grew between two counts."""
    changed = {name for name in before if before[name] != after[name]}
    return changed <= RECORDS and {"audit_events", "ledger_entries"} <= changed


@pytest.fixture
def pair(tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[Network]:
    yield from network(tmp_path, new_database, 2)


def export(net: Network, name: str, to: str, path: Path) -> Exported:
    return export_bundle(net[name].node, OPERATOR, net[to].id, save=path.write_bytes)


def carry(net: Network, name: str, path: Path) -> Imported:
    return import_bundle(net[name].node, OPERATOR, path.read_bytes())


def states(net: Network, name: str) -> dict[str, str]:
    with net[name].node.uow() as uow:
        rows = uow.session.scalars(select(ExchangeDelivery)).all()
        return {row.message_id: row.state for row in rows}


def documents(net: Network, name: str) -> list[bytes]:
    with net[name].node.uow() as uow:
        return list(
            uow.session.scalars(select(ExchangeReceipt.document).order_by(ExchangeReceipt.id))
        )


def test_messages_cross_on_a_file_and_their_receipts_come_back(
    pair: Network, tmp_path: Path
) -> None:
    varesh, helgar = pair["varesh"], pair["helgar"]
    first = pair.send("varesh", ["helgar"], b"Three witnesses need counsel.")
    second = pair.send(
        "varesh", [], b"The case file.", conversation_id=first.message.conversation_id
    )
    ids = (first.message.message_id, second.message.message_id)
    before = counts(varesh.node)

    exported = export(pair, "varesh", "helgar", tmp_path / "to-helgar.bundle")
    assert (exported.message_ids, exported.left) == (ids, 0)
    assert states(pair, "varesh") == dict.fromkeys(ids, DeliveryState.QUEUED)
    assert only_recorded(before, counts(varesh.node))  # the export, recorded; nothing else
    assert ledger_kinds(varesh.node)[-1] == "exchange.bundle.export"

    answered = carry(pair, "helgar", tmp_path / "to-helgar.bundle")
    assert (answered.first, answered.kind) == (True, BundleKind.ENVELOPES)
    assert [(r.message_id, r.outcome) for r in answered.received] == [
        (message_id, ReceiveOutcome.ACCEPTED) for message_id in ids
    ]
    assert [row.message_id for row in inbox(helgar.node)] == list(ids)
    assert (
        ledger_kinds(helgar.node)[-5:]
        == ["exchange.bundle.import"] + ["exchange.receipt.issue"] * 4
    )
    (tmp_path / "reply.bundle").write_bytes(answered.reply)

    back = carry(pair, "varesh", tmp_path / "reply.bundle")
    assert (back.kind, back.unmatched) == (BundleKind.ANSWERS, ())
    assert [(a.message_id, a.state, a.error) for a in back.attempts] == [
        (message_id, DeliveryState.DELIVERED, "") for message_id in ids
    ]
    assert documents(pair, "varesh") == documents(pair, "helgar")  # the very receipts
    assert (
        ledger_kinds(varesh.node)[-5:]
        == ["exchange.bundle.import"] + ["exchange.receipt.receive"] * 4
    )
    assert pair.deliver("varesh").attempts == ()  # nothing left to post
    assert pair.posts == []


def test_a_bundle_imported_twice_changes_nothing_the_second_time(
    pair: Network, tmp_path: Path
) -> None:
    pair.send("varesh", ["helgar"])
    export(pair, "varesh", "helgar", tmp_path / "out.bundle")
    reply = carry(pair, "helgar", tmp_path / "out.bundle").reply
    helgar_then = counts(pair["helgar"].node)

    again = carry(pair, "helgar", tmp_path / "out.bundle")  # the reply was lost, say
    assert not again.first
    assert [r.outcome for r in again.received] == [ReceiveOutcome.DUPLICATE]
    assert counts(pair["helgar"].node) == helgar_then
    [first_answer], [second_answer] = (
        [parse_answer(item) for item in parse_bundle(data).items] for data in (reply, again.reply)
    )
    assert (first_answer.status, second_answer.status) == (201, 200)
    assert first_answer.body["receipts"] == second_answer.body["receipts"]  # the same ones

    (tmp_path / "reply.bundle").write_bytes(reply)
    carry(pair, "varesh", tmp_path / "reply.bundle")
    varesh_then = counts(pair["varesh"].node)
    assert not carry(pair, "varesh", tmp_path / "reply.bundle").first
    assert counts(pair["varesh"].node) == varesh_then
    # The second reply is another bundle: its import is recorded, and changes nothing else.
    assert import_bundle(pair["varesh"].node, OPERATOR, again.reply).first
    assert only_recorded(varesh_then, counts(pair["varesh"].node))


def _refused(net: Network, name: str, data: bytes, match: str) -> None:
    before = counts(net[name].node)
    with pytest.raises(BundleInvalid, match=match):
        import_bundle(net[name].node, OPERATOR, data)
    assert counts(net[name].node) == before


def test_a_bad_bundle_is_refused_whole_and_changes_nothing(pair: Network, tmp_path: Path) -> None:
    varesh, helgar = pair["varesh"], pair["helgar"]
    sent = pair.send("varesh", ["helgar"])
    good = export(pair, "varesh", "helgar", tmp_path / "out.bundle").data
    envelope = envelope_of(varesh.node, sent.message.message_id)

    _refused(pair, "helgar", good[:-1], "cut short")
    _refused(pair, "helgar", good + b"\n", "longer than its manifest")
    _refused(pair, "helgar", good[:-10] + bytes([good[-10] ^ 1]) + good[-9:], "Item 1")
    year = good.index(b'"created":"') + len(b'"created":"') + 3  # the year's last digit
    later = good[:year] + bytes([good[year] ^ 1]) + good[year + 1 :]
    _refused(pair, "helgar", later, "does not verify .*: it was altered")
    _refused(pair, "varesh", good, "is for .*, not for this node")  # its own bundle

    def bundle(key: Ed25519PrivateKey, *, sender: str, recipient: str) -> bytes:
        return make_bundle(
            key,
            BundleKind.ENVELOPES,
            sender=sender,
            recipient=recipient,
            created=utcnow(),
            items=[envelope],
        )

    stranger = Ed25519PrivateKey.generate()
    _refused(pair, "helgar", bundle(stranger, sender=varesh.id, recipient=helgar.id), "not a key")
    _refused(
        pair,
        "helgar",
        bundle(stranger, sender="ostrel.example", recipient=helgar.id),
        "unknown here",
    )
    signer = varesh.node.keys.signing_key()
    _refused(
        pair,
        "helgar",
        bundle(signer, sender=varesh.id, recipient="ostrel.example"),
        "is for ostrel.example",
    )
    _refused(pair, "helgar", b"", "not a bundle")
    assert inbox(helgar.node) == []


def test_each_envelope_of_a_mixed_bundle_is_answered_on_its_own(
    pair: Network, tmp_path: Path
) -> None:
    varesh, helgar = pair["varesh"], pair["helgar"]
    good = pair.send("varesh", ["helgar"], b"On time.")
    other = pair.send("varesh", ["helgar"], b"Altered on the way.")
    altered = bytearray(envelope_of(varesh.node, other.message.message_id))
    at = altered.index(b'"ciphertext":"') + 40
    altered[at] = ord("A") if altered[at] != ord("A") else ord("B")
    garbage = b"not an envelope at all"
    data = make_bundle(
        varesh.node.keys.signing_key(),
        BundleKind.ENVELOPES,
        sender=varesh.id,
        recipient=helgar.id,
        created=utcnow(),
        items=[envelope_of(varesh.node, good.message.message_id), bytes(altered), garbage],
    )

    answered = import_bundle(helgar.node, OPERATOR, data)
    assert [(r.outcome, r.reason) for r in answered.received] == [
        (ReceiveOutcome.ACCEPTED, ""),
        (ReceiveOutcome.REJECTED, "bad_signature"),
        (ReceiveOutcome.REJECTED, "malformed"),
    ]
    assert [len(r.receipts) for r in answered.received] == [2, 0, 0]  # unsigned refusals
    back = import_bundle(varesh.node, OPERATOR, answered.reply)
    assert [(a.message_id, a.state) for a in back.attempts] == [
        (good.message.message_id, DeliveryState.DELIVERED)
    ]
    assert len(back.unmatched) == 2  # not the envelopes this node sent
    assert states(pair, "varesh")[other.message.message_id] == DeliveryState.QUEUED

    # Carried too slowly: the envelope expired on the way, and a signed rejection ends it.
    export(pair, "varesh", "helgar", tmp_path / "slow.bundle")
    later = utcnow() + dt.timedelta(days=8)
    slow = import_bundle(helgar.node, OPERATOR, (tmp_path / "slow.bundle").read_bytes(), now=later)
    assert [(r.outcome, r.reason) for r in slow.received] == [(ReceiveOutcome.REJECTED, "expired")]
    [attempt] = import_bundle(varesh.node, OPERATOR, slow.reply).attempts
    assert (attempt.message_id, attempt.state) == (other.message.message_id, DeliveryState.FAILED)
    with varesh.node.uow() as uow:
        failed = uow.session.get_one(ExchangeDelivery, other.deliveries[0].id)
        assert (failed.failure, failed.next_attempt_at) == ("expired", None)


def test_the_routes_mix_whichever_answers_first_wins(pair: Network, tmp_path: Path) -> None:
    varesh = pair["varesh"]
    sent = pair.send("varesh", ["helgar"])
    export(pair, "varesh", "helgar", tmp_path / "out.bundle")
    assert [a.state for a in pair.deliver("varesh").attempts] == [DeliveryState.DELIVERED]
    helgar_then, varesh_then = counts(pair["helgar"].node), counts(varesh.node)

    late = carry(pair, "helgar", tmp_path / "out.bundle")  # the stick arrives afterwards
    assert [r.outcome for r in late.received] == [ReceiveOutcome.DUPLICATE]
    imported = import_bundle(varesh.node, OPERATOR, late.reply)
    assert [a.state for a in imported.attempts] == [DeliveryState.DELIVERED]
    assert only_recorded(varesh_then, counts(varesh.node))  # the two bundles' records
    assert counts(pair["helgar"].node)["exchange_inbox"] == helgar_then["exchange_inbox"]

    second = pair.send("varesh", [], conversation_id=sent.message.conversation_id)
    export(pair, "varesh", "helgar", tmp_path / "second.bundle")
    reply = carry(pair, "helgar", tmp_path / "second.bundle").reply
    import_bundle(varesh.node, OPERATOR, reply)
    assert states(pair, "varesh")[second.message.message_id] == DeliveryState.DELIVERED
    assert pair.deliver("varesh").attempts == ()  # the bundle answered first


def test_export_needs_a_confirmed_peer_something_waiting_and_the_permission(
    pair: Network, tmp_path: Path
) -> None:
    varesh, helgar = pair["varesh"], pair["helgar"]
    with pytest.raises(Conflict, match="No message waits"):
        export(pair, "varesh", "helgar", tmp_path / "empty.bundle")
    with pytest.raises(NotFound, match="not a peer"):
        export_bundle(varesh.node, OPERATOR, "ostrel.example", save=print)
    pair.send("varesh", ["helgar"])
    with pytest.raises(PermissionDenied):
        export_bundle(varesh.node, Actor(label="nobody", via="cli"), helgar.id, save=print)
    with varesh.node.uow() as uow:
        peers.suspend_peer(uow, OPERATOR, helgar.id, reason="audit")
    with pytest.raises(Conflict, match="suspended"):
        export(pair, "varesh", "helgar", tmp_path / "suspended.bundle")
    assert not any(tmp_path.glob("*.bundle"))


def test_the_commands_carry_messages_and_answers_both_ways(pair: Network, tmp_path: Path) -> None:
    sent = pair.send("varesh", ["helgar"])

    def run(name: str, *args: str) -> dict[str, Any]:
        result = invoke(cli_env(pair[name].node.settings), "messages", *args, "--json")
        assert result.exit_code == 0, result.output
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer

    out = tmp_path / "helgar.bundle"
    exported = run("varesh", "export", "--to", pair["helgar"].id, "--out", str(out))
    assert exported["message_ids"] == [sent.message.message_id]
    again = invoke(
        cli_env(pair["varesh"].node.settings),
        "messages", "export", "--to", pair["helgar"].id, "--out", str(out),
    )  # fmt: skip
    assert again.exit_code != 0
    assert "exists already" in again.stderr
    imported = run("helgar", "import", str(out))
    assert imported["answers"][0]["outcome"] == "accepted"
    assert imported["reply"] == f"{out}.reply"
    answered = run("varesh", "import", f"{out}.reply")
    assert [a["state"] for a in answered["answers"]] == [DeliveryState.DELIVERED]
