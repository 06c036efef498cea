"""The ledger's tree in the database: appends, roots and proofs against an in-memory
tree, salts and commitments, and one gap-free order under concurrent writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError

from comity.errors import NotFound
from comity.identity.permissions import cli_actor
from comity.ledger import merkle, proofs, services, store
from comity.ledger.errors import EntryError
from comity.ledger.events import commitment, record_event
from comity.ledger.models import LedgerEntry, LedgerNode, LedgerSalt, node_key
from comity.node import Node

ACTOR = cli_actor("tester")


def entries(count: int, tag: str = "e") -> list[store.NewEntry]:
    return [
        store.NewEntry(entry=json.dumps({"n": i, "t": tag}).encode(), kind="test.entry")
        for i in range(count)
    ]


def test_batches_match_a_tree_built_in_memory(node: Node) -> None:
    memory = merkle.MemoryTree()
    with node.uow() as uow:
        base = store.size(uow.session)
        memory.extend(
            merkle.leaf_hash(row.entry)
            for row in uow.session.scalars(select(LedgerEntry).order_by(LedgerEntry.idx))
        )
    for batch in (1, 2, 5, 64, 200, 1, 33):
        new = entries(batch, tag=f"b{batch}-{memory.size}")
        with node.uow() as uow:
            first = store.append(uow.session, new)
            uow.commit()
        assert first == memory.size
        memory.extend(merkle.leaf_hash(item.entry) for item in new)
    with node.uow() as uow:
        session = uow.session
        size = store.size(session)
        assert size == memory.size == base + 306
        assert store.root_at(session, size) == memory.root()
        for old in (1, 7, 64, 100, size):
            assert store.root_at(session, old) == merkle.root_at(memory, old)
            proof = store.consistency_proof(session, old, size)
            proofs.verify_consistency(old, size, merkle.root_at(memory, old), memory.root(), proof)
        for index in (0, 1, 63, 64, 255, size - 1):
            leaf = session.scalar(select(LedgerEntry.leaf_hash).where(LedgerEntry.idx == index))
            assert leaf is not None
            proof = store.inclusion_proof(session, index, size)
            proofs.verify_inclusion(leaf, index, size, proof, memory.root())
        stored = session.execute(select(LedgerNode.key, LedgerNode.hash)).all()
        assert dict(stored) == {
            node_key(*coord): value for coord, value in memory.nodes.items() if coord[0] > 0
        }


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=6))
def test_any_sequence_of_batches_keeps_proofs_valid(node: Node, sizes: list[int]) -> None:
    with node.uow() as uow:
        start = store.size(uow.session)
        for number, batch in enumerate(sizes):
            store.append(uow.session, entries(batch, tag=f"h{start}-{number}"))
        size = store.size(uow.session)
        root = store.root_at(uow.session, size)
        for index in {start, size - 1, (start + size) // 2}:
            leaf = uow.session.scalar(select(LedgerEntry.leaf_hash).where(LedgerEntry.idx == index))
            assert leaf is not None
            proofs.verify_inclusion(
                leaf, index, size, store.inclusion_proof(uow.session, index, size), root
            )
        old_root = store.root_at(uow.session, start)
        proofs.verify_consistency(
            start, size, old_root, root, store.consistency_proof(uow.session, start, size)
        )
        # Rolled back: the next example starts from the same size.


def test_rolled_back_appends_leave_no_gap(node: Node) -> None:
    with node.uow() as uow:
        before = store.size(uow.session)
        store.append(uow.session, entries(3, "rolled back"))
    with node.uow() as uow:
        assert store.size(uow.session) == before
        assert store.append(uow.session, entries(1, "kept")) == before
        uow.commit()


def test_a_leaf_hash_finds_its_first_entry_even_when_appended_twice(node: Node) -> None:
    twice = store.NewEntry(entry=b'{"same":true}', kind="test.entry")
    with node.uow() as uow:
        first = store.append(uow.session, [twice, *entries(3, "between"), twice])
        uow.commit()
    with node.uow() as uow:
        proof = services.prove_inclusion_of_leaf(uow, ACTOR, merkle.leaf_hash(twice.entry))
        missing = merkle.leaf_hash(b"never appended")
        with pytest.raises(NotFound):
            services.prove_inclusion_of_leaf(uow, ACTOR, missing)
    assert proof.index == first
    proofs.verify_inclusion(
        merkle.leaf_hash(twice.entry), proof.index, proof.tree_size, proof.proof, proof.root
    )


def test_bad_entries_are_refused(node: Node) -> None:
    with node.uow() as uow:
        with pytest.raises(EntryError):
            store.append(uow.session, [])
        with pytest.raises(EntryError):
            store.append(uow.session, [store.NewEntry(entry=b"", kind="x.y")])
        with pytest.raises(EntryError):
            store.append(uow.session, [store.NewEntry(entry=b"x" * 70_000, kind="x.y")])
        with pytest.raises(EntryError):
            record_event(uow.session, ACTOR, "NotAKind")
        with pytest.raises(EntryError):
            record_event(uow.session, ACTOR, "test.bad", digests={"sha256": "NOT HEX"})


def test_events_keep_personal_data_out_of_the_log(node: Node) -> None:
    with node.uow() as uow:
        event = record_event(
            uow.session,
            ACTOR,
            "person.protect",
            subject_type="person",
            subject_id="p-1",
            digests={"sha256": "ab" * 32},
            personal={"name": "Witness W-17 real name"},
            data={"level": 2},
        )
        uow.commit()
    assert b"real name" not in event.entry
    body = json.loads(event.entry)
    assert body["type"] == "person.protect"
    assert body["actor"] == "cli"
    with node.uow() as uow:
        salt = uow.session.scalar(select(LedgerSalt.salt).where(LedgerSalt.idx == event.index))
    assert salt is not None
    assert body["commitments"]["name"] == commitment(salt, "name", "Witness W-17 real name")
    assert body["commitments"]["name"] != commitment(salt, "name", "someone else")


def test_stored_ledger_rows_cannot_be_changed(node: Node) -> None:
    with node.uow() as uow:
        store.append(uow.session, entries(2, "immutable"))
        uow.commit()
    for statement in (
        update(LedgerEntry).values(kind="forged"),
        update(LedgerNode).values(hash=b"\x00" * 32),
    ):
        with node.uow() as uow, pytest.raises(DBAPIError):
            uow.session.execute(statement)


WORKER = """
import json, sys
from comity.ledger import store
from comity.node import Node
from comity.settings import load_settings

