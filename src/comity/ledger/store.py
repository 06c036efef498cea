"""The ledger's tree in the database: appending entries in one total order, and reading
roots and proofs with one indexed query each.

Order. Appends serialise on a lock held to the end of the transaction: on PostgreSQL a
transaction-scoped advisory lock, on SQLite the write lock every Comity transaction takes
at ``BEGIN IMMEDIATE``. Under the lock the next index is read, and the entries and their
nodes are inserted in the same transaction as the rows they vouch for, so the log has no
gaps and no forks: a rolled-back transaction leaves no index behind, a committed one
holds the next indices in commit order. (A sequence would not do: PostgreSQL sequences
hand out numbers before commit and leave gaps on rollback.)

Speed. This is the hot path of every evidence action, so its few fixed statements go
straight to the DBAPI cursor of the session's connection (one ``executemany`` per table
for appends), and a node is addressed by one integer key so a proof's O(log n) nodes are
a single primary-key ``IN`` lookup.

Nothing here commits: callers pass the session of their unit of work.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session

from comity.ledger import merkle
from comity.ledger.canonical import MAX_ENTRY_BYTES
from comity.ledger.errors import EntryError
from comity.ledger.models import NODE_LEVEL_SHIFT, leaf_key, node_key

# pg_advisory_xact_lock key: the bytes "comityLG" read as a signed 64-bit integer.
_PG_LOCK_KEY = int.from_bytes(b"comityLG", "big", signed=True)
_CHUNK = 500  # keys per IN (...) list, well under every driver's parameter limit
_LEAVES_IN = "SELECT idx, leaf_hash FROM ledger_entries WHERE idx IN ({})"
_NODES_IN = "SELECT key, hash FROM ledger_nodes WHERE key IN ({})"


@dataclass(frozen=True)
class NewEntry:
    """An entry to append: its canonical bytes, its kind, and the salt of its commitments."""

    entry: bytes
    kind: str
    salt: bytes | None = None


class _Driver:
    """The DBAPI cursor of the session's connection, inside the session's transaction.

    The ledger's statements are few, fixed, and need no type conversion; going through
    SQLAlchemy's execution machinery would cost more than SQLite itself for each of them.
    Driver errors are raised as SQLAlchemy's :class:`~sqlalchemy.exc.DBAPIError`, as from
    any other statement."""

    def __init__(self, connection: Connection) -> None:
        self._dialect = connection.dialect
        self._cursor = connection.connection.cursor()
        self._marker = "?" if self._dialect.paramstyle == "qmark" else "%s"

    def markers(self, count: int) -> str:
        return ", ".join([self._marker] * count)

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            self._cursor.execute(sql, tuple(params))
            return list(self._cursor.fetchall())
        except self._dialect.loaded_dbapi.Error as exc:
            raise self._error(sql, params, exc) from exc

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
        if not rows:
            return
        names, markers = ", ".join(columns), self.markers(len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({markers})"  # noqa: S608 - fixed names
        try:
            self._cursor.executemany(sql, rows)
        except self._dialect.loaded_dbapi.Error as exc:
            raise self._error(sql, rows, exc) from exc

    def _error(self, sql: str, params: Sequence[Any], exc: Exception) -> StatementError:
        return DBAPIError.instance(
            sql, params, exc, self._dialect.loaded_dbapi.Error, dialect=self._dialect
        )

    def close(self) -> None:
        self._cursor.close()


class SqlNodeReader:
    """:class:`comity.ledger.merkle.NodeReader` over the ledger tables: leaves from
    ``ledger_entries``, inner nodes from ``ledger_nodes``, in one query."""

    def __init__(self, driver: _Driver) -> None:
        self._driver = driver

    def read(self, coords: Sequence[merkle.Coord]) -> Mapping[merkle.Coord, bytes]:
        leaves = sorted({index for level, index in coords if level == 0})
        inner = sorted({node_key(level, index) for level, index in coords if level > 0})
        found: dict[merkle.Coord, bytes] = {}
        mask = (1 << NODE_LEVEL_SHIFT) - 1
        for start in range(0, max(len(leaves), len(inner)), _CHUNK):
            some_leaves, some_inner = leaves[start : start + _CHUNK], inner[start : start + _CHUNK]
            parts = []
            if some_leaves:
                parts.append(_LEAVES_IN.format(self._driver.markers(len(some_leaves))))
            if some_inner:
                parts.append(_NODES_IN.format(self._driver.markers(len(some_inner))))
            rows = self._driver.rows(" UNION ALL ".join(parts), (*some_leaves, *some_inner))
            # A leaf's key is its index (level 0): both tables answer in node-key terms.
            found.update({(key >> NODE_LEVEL_SHIFT, key & mask): value for key, value in rows})
        return found


@contextmanager
def _driver(session: Session) -> Iterator[_Driver]:
    driver = _Driver(session.connection())
    try:
        yield driver
    finally:
        driver.close()


def size(session: Session) -> int:
    """Number of entries (the next index)."""
    with _driver(session) as driver:
        return _size(driver)


def _size(driver: _Driver) -> int:
    ((last,),) = driver.rows("SELECT max(idx) FROM ledger_entries")
    return 0 if last is None else int(last) + 1


def append(session: Session, entries: Sequence[NewEntry]) -> int:
    """Append ``entries`` in order; returns the index of the first. Does not commit."""
    if not entries:
        raise EntryError("Nothing to append.")
    for number, item in enumerate(entries):
        if not item.entry or len(item.entry) > MAX_ENTRY_BYTES:
            raise EntryError(f"Entry {number} must have 1 to {MAX_ENTRY_BYTES} bytes.")
    leaf_hashes = [merkle.leaf_hash(item.entry) for item in entries]
    with _driver(session) as driver:
        if session.get_bind().dialect.name == "postgresql":
            driver.rows("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
        first = _size(driver)
        nodes = merkle.nodes_for_appends(first, leaf_hashes, SqlNodeReader(driver))
        driver.insert(
            "ledger_entries",
            ("idx", "leaf_hash", "leaf_key", "entry", "kind"),
            [
                (first + offset, leaf, leaf_key(leaf), item.entry, item.kind)
                for offset, (item, leaf) in enumerate(zip(entries, leaf_hashes, strict=True))
            ],
        )
        driver.insert(
            "ledger_nodes",
            ("key", "hash"),
            [(node_key(lv, index), value) for (lv, index), value in nodes.items() if lv > 0],
        )
        driver.insert(
            "ledger_salts",
            ("idx", "salt"),
            [(first + offset, item.salt) for offset, item in enumerate(entries) if item.salt],
        )
    return first


def new_salt() -> bytes:
    return os.urandom(32)


def root_at(session: Session, tree_size: int) -> bytes:
    with _driver(session) as driver:
        return merkle.root_at(SqlNodeReader(driver), tree_size)


def inclusion_proof(session: Session, index: int, tree_size: int) -> list[bytes]:
    with _driver(session) as driver:
        return merkle.inclusion_proof(SqlNodeReader(driver), index, tree_size)


def consistency_proof(session: Session, old_size: int, new_size: int) -> list[bytes]:
    with _driver(session) as driver:
        return merkle.consistency_proof(SqlNodeReader(driver), old_size, new_size)
