"""Use cases of the ledger for people and scripts: status, verification, proofs and proof
files (with the checkpoint's time-stamps), entries, checkpoints, witnesses. Every one
checks the actor's permission first, except the two that peers need to witness us: the
latest checkpoint and consistency proofs are public (they reveal the log's size, roots
and subtree hashes, never an entry). Witnessing other logs and receiving cosignatures is
:mod:`comity.ledger.witnessing`; time-stamping checkpoints is
:mod:`comity.ledger.timestamping`."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from comity.audit.services import record
from comity.db import UnitOfWork
from comity.errors import Conflict, NotFound, ValidationError
from comity.identity.permissions import Actor, Permission, require
from comity.keys import KeyStore
from comity.ledger import checkpoints, merkle, proofs, rfc3161, store, timestamping
from comity.ledger.checkpoint import CosignatureVerifier, log_signed_note, verify_checkpoint
from comity.ledger.errors import NoteError, TimestampError
from comity.ledger.models import (
    LedgerAlarm,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerTimestamp,
    LedgerWitness,
    leaf_key,
)
from comity.ledger.note import NoteVerifier, b64decode_strict
from comity.ledger.verify import Progress, VerifyReport, verify_ledger

MAX_ENTRIES_PER_READ = 1000
PROOF_FORMAT = "comity-ledger-proof/v1"


@dataclass(frozen=True)
class LedgerStatus:
    origin: str
    vkey: str
    witness_vkey: str
    size: int
    root: bytes
    latest_checkpoint: LedgerCheckpoint | None
    cosignatures: int
    timestamps: int
    """Time-stamp tokens kept for the latest checkpoint."""
    witnesses: int
    alarms: int


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def status(uow: UnitOfWork, actor: Actor, keys: KeyStore) -> LedgerStatus:
    require(actor, Permission.LEDGER_READ)
    session = uow.session
    size = store.size(session)
    latest = checkpoints.latest(session)
    return LedgerStatus(
        origin=checkpoints.origin(session),
        vkey=checkpoints.verifier(session, keys).vkey,
        witness_vkey=checkpoints.cosigner(session, keys).verifier().vkey,
        size=size,
        root=store.root_at(session, size),
        latest_checkpoint=latest,
        cosignatures=len(checkpoints.cosignatures(session, latest)) if latest else 0,
        timestamps=len(timestamping.timestamps(session, latest)) if latest else 0,
        witnesses=session.scalar(select(func.count(LedgerWitness.id))) or 0,
        alarms=session.scalar(select(func.count(LedgerAlarm.id))) or 0,
    )


def witness_verifiers(session: Session) -> dict[str, CosignatureVerifier]:
    return {
        row.name: CosignatureVerifier.from_vkey(row.vkey)
        for row in session.scalars(select(LedgerWitness))
    }


def verify(
    uow: UnitOfWork,
    actor: Actor,
    keys: KeyStore,
    *,
    tsa_roots: Sequence[x509.Certificate] = (),
    progress: Progress | None = None,
) -> VerifyReport:
    """Re-derive the whole tree and check every node, checkpoint, cosignature and
    time-stamp token (whose signatures are checked against ``tsa_roots`` if given)."""
    require(actor, Permission.LEDGER_READ)
    session = uow.session
    report = verify_ledger(
        session,
        checkpoints.verifier(session, keys),
        witness_verifiers(session),
        tsa_roots=tsa_roots,
        progress=progress,
    )
    record(
        session,
        actor,
        "ledger.verify",
        detail={"size": report.size, "ok": report.ok, "problems": len(report.problems)},
    )
    uow.commit()
    return report


def _tree_size(session: Session, size: int | None) -> int:
    current = store.size(session)
    if size is None:
        return current
    if not 0 <= size <= current:
        raise ValidationError(
            f"The ledger has {current} entries; a tree size must be between 0 and {current}.",
            fields={"size": "range"},
        )
    return size


def entries(uow: UnitOfWork, actor: Actor, start: int, end: int) -> Sequence[LedgerEntry]:
    require(actor, Permission.LEDGER_READ)
    if start < 0 or end < start or end - start > MAX_ENTRIES_PER_READ:
        raise ValidationError(
            f"Ask for 0 to {MAX_ENTRIES_PER_READ} entries with 0 ≤ start ≤ end.",
            fields={"start": "range"},
        )
    return uow.session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.idx >= start, LedgerEntry.idx < end)
        .order_by(LedgerEntry.idx)
    ).all()


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tree_size: int
    leaf_hash: bytes
    root: bytes
    proof: list[bytes]


def prove_inclusion(
    uow: UnitOfWork, actor: Actor, index: int, size: int | None = None
) -> InclusionProof:
    require(actor, Permission.LEDGER_READ)
    return _inclusion(uow.session, index, size)


def _inclusion(session: Session, index: int, size: int | None) -> InclusionProof:
    tree_size = _tree_size(session, size)
    if not 0 <= index < tree_size:
        raise ValidationError(
            f"Entry {index} is not in a tree of {tree_size} entries.", fields={"index": "range"}
        )
    leaf = session.scalar(select(LedgerEntry.leaf_hash).where(LedgerEntry.idx == index))
    if leaf is None:
        raise NotFound(f"Entry {index} is missing from the store.")
    return InclusionProof(
        index=index,
        tree_size=tree_size,
        leaf_hash=leaf,
        root=store.root_at(session, tree_size),
        proof=store.inclusion_proof(session, index, tree_size),
    )


def prove_inclusion_of_leaf(
    uow: UnitOfWork, actor: Actor, leaf_hash: bytes, size: int | None = None
) -> InclusionProof:
    """The inclusion proof of the entry whose leaf hash is ``leaf_hash`` (the first one, if
    the same entry was appended twice)."""
    require(actor, Permission.LEDGER_READ)
    index = uow.session.scalar(
        select(func.min(LedgerEntry.idx)).where(
            LedgerEntry.leaf_key == leaf_key(leaf_hash), LedgerEntry.leaf_hash == leaf_hash
        )
    )
    if index is None:
        raise NotFound("No entry has that leaf hash.")
    return prove_inclusion(uow, actor, index, size)


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: list[bytes]


def prove_consistency(
    uow: UnitOfWork, old_size: int, new_size: int | None = None
) -> ConsistencyProof:
    """That the tree of ``new_size`` (default: the current size) extends the tree of
    ``old_size``. Public, like the latest checkpoint: witnesses need it, and it reveals
    only roots and subtree hashes, never an entry."""
    session = uow.session
    new = _tree_size(session, new_size)
    if not 0 <= old_size <= new:
        raise ValidationError(
            f"The old size must be between 0 and {new}.", fields={"old_size": "range"}
        )
    return ConsistencyProof(
        old_size=old_size,
        new_size=new,
        old_root=store.root_at(session, old_size),
        new_root=store.root_at(session, new),
        proof=store.consistency_proof(session, old_size, new),
    )


@dataclass(frozen=True)
class StoredCheckpoint:
    checkpoint: LedgerCheckpoint
    timestamps: Sequence[LedgerTimestamp]


def checkpoint_of_size(uow: UnitOfWork, actor: Actor, size: int) -> StoredCheckpoint:
    """This log's checkpoint of ``size`` entries, with its time-stamp tokens."""
    require(actor, Permission.LEDGER_READ)
    session = uow.session
    found = checkpoints.checkpoint_at(session, size)
    if found is None:
        raise NotFound(f"This log has no checkpoint of size {size}.")
    return StoredCheckpoint(found, timestamping.timestamps(session, found))


