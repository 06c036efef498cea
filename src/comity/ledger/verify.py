"""Full verification of the stored ledger, as ``comity ledger verify`` runs it.

Nothing stored is trusted: every leaf hash is recomputed from its entry, the whole tree
is re-derived from those leaves, and every stored node, checkpoint root and signature,
every cosignature from a known witness, and every RFC 3161 time-stamp token (its imprint
must be the hash of its checkpoint's note and, when trusted roots are given, its
signature must chain to them) is compared with what the entries imply.
Each disagreement is reported with where it is, so an administrator restoring from a
backup knows exactly what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from cryptography import x509
from sqlalchemy import CursorResult, func, select
from sqlalchemy.orm import Session

from comity.ledger import merkle, rfc3161
from comity.ledger.checkpoint import CosignatureVerifier, verify_checkpoint, verify_cosignature
from comity.ledger.errors import CheckpointError, NoteError, TimestampError
from comity.ledger.models import (
    NODE_LEVEL_SHIFT,
    LedgerCheckpoint,
    LedgerCosignature,
    LedgerEntry,
    LedgerTimestamp,
    leaf_key,
)
from comity.ledger.note import NoteVerifier

BATCH = 20_000
MAX_LISTED = 50

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class VerifyReport:
    size: int = 0
    nodes: int = 0
    checkpoints: int = 0
    cosignatures: int = 0
    timestamps: int = 0
    latest_checkpoint_size: int | None = None
    root: bytes = merkle.EMPTY_ROOT
    problems: list[Problem] = field(default_factory=list)
    more_problems: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, where: str, what: str) -> None:
        if len(self.problems) < MAX_LISTED:
            self.problems.append(Problem(where, what))
        else:
            self.more_problems += 1


class _Levels:
    """Every perfect node of the re-derived tree, as one list of hashes per level: a
    :class:`~comity.ledger.merkle.NodeReader` that costs one hash per node and no dict."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.size = len(leaves)
        self.levels = [leaves]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    def get(self, level: int, index: int) -> bytes | None:
        if level < len(self.levels) and index < len(self.levels[level]):
            return self.levels[level][index]
        return None

    def read(self, coords: Sequence[merkle.Coord]) -> Mapping[merkle.Coord, bytes]:
        found = {(level, index): self.get(level, index) for level, index in coords}
        return {coord: value for coord, value in found.items() if value is not None}

    @property
    def inner(self) -> int:
        return sum(len(level) for level in self.levels[1:])


def _stream(session: Session, sql: str) -> CursorResult[Any]:
    """Rows straight from the driver, in batches (a server-side cursor on PostgreSQL):
    these columns need no type conversion, and per-row processing would dominate."""
    return session.connection().exec_driver_sql(
        sql, execution_options={"stream_results": True, "yield_per": BATCH}
    )


def _entries(session: Session, report: VerifyReport, progress: Progress | None) -> _Levels:
    total = session.scalar(select(func.count(LedgerEntry.idx))) or 0
    leaves: list[bytes] = []
    rows = _stream(
        session, "SELECT idx, entry, leaf_hash, leaf_key FROM ledger_entries ORDER BY idx"
    )
    with rows:  # closes the server-side cursor even when the walk stops early
        for expected, row in enumerate(rows):
            index, entry, stored_leaf, stored_key = cast(tuple[int, bytes, bytes, int], tuple(row))
            if index != expected:
                report.add(f"entry {expected}", f"missing (the next stored entry is {index})")
                break
            leaf = merkle.leaf_hash(entry)
            if leaf != stored_leaf:
                report.add(f"entry {index}", "its content does not match its stored leaf hash")
            elif stored_key != leaf_key(leaf):
                report.add(f"entry {index}", "its lookup key does not match its leaf hash")
            leaves.append(leaf)
            if progress and len(leaves) % BATCH == 0:
                progress(len(leaves), total)
    if progress:
        progress(len(leaves), total)
    tree = _Levels(leaves)
    report.size = tree.size
    report.root = merkle.root_at(tree, tree.size)
    return tree


