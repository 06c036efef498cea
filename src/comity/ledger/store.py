"""The ledger's tree in the database: appending entries in one total order, and reading
roots and proofs with one indexed query each.

Order. Appends serialise on a lock held to the end of the transaction: on PostgreSQL a
transaction-scoped advisory lock, on SQLite the write lock every Comity transaction takes
at ``BEGIN IMMEDIATE``. Under the lock the next index is read, and the entries and their
nodes are inserted in the same transaction as the rows they vouch for, so the log has no
gaps and no forks: a rolled-back transaction leaves no index behind, a committed one
holds the next indices in commit order. (A sequence would not do: PostgreSQL sequences
hand out numbers before commit and leave gaps on rollback.)

Speed. This is the hot path of every evidence action, so rows are inserted with one
driver-level ``executemany`` per table on the session's connection, and a node is
addressed by one integer key so a proof's O(log n) nodes are a single primary-key
``IN`` lookup.

Nothing here commits: callers pass the session of their unit of work.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from comity.ledger import merkle
from comity.ledger.canonical import MAX_ENTRY_BYTES
from comity.ledger.errors import EntryError
from comity.ledger.models import NODE_LEVEL_SHIFT, LedgerEntry, LedgerNode, leaf_key, node_key

# pg_advisory_xact_lock key: the bytes "comityLG" read as a signed 64-bit integer.
_PG_LOCK_KEY = int.from_bytes(b"comityLG", "big", signed=True)
_CHUNK = 500  # keys per IN (...) list, well under every driver's parameter limit


@dataclass(frozen=True)
class NewEntry:
    """An entry to append: its canonical bytes, its kind, and the salt of its commitments."""

    entry: bytes
    kind: str
    salt: bytes | None = None


class SqlNodeReader:
    """:class:`comity.ledger.merkle.NodeReader` over the ledger tables."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def read(self, coords: Sequence[merkle.Coord]) -> Mapping[merkle.Coord, bytes]:
        found: dict[merkle.Coord, bytes] = {}
        leaves = sorted({index for level, index in coords if level == 0})
        inner = sorted({node_key(level, index) for level, index in coords if level > 0})
        mask = (1 << NODE_LEVEL_SHIFT) - 1
        for start in range(0, len(leaves), _CHUNK):
            rows = self._connection.execute(
                select(LedgerEntry.idx, LedgerEntry.leaf_hash).where(
                    LedgerEntry.idx.in_(leaves[start : start + _CHUNK])
                )
            )
            found.update({(0, index): value for index, value in rows})
        for start in range(0, len(inner), _CHUNK):
            rows = self._connection.execute(
                select(LedgerNode.key, LedgerNode.hash).where(
                    LedgerNode.key.in_(inner[start : start + _CHUNK])
                )
            )
            found.update({(key >> NODE_LEVEL_SHIFT, key & mask): value for key, value in rows})
        return found


def reader(session: Session) -> SqlNodeReader:
    return SqlNodeReader(session.connection())


def size(session: Session) -> int:
    """Number of entries (the next index)."""
    last = session.connection().execute(select(func.max(LedgerEntry.idx))).scalar()
    return 0 if last is None else int(last) + 1


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def append(session: Session, entries: Sequence[NewEntry]) -> int:
    """Append ``entries`` in order; returns the index of the first. Does not commit."""
    if not entries:
        raise EntryError("Nothing to append.")
    for number, item in enumerate(entries):
        if not item.entry or len(item.entry) > MAX_ENTRY_BYTES:
            raise EntryError(f"Entry {number} must have 1 to {MAX_ENTRY_BYTES} bytes.")
    connection = session.connection()
    _lock(connection)
    first = size(session)
    leaf_hashes = [merkle.leaf_hash(item.entry) for item in entries]
    nodes = merkle.nodes_for_appends(first, leaf_hashes, SqlNodeReader(connection))
    _bulk_insert(
        connection,
        "ledger_entries",
        ("idx", "leaf_hash", "leaf_key", "entry", "kind"),
        [
            (first + offset, leaf, leaf_key(leaf), item.entry, item.kind)
            for offset, (item, leaf) in enumerate(zip(entries, leaf_hashes, strict=True))
        ],
    )
    _bulk_insert(
        connection,
        "ledger_nodes",
        ("key", "hash"),
        [(node_key(level, index), value) for (level, index), value in nodes.items() if level > 0],
    )
    _bulk_insert(
        connection,
        "ledger_salts",
        ("idx", "salt"),
        [(first + offset, item.salt) for offset, item in enumerate(entries) if item.salt],
    )
    return first


def _bulk_insert(
    connection: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[object, ...]]
) -> None:
    """``executemany`` straight to the driver: these columns need no type conversion, and
    per-row parameter processing would otherwise dominate the cost of an append."""
    if not rows:
        return
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    placeholders = ", ".join([marker] * len(columns))
    connection.exec_driver_sql(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608
        rows,
    )


def new_salt() -> bytes:
    return os.urandom(32)


def root_at(session: Session, tree_size: int) -> bytes:
    return merkle.root_at(reader(session), tree_size)


def inclusion_proof(session: Session, index: int, tree_size: int) -> list[bytes]:
    return merkle.inclusion_proof(reader(session), index, tree_size)


def consistency_proof(session: Session, old_size: int, new_size: int) -> list[bytes]:
    return merkle.consistency_proof(reader(session), old_size, new_size)