url, home, worker, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
node = Node.open(load_settings(home=home, database_url=url, secret_key="x" * 40))
for number in range(rounds):
    batch = [
        store.NewEntry(json.dumps({"n": i, "t": f"w{worker}-r{number}"}).encode(), "test.entry")
        for i in range(3)
    ]
    with node.uow() as uow:
        store.append(uow.session, batch)
        uow.commit()
node.close()
"""


def test_concurrent_processes_get_one_gap_free_order(node: Node) -> None:
    workers, rounds = 4, 15
    with node.uow() as uow:
        before = store.size(uow.session)
    url = node.settings.resolved_database_url
    processes = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", WORKER, url, os.fspath(node.settings.home), str(w), str(rounds)]
        )
        for w in range(workers)
    ]
    for process in processes:
        assert process.wait(timeout=120) == 0
    with node.uow() as uow:
        session = uow.session
        size = store.size(session)
        assert size == before + workers * rounds * 3
        assert session.scalar(select(func.count(LedgerEntry.idx))) == size
        leaves = session.scalars(select(LedgerEntry.leaf_hash).order_by(LedgerEntry.idx)).all()
        memory = merkle.MemoryTree(leaves)
        assert store.root_at(session, size) == memory.root()
        stored = session.execute(select(LedgerNode.key, LedgerNode.hash)).all()
        assert dict(stored) == {node_key(*c): v for c, v in memory.nodes.items() if c[0] > 0}
        # Each worker's batches stayed contiguous: a batch is appended under one lock.
        tags = [
            json.loads(e)["t"]
            for e in session.scalars(
                select(LedgerEntry.entry)
                .where(LedgerEntry.kind == "test.entry")
                .order_by(LedgerEntry.idx)
            )
        ]
        assert all(tags[i] == tags[i + 1] == tags[i + 2] for i in range(0, len(tags), 3))