def _nodes(session: Session, tree: _Levels, report: VerifyReport) -> None:
    seen = 0
    rows = _stream(session, "SELECT key, hash FROM ledger_nodes")
    mask = (1 << NODE_LEVEL_SHIFT) - 1
    with rows:
        for row in rows:
            key, value = cast(tuple[int, bytes], tuple(row))
            level, index = key >> NODE_LEVEL_SHIFT, key & mask
            expected = tree.get(level, index) if level > 0 else None
            if expected is None:
                report.add(
                    f"node level {level} index {index}", "not part of the tree the entries make"
                )
                continue
            seen += 1
            if expected != value:
                report.add(f"node level {level} index {index}", "hash differs from the entries'")
    report.nodes = seen
    if seen != tree.inner:
        report.add(
            "nodes", f"{tree.inner - seen} of the tree's {tree.inner} inner nodes are missing"
        )


def _checkpoints(
    session: Session,
    tree: _Levels,
    report: VerifyReport,
    own: NoteVerifier,
    witnesses: Mapping[str, CosignatureVerifier],
    *,
    tsa_roots: Sequence[x509.Certificate],
) -> None:
    for row in session.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.size)):
        where = f"checkpoint at size {row.size}"
        report.checkpoints += 1
        try:
            signed = verify_checkpoint(row.note, own)
        except (NoteError, CheckpointError) as exc:
            report.add(where, f"signature or format invalid: {exc.message}")
            continue
        if signed.size != row.size or signed.root != row.root:
            report.add(where, "the stored size or root differs from what the note signs")
        if signed.size > tree.size:
            report.add(
                where,
                f"signed for {signed.size} entries but the ledger holds {tree.size}: "
                "entries were removed",
            )
        elif merkle.root_at(tree, signed.size) != signed.root:
            report.add(where, "the signed root does not match the stored entries")
        report.latest_checkpoint_size = signed.size
        for cosignature in session.scalars(
            select(LedgerCosignature).where(LedgerCosignature.checkpoint_id == row.id)
        ):
            report.cosignatures += 1
            witness = witnesses.get(cosignature.witness)
            if witness is None:
                report.add(where, f"cosignature by unknown witness {cosignature.witness!r}")
                continue
            try:
                verify_cosignature(row.note + cosignature.signature_line + "\n", witness)
            except (NoteError, CheckpointError) as exc:
                report.add(where, f"cosignature by {cosignature.witness}: {exc.message}")
        _timestamps(session, row, where, report, tsa_roots)


def _timestamps(
    session: Session,
    checkpoint: LedgerCheckpoint,
    where: str,
    report: VerifyReport,
    tsa_roots: Sequence[x509.Certificate],
) -> None:
    for stamp in session.scalars(
        select(LedgerTimestamp)
        .where(LedgerTimestamp.checkpoint_id == checkpoint.id)
        .order_by(LedgerTimestamp.id)
    ):
        report.timestamps += 1
        which = f"time-stamp {stamp.id} by {stamp.authority}"
        try:
            token = rfc3161.check_token(stamp.token, checkpoint.note.encode("utf-8"), tsa_roots)
        except TimestampError as exc:
            report.add(where, f"{which}: {exc.message}")
            continue
        if token.gen_time != stamp.gen_time:
            report.add(
                where,
                f"{which}: its stored time {stamp.gen_time.isoformat()} is not the token's "
                f"genTime {token.gen_time.isoformat()}",
            )


def verify_ledger(
    session: Session,
    own: NoteVerifier,
    witnesses: Mapping[str, CosignatureVerifier],
    *,
    tsa_roots: Sequence[x509.Certificate] = (),
    progress: Progress | None = None,
) -> VerifyReport:
    """Re-derive and check everything; the report lists each problem found. Time-stamp
    tokens are checked against ``tsa_roots`` too when any are given."""
    report = VerifyReport()
    tree = _entries(session, report, progress)
    _nodes(session, tree, report)
    _checkpoints(session, tree, report, own, witnesses, tsa_roots=tsa_roots)
    return report