def public_checkpoint(uow: UnitOfWork) -> str:
    """The latest checkpoint with its cosignatures: public, so peers can witness us."""
    return checkpoints.latest_cosigned(uow.session)[1]


def offline_proof(uow: UnitOfWork, actor: Actor, keys: KeyStore, index: int) -> dict[str, Any]:
    """A self-contained proof that entry ``index`` is in the log, checkable without the node:
    the entry, its inclusion proof in the latest checkpoint, the cosigned checkpoint, the
    log's public key, and the checkpoint's time-stamp tokens if it has any. See
    ``docs/formats/ledger.md``.

    Records the audit event without committing: the caller commits once the proof has
    been handed over (written to its file, sent), so a failed hand-over leaves no trace
    of a proof nobody received."""
    require(actor, Permission.LEDGER_READ)
    return proof_document(uow, actor, keys, index)


def proof_document(uow: UnitOfWork, actor: Actor, keys: KeyStore, index: int) -> dict[str, Any]:
    """:func:`offline_proof` for a caller that has checked a permission covering entry
    ``index`` itself (an evidence item's custody events are provable under
    ``evidence:read``: :func:`comity.vault.viewing.custody_proof`)."""
    session = uow.session
    checkpoint, note = checkpoints.latest_cosigned(session)
    if index >= checkpoint.size:
        raise Conflict(
            f"The latest checkpoint covers entries 0 to {checkpoint.size - 1}; make a "
            "checkpoint ('comity ledger checkpoint') and let witnesses cosign it first."
        )
    proof = _inclusion(session, index, checkpoint.size)
    entry = session.scalar(select(LedgerEntry.entry).where(LedgerEntry.idx == index))
    if entry is None:
        raise NotFound(f"Entry {index} is missing from the store.")
    stamps = timestamping.timestamps(session, checkpoint)
    record(session, actor, "ledger.prove", target_type="ledger_entry", target_id=str(index))
    document: dict[str, Any] = {
        "format": PROOF_FORMAT,
        "log": {
            "origin": checkpoints.origin(session),
            "vkey": checkpoints.verifier(session, keys).vkey,
        },
        "index": index,
        "entry": _b64(entry),
        "tree_size": proof.tree_size,
        "inclusion_proof": [_b64(h) for h in proof.proof],
        "checkpoint": note,
    }
    if stamps:
        document["timestamps"] = [
            {"authority": stamp.authority, "token": _b64(stamp.token)} for stamp in stamps
        ]
    return document


