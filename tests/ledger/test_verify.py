"""``verify`` re-derives the ledger and names exactly what was tampered with."""

from __future__ import annotations

import json

import pytest

from comity.identity.permissions import Role, cli_actor
from comity.ledger import checkpoints, services
from comity.ledger.events import record_event
from comity.ledger.models import node_key
from comity.ledger.verify import VerifyReport
from comity.node import Node
from factories import actor_for, make_user
from ledger.tampering import tamper

OPERATOR = cli_actor("tester")


def fill(node: Node, count: int, *, checkpoint: bool = True) -> None:
    with node.uow() as uow:
        for number in range(count):
            record_event(uow.session, OPERATOR, "test.event", data={"n": number})
        if checkpoint:
            checkpoints.ensure_checkpoint(uow.session, node.keys)
        uow.commit()


def verify(node: Node) -> VerifyReport:
    with node.uow() as uow:
        return services.verify(uow, OPERATOR, node.keys)


def test_a_healthy_ledger_verifies(node: Node) -> None:
    fill(node, 40)
    fill(node, 9)
    report = verify(node)
    assert report.ok, report.problems
    assert report.size == 50  # with the genesis entry
    assert report.checkpoints == 3  # genesis, 41, 50
    assert report.latest_checkpoint_size == 50


def test_changed_entry_is_named(node: Node) -> None:
    fill(node, 20)
    tamper(
        node,
        "ledger_entries",
        "UPDATE ledger_entries SET entry = :e WHERE idx = 7",
        {"e": json.dumps({"forged": True}).encode()},
    )
    report = verify(node)
    assert not report.ok
    assert any(p.where == "entry 7" and "content" in p.what for p in report.problems)
    assert any(p.where == "checkpoint at size 21" for p in report.problems)


def test_changed_entry_with_matching_leaf_hash_is_still_caught(node: Node) -> None:
    from comity.ledger.merkle import leaf_hash

    fill(node, 20)
    forged = json.dumps({"forged": True}).encode()
    tamper(
        node,
        "ledger_entries",
        "UPDATE ledger_entries SET entry = :e, leaf_hash = :h WHERE idx = 3",
        {"e": forged, "h": leaf_hash(forged)},
    )
    report = verify(node)
    wheres = {p.where for p in report.problems}
    assert "checkpoint at size 21" in wheres
    assert any(w.startswith("node level") for w in wheres)


def test_changed_node_is_named(node: Node) -> None:
    fill(node, 16)
    tamper(
        node,
        "ledger_nodes",
        "UPDATE ledger_nodes SET hash = :h WHERE key = :k",
        {"h": b"\x01" * 32, "k": node_key(2, 1)},
    )
    report = verify(node)
    assert [str(p) for p in report.problems] == [
        "node level 2 index 1: hash differs from the entries'"
    ]


def test_changed_lookup_key_is_named(node: Node) -> None:
    fill(node, 8)
    tamper(
        node, "ledger_entries", "UPDATE ledger_entries SET leaf_key = leaf_key + 1 WHERE idx = 5"
    )
    report = verify(node)
    assert [str(p) for p in report.problems] == [
        "entry 5: its lookup key does not match its leaf hash"
    ]


def test_missing_node_is_reported(node: Node) -> None:
    fill(node, 16)
    tamper(node, "ledger_nodes", "DELETE FROM ledger_nodes WHERE key = :k", {"k": node_key(1, 0)})
    report = verify(node)
    assert any("inner nodes are missing" in p.what for p in report.problems)


def test_deleted_last_entry_is_caught_by_the_checkpoint(node: Node) -> None:
    fill(node, 10)
    tamper(node, "ledger_entries", "DELETE FROM ledger_entries WHERE idx = 10")
    report = verify(node)
    assert any(
        p.where == "checkpoint at size 11" and "entries were removed" in p.what
        for p in report.problems
    )


def test_deleted_middle_entry_is_named(node: Node) -> None:
    fill(node, 10)
    tamper(node, "ledger_entries", "DELETE FROM ledger_entries WHERE idx = 4")
    report = verify(node)
    assert report.problems[0].where == "entry 4"
    assert "missing" in report.problems[0].what


def test_forged_checkpoint_signature_is_named(node: Node) -> None:
    fill(node, 5)
    with node.uow() as uow:
        latest = checkpoints.latest(uow.session)
        assert latest is not None
        note = latest.note
    root_line = note.split("\n")[2]
    flipped = ("B" if root_line[0] == "A" else "A") + root_line[1:]
    forged = note.replace(root_line, flipped, 1)
    tamper(
        node,
        "ledger_checkpoints",
        "UPDATE ledger_checkpoints SET note = :n WHERE size = 6",
        {"n": forged},
    )
    report = verify(node)
    assert [p.where for p in report.problems] == ["checkpoint at size 6"]
    assert "signature" in report.problems[0].what


def test_verifying_needs_ledger_read(node: Node) -> None:
    from comity.errors import PermissionDenied

    caseworker = make_user(node, Role.CASEWORKER)
    with node.uow() as uow, pytest.raises(PermissionDenied):
        services.verify(uow, actor_for(caseworker), node.keys)
