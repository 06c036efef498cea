"""Ledger benchmark: append, proof and verify speed against raw baselines in the same run.

Run from the repository root (figures are appended to bench/RESULTS.md):

    python bench/ledger_bench.py                     # the issue's sizes (10 M-entry proofs)
    python bench/ledger_bench.py --proof-size 1000000 --verify-size 200000   # quicker

Baselines, measured in the same run on the same machine:
* tree hashing with bare ``hashlib`` in a tight loop (the CPU limit of building the tree);
* a bulk insert of the same entry and node rows into the same kind of SQLite database
  with the ``sqlite3`` module (the storage limit).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from report import append_results

from comity.identity.permissions import cli_actor
from comity.ledger import checkpoints, merkle, services, store
from comity.ledger.events import record_event
from comity.ledger.models import leaf_key, node_key
from comity.node import Node, initialise
from comity.settings import load_settings

ACTOR = cli_actor("bench")


def entry_bytes(number: int) -> bytes:
    return json.dumps(
        {"v": 1, "type": "bench.event", "time": "2026-11-22T00:00:00.000000Z", "n": number},
        separators=(",", ":"),
    ).encode()


def batches(total: int, size: int, offset: int = 0) -> Iterator[list[store.NewEntry]]:
    for start in range(offset, offset + total, size):
        yield [
            store.NewEntry(entry=entry_bytes(n), kind="bench.event")
            for n in range(start, min(start + size, offset + total))
        ]


def fresh_node(workdir: Path, name: str) -> Node:
    settings = load_settings(home=workdir / name, secret_key="b" * 48)
    node, _ = initialise(settings)
    return node


def bare_hashlib_tree(count: int) -> float:
    """Seconds to hash ``count`` leaves and every inner node with hashlib alone."""
    sha = hashlib.sha256
    leaves = [entry_bytes(n) for n in range(count)]
    started = time.perf_counter()
    level = [sha(b"\x00" + leaf).digest() for leaf in leaves]
    while len(level) > 1:
        level = [
            sha(b"\x01" + level[i] + level[i + 1]).digest() if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
    return time.perf_counter() - started


def raw_sqlite_insert(workdir: Path, count: int, batch: int) -> float:
    """Seconds to bulk-insert the same entry and node rows with sqlite3 (WAL, FULL sync),
    into tables of the same shape as Comity's (rowid keys, one index on the leaf key)."""
    memory = merkle.MemoryTree(merkle.leaf_hash(entry_bytes(n)) for n in range(count))
    nodes = [(node_key(lv, ix), h) for (lv, ix), h in memory.nodes.items() if lv > 0]
    path = workdir / "raw.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE e (idx INTEGER PRIMARY KEY, leaf BLOB, leaf_key INTEGER, entry BLOB, "
        "kind TEXT)"
    )
    db.execute("CREATE INDEX e_leaf_key ON e (leaf_key)")
    db.execute("CREATE TABLE n (key INTEGER PRIMARY KEY, hash BLOB)")
    rows = [
        (n, memory.nodes[(0, n)], leaf_key(memory.nodes[(0, n)]), entry_bytes(n), "bench.event")
        for n in range(count)
    ]
    per_batch_nodes = max(1, len(nodes) * batch // max(count, 1))
    started = time.perf_counter()
    for k, start in enumerate(range(0, count, batch)):
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO e VALUES (?, ?, ?, ?, ?)", rows[start : start + batch])
        db.executemany(
            "INSERT INTO n VALUES (?, ?)", nodes[k * per_batch_nodes : (k + 1) * per_batch_nodes]
        )
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def comity_append(node: Node, count: int, batch: int) -> float:
    prepared = list(batches(count, batch, offset=10_000_000_000))  # as the baseline's rows
    started = time.perf_counter()
    for items in prepared:
        with node.uow() as uow:
            store.append(uow.session, items)
            uow.commit()
    return time.perf_counter() - started


def raw_single_commits(workdir: Path, count: int) -> float:
    """Seconds for ``count`` one-row transactions with sqlite3 (WAL, FULL sync): the fsync
    limit that every durable single-event transaction pays."""
    db = sqlite3.connect(workdir / "single.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE e (idx INTEGER PRIMARY KEY, entry BLOB)")
    started = time.perf_counter()
    for n in range(count):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO e VALUES (?, ?)", (n, entry_bytes(n)))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def service_transactions(node: Node, count: int) -> float:
    started = time.perf_counter()
    for number in range(count):
        with node.uow() as uow:
            record_event(uow.session, ACTOR, "bench.single", data={"n": number})
            uow.commit()
    return time.perf_counter() - started


def grow(node: Node, target: int, batch: int = 20_000) -> None:
    with node.uow() as uow:
        have = store.size(uow.session)
    for items in batches(target - have, batch, offset=have):
        with node.uow() as uow:
            store.append(uow.session, items)
            uow.commit()


def proof_times(node: Node, size: int, samples: int) -> tuple[list[float], list[float]]:
    import random  # noqa: PLC0415

    rng = random.Random(7)  # noqa: S311 - sampling positions, not secrets
    inclusion, consistency = [], []
    for _ in range(samples):
        index = rng.randrange(size)
        old = rng.randrange(1, size)
        with node.uow() as uow:
            started = time.perf_counter()
            store.inclusion_proof(uow.session, index, size)
            inclusion.append(time.perf_counter() - started)
            started = time.perf_counter()
            store.consistency_proof(uow.session, old, size)
            consistency.append(time.perf_counter() - started)
    return inclusion, consistency


def verify_time(node: Node) -> tuple[float, int]:
    with node.uow() as uow:
        started = time.perf_counter()
        report = services.verify(uow, ACTOR, node.keys)
        elapsed = time.perf_counter() - started
    if not report.ok:
        raise SystemExit(f"verify found problems: {report.problems[:3]}")
    return elapsed, report.size


Say = Callable[[str], None]


def append_stages(workdir: Path, args: argparse.Namespace, stages: set[str], say: Say) -> None:
    node = fresh_node(workdir, "append")
    if "append" in stages:
        hashed = bare_hashlib_tree(args.append)
        raw = raw_sqlite_insert(workdir, args.append, args.batch)
        ours = comity_append(node, args.append, args.batch)
        say(
            f"| durable batched append ({args.batch:,}/tx), SQLite "
            f"| {args.append / ours:,.0f} entries/s "
            f"| bare hashlib tree: {args.append / hashed:,.0f} entries/s; raw sqlite3 bulk "
            f"insert of the same rows: {args.append / raw:,.0f} entries/s | ≥ 50,000 entries/s |"
        )
    if "single" in stages:
        raw_single = raw_single_commits(workdir, args.single)
        single = service_transactions(node, args.single)
        say(
            f"| single-event service transactions (`record_event` + commit), SQLite "
            f"| {args.single / single:,.0f} tx/s | raw sqlite3 one-row durable commits: "
            f"{args.single / raw_single:,.0f} tx/s | ≥ 2,000 tx/s |"
        )
    node.close()


def verify_stage(workdir: Path, args: argparse.Namespace, say: Say) -> None:
    node = fresh_node(workdir, "verify")
    grow(node, args.verify_size)
    with node.uow() as uow:
        checkpoints.ensure_checkpoint(uow.session, node.keys)
        uow.commit()
    seconds, size = verify_time(node)
    baseline = bare_hashlib_tree(size)
    say(
        f"| `ledger verify`, {size:,} entries, SQLite | {seconds:.1f} s "
        f"| bare hashlib tree of the same size: {baseline:.1f} s | < 10 s |"
    )
    node.close()


def proofs_stage(workdir: Path, args: argparse.Namespace, say: Say) -> None:
    node = fresh_node(workdir, "proofs")
    grow(node, args.proof_size)
    inclusion, consistency = proof_times(node, args.proof_size, args.samples)
    for name, times in (("inclusion", inclusion), ("consistency", consistency)):
        say(
            f"| {name} proof at {args.proof_size:,} entries, SQLite | median "
            f"{statistics.median(times) * 1000:.2f} ms (p95 "
            f"{sorted(times)[int(0.95 * len(times))] * 1000:.2f} ms) "
            "| — | median < 1 ms |"
        )
    node.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--append", type=int, default=200_000, help="entries for the append test")
    parser.add_argument("--batch", type=int, default=1_000, help="entries per transaction")
    parser.add_argument("--single", type=int, default=3_000, help="single-event transactions")
    parser.add_argument("--proof-size", type=int, default=10_000_000)
    parser.add_argument("--verify-size", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    parser.add_argument(
        "--only",
        default="append,single,verify,proofs",
        help="comma-separated stages to run (default: all of append,single,verify,proofs)",
    )
    args = parser.parse_args()
    stages = set(args.only.split(","))

    with tempfile.TemporaryDirectory(prefix="comity-bench-") as tmp:
        workdir = Path(tmp)
        lines = []

        def say(text: str) -> None:
            print(text, flush=True)
            lines.append(text)

        if stages & {"append", "single"}:
            append_stages(workdir, args, stages, say)
        if "verify" in stages:
            verify_stage(workdir, args, say)
        if "proofs" in stages:
            proofs_stage(workdir, args, say)

    append_results(args.results, "Ledger", lines)


if __name__ == "__main__":
    main()