def add_witness(uow: UnitOfWork, actor: Actor, *, vkey: str, url: str = "") -> LedgerWitness:
    """Trust a peer's cosignatures: its verifier key (name+id+key) and where to ask it."""
    require(actor, Permission.LEDGER_MANAGE)
    try:
        parsed = CosignatureVerifier.from_vkey(vkey.strip())
    except NoteError as exc:
        raise ValidationError(
            f"Not a witness key: {exc.message}", fields={"vkey": "invalid"}
        ) from None
    session = uow.session
    if session.scalars(select(LedgerWitness).where(LedgerWitness.name == parsed.name)).first():
        raise Conflict(f"A witness named {parsed.name!r} is already known.")
    row = LedgerWitness(name=parsed.name, vkey=parsed.vkey, url=url.strip())
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "ledger.witness_add",
        target_type="witness",
        target_id=str(row.id),
        detail={"name": parsed.name, "url": row.url},
    )
    uow.commit()
    return row


def list_witnesses(uow: UnitOfWork, actor: Actor) -> Sequence[LedgerWitness]:
    require(actor, Permission.LEDGER_READ)
    return uow.session.scalars(select(LedgerWitness).order_by(LedgerWitness.name)).all()


@dataclass(frozen=True)
class CheckedTimestamp:
    authority: str
    gen_time: dt.datetime


@dataclass(frozen=True)
class CheckedProof:
    index: int
    tree_size: int
    timestamps: list[CheckedTimestamp]
    """The checkpoint's time-stamps: each one's imprint matched the checkpoint note, and its
    signature chained to the trusted roots when they were given."""


def _proof_timestamps(document: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The (authority, token) pairs of a proof file; a file without any is fine."""
    listed = document.get("timestamps", [])
    if not isinstance(listed, list):
        raise ValidationError("The proof file is malformed: 'timestamps' is not a list.")
    found: list[tuple[str, bytes]] = []
    for number, item in enumerate(listed, 1):
        authority = item.get("authority") if isinstance(item, dict) else None
        encoded = item.get("token") if isinstance(item, dict) else None
        token = b64decode_strict(encoded) if isinstance(encoded, str) else None
        if not isinstance(authority, str) or token is None:
            raise ValidationError(
                f"The proof file is malformed: time-stamp {number} needs an 'authority' and "
                "a 'token' in standard base64."
            )
        found.append((authority, token))
    return found


def check_offline_proof(
    document: dict[str, Any], vkey: str, *, tsa_roots: Sequence[x509.Certificate] = ()
) -> CheckedProof:
    """Check a proof file against the log's verifier key: the checkpoint's signature, the
    entry's inclusion proof and, if the file has any, each time-stamp token's imprint
    (and its signature against ``tsa_roots``, when given).

    Pure: needs neither the node nor its database.
    """
    if document.get("format") != PROOF_FORMAT:
        raise ValidationError(f"Not a {PROOF_FORMAT} document.")
    try:
        entry = base64.b64decode(document["entry"], validate=True)
        path = [base64.b64decode(h, validate=True) for h in document["inclusion_proof"]]
        index, size = int(document["index"]), int(document["tree_size"])
        note = str(document["checkpoint"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(f"The proof file is malformed: {exc}") from None
    stamps = _proof_timestamps(document)
    log = NoteVerifier.from_vkey(vkey)
    checkpoint = verify_checkpoint(note, log)
    if checkpoint.size != size:
        raise ValidationError("The proof's tree size is not the checkpoint's.")
    proofs.verify_inclusion(merkle.leaf_hash(entry), index, size, path, checkpoint.root)
    stamped = log_signed_note(note, log).encode("utf-8")
    checked: list[CheckedTimestamp] = []
    for authority, token in stamps:
        try:
            found = rfc3161.check_token(token, stamped, tsa_roots)
        except TimestampError as exc:
            raise TimestampError(f"The time-stamp by {authority}: {exc.message}") from None
        checked.append(CheckedTimestamp(authority, found.gen_time))
    return CheckedProof(index, size, checked)
