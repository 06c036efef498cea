"""``comity messages …`` between real nodes in one process: what each command prints and
records, the receipts coming back, and refusals as one line that change nothing. Posts
between the nodes go to the other node's real app (``exchange/network.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from cli.test_cli import Run, as_json, cli_env, flat, invoke, ok, refused
from comity.db import utcnow
from comity.exchange.message_models import ExchangeDelivery
from exchange.network import Member, Network, counts, network


@pytest.fixture
def pair(
    tmp_path: Path, new_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Network]:
    for made in network(tmp_path, new_database, 2):
        monkeypatch.setattr("comity.cli.messages_queues.HttpEnvelopeTransport", made.transport)
        yield made


def runner(member: Member) -> Run:
    env = cli_env(member.node.settings) | {"COMITY_PUBLIC_URL": f"https://{member.host}"}
    return lambda *args: invoke(env, *args)


def test_a_message_is_sent_delivered_read_and_acknowledged(pair: Network, tmp_path: Path) -> None:
    varesh, helgar = runner(pair["varesh"]), runner(pair["helgar"])
    helgar_id = pair["helgar"].id
    note = tmp_path / "note.txt"
    note.write_text("Two witnesses need counsel in Helgar.\n")

    sent = as_json(
        varesh(
            "messages", "send", "--to", helgar_id, "--type", "referral.request",
            "--body-file", str(note), "--json",
        )
    )  # fmt: skip
    message_id = sent["message_id"]
    assert sent["recipients"] == [helgar_id]
    [queued] = as_json(varesh("messages", "outbox", "--json"))
    assert (queued["state"], queued["attempts"]) == ("queued", 0)

    summary = flat(ok(varesh("messages", "deliver")).stdout)
    assert "1 delivery tried, 1 accepted; 0 failed for good" in summary
    [peer] = as_json(varesh("messages", "peers", "--json"))
    assert (peer["node"], peer["reachable"], peer["delivered"]) == (helgar_id, True, 1)

    [received] = as_json(helgar("messages", "inbox", "--json"))
    assert (received["message_id"], received["state"], received["retrieved_at"]) == (
        message_id,
        "delivered",
        None,
    )
    assert "Two witnesses" not in ok(helgar("messages", "show", message_id)).stdout
    assert ok(helgar("messages", "read", message_id)).stdout == note.read_text()
    out = tmp_path / "copy.txt"
    assert (
        "Wrote the message's 38 bytes"
        in ok(helgar("messages", "read", message_id, "--out", str(out))).stdout
    )
    assert out.read_bytes() == note.read_bytes()

    ok(helgar("messages", "deliver"))  # the retrieval receipt goes back
    shown = as_json(varesh("messages", "show", message_id, "--json"))
    assert [d["state"] for d in shown["deliveries"]] == ["retrieved"]
    assert [(r["kind"], r["direction"]) for r in shown["receipts"]] == [
        ("acceptance", "received"),
        ("delivery", "received"),
        ("retrieval", "received"),
    ]
    text = flat(ok(varesh("messages", "show", message_id)).stdout)
    assert f"To {helgar_id} retrieved, 1 attempt" in text
    assert as_json(helgar("messages", "inbox", "--json"))[0]["retrieved_at"] is not None
    assert len(as_json(varesh("messages", "inbox", "--receipts", "--json"))) == 1
    assert as_json(varesh("messages", "inbox", "--json")) == []


def test_a_failed_delivery_is_a_dead_letter_until_sent_anew(pair: Network) -> None:
    varesh = runner(pair["varesh"])
    helgar_id = pair["helgar"].id
    sent = as_json(
        varesh("messages", "send", "--to", helgar_id, "--type", "note.test", "--body", "Hi",
               "--json")
    )  # fmt: skip
    pair.down.add("helgar")
    tried = as_json(varesh("messages", "deliver", "--json"))
    assert "Cannot reach https://helgar.example" in tried["attempts"][0]["error"]
    assert as_json(varesh("messages", "peers", "--json"))[0]["reachable"] is False
    assert "No failed deliveries." in ok(varesh("messages", "dead")).stdout
    refused(varesh("messages", "retry", sent["message_id"]), 2, "failed for 0 recipients")

    with pair["varesh"].node.uow() as uow:  # the receipt timeout passes
        uow.session.execute(update(ExchangeDelivery).values(deadline=utcnow()))
        uow.commit()
    result = varesh("messages", "deliver")
    assert "failed for good: no_receipt" in flat(result.stderr)
    [dead] = as_json(varesh("messages", "dead", "--json"))
    assert (dead["message_id"], dead["failure"]) == (sent["message_id"], "no_receipt")

    pair.down.clear()
    again = as_json(varesh("messages", "retry", sent["message_id"], "--json"))
    assert again["resent_from"] == sent["message_id"]
    assert as_json(varesh("messages", "dead", "--json")) == []
    ok(varesh("messages", "deliver"))
    assert [row["state"] for row in as_json(varesh("messages", "outbox", "--json"))] == [
        "delivered",
        "failed",
    ]


def test_refusals_are_one_line_and_change_nothing(pair: Network, tmp_path: Path) -> None:
    varesh = runner(pair["varesh"])
    before = counts(pair["varesh"].node)
    refused(varesh("messages", "send", "--type", "note.test", "--body", "x"), 2, "recipient")
    refused(
        varesh("messages", "send", "--to", "nobody", "--type", "note.test", "--body", "x"),
        1,
        "not a peer",
    )
    refused(
        varesh("messages", "send", "--to", pair["helgar"].id, "--type", "note.test"),
        2,
        "--body TEXT or --body-file FILE",
    )
    refused(
        varesh("messages", "send", "--to", pair["helgar"].id, "--type", "note.test",
               "--body-file", str(tmp_path / "missing.txt")),
        2,
        "is not a file",
    )  # fmt: skip
    refused(varesh("messages", "read", "nothing-here"), 1, "received no message")
    refused(varesh("messages", "show", "nothing-here"), 1, "sent or received no message")
    assert counts(pair["varesh"].node) == before
