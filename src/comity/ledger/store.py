"""The ledger's tree in the database: appending entries in one total order, and reading
roots and proofs with one indexed query each.

Order. Appends serialise on a lock held to the end of the transaction: on PostgreSQL a
transaction-scoped advisory lock, on SQLite the write lock every Comity transaction takes
at ``BEGIN IMMEDIATE``. Under the lock the next index is read, and the entries and their
nodes are inserted in the same transaction as the rows they vouch for, so the log has no
gaps and no forks: a rolled-back transaction leaves no index behind, a committed one
holds the next indices in commit order. (A sequence would not do: PostgreSQL sequences
hand out numbers before commit and leave gaps on rollback.)

Nothing here commits: callers pass the session of their unit of work.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select, text, tuple_
from sqlalchemy.orm import Session

from comity.ledger import merkle
from comity.ledger.canonical import MAX_ENTRY_BYTES
from comity.ledger.errors import EntryError
from comity.ledger.models import LedgerEntry, LedgerNode, LedgerSalt

# pg_advisory_xact_lock key: the bytes "comityLG" read as a signed 64-bit integer.
_PG_LOCK_KEY = int.from_bytes(b"comityLG", "big", signed=True)
_CHUNK = 500  # rows per IN (...) list, well under every driver's parameter limit


@dataclass(frozen=True)
class NewEntry:
    """An entry to append: its canonical bytes, its kind, and the salt of its commitments."""

    entry: bytes
    kind: str
    salt: bytes | None = None


class SqlNodeReader:
    """:class:`comity.ledger.merkle.NodeReader` over the ledger tables."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def read(self, coords: Sequence[merkle.Coord]) -> Mapping[merkle.Coord, bytes]:
        found: dict[merkle.Coord, bytes] = {}
        leaves = sorted({index for level, index in coords if level == 0})
        inner = sorted({coord for coord in coords if coord[0] > 0})
        for start in range(0, len(leaves), _CHUNK):
            rows = self._session.execute(
                select(LedgerEntry.idx, LedgerEntry.leaf_hash).where(
                    LedgerEntry.idx.in_(leaves[start : start + _CHUNK])
                )
            )
            found.update({(0, row.idx): row.leaf_hash for row in rows})
        for start in range(0, len(inner), _CHUNK):
            rows = self._session.execute(
                select(LedgerNode.level, LedgerNode.idx, LedgerNode.hash).where(
                    tuple_(LedgerNode.level, LedgerNode.idx).in_(inner[start : start + _CHUNK])
                )
            )
            found.update({(row.level, row.idx): row.hash for row in rows})
        return found


def size(session: Session) -> int:
    """Number of entries (the next index)."""
    last = session.scalar(select(func.max(LedgerEntry.idx)))
    return 0 if last is None else last + 1


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def append(session: Session, entries: Sequence[NewEntry]) -> int:
    """Append ``entries`` in order; returns the index of the first. Does not commit."""
    if not entries:
        raise EntryError("Nothing to append.")
    for number, item in enumerate(entries):
        if not item.entry or len(item.entry) > MAX_ENTRY_BYTES:
            raise EntryError(f"Entry {number} must have 1 to {MAX_ENTRY_BYTES} bytes.")
    _lock(session)
    first = size(session)
    leaf_hashes = [merkle.leaf_hash(item.entry) for item in entries]
    nodes = merkle.nodes_for_appends(first, leaf_hashes, SqlNodeReader(session))
    session.execute(
        insert(LedgerEntry),
        [
            {"idx": first + offset, "leaf_hash": leaf, "entry": item.entry, "kind": item.kind}
            for offset, (item, leaf) in enumerate(zip(entries, leaf_hashes, strict=True))
        ],
    )
    inner = [
        {"level": level, "idx": index, "hash": value}
        for (level, index), value in nodes.items()
        if level > 0
    ]
    if inner:
        session.execute(insert(LedgerNode), inner)
    salts = [
        {"idx": first + offset, "salt": item.salt}
        for offset, item in enumerate(entries)
        if item.salt is not None
    ]
    if salts:
        session.execute(insert(LedgerSalt), salts)
    return first


def new_salt() -> bytes:
    return os.urandom(32)


def root_at(session: Session, tree_size: int) -> bytes:
    return merkle.root_at(SqlNodeReader(session), tree_size)


def inclusion_proof(session: Session, index: int, tree_size: int) -> list[bytes]:
    return merkle.inclusion_proof(SqlNodeReader(session), index, tree_size)


def consistency_proof(session: Session, old_size: int, new_size: int) -> list[bytes]:
    return merkle.consistency_proof(SqlNodeReader(session), old_size, new_size)
