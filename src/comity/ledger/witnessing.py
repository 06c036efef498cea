"""Witnessing: checking other nodes' logs and cosigning their checkpoints, and receiving
the cosignatures of our own (C2SP tlog-cosignature; see ``docs/witnessing.md``).

**Witness side.** An operator *follows* a peer's log: its checkpoint key (a C2SP verifier
key whose name is the log's origin) and its base URL. A witnessing round
(:func:`witness_log`) fetches the log's latest checkpoint, checks its signature with the
followed key and compares it with the largest checkpoint this node verified before:

- smaller → alarm ``rollback``: the log went back on what it had shown;
- the same size with another root → alarm ``split_view``: two histories, both signed;
- larger → the log's consistency proof from the old size must lead from the old root to
  the new one, else alarm ``inconsistent``.

Only when all is well does this node cosign the checkpoint with its own key (named as its
own log's origin, ``cosignature/v1``), store it as the new state, and then hand the
cosignature to the log. The state is committed *before* the cosignature leaves, so this
node never cosigns anything it would not compare the next checkpoint against. An alarm
is committed, with the conflicting signed notes (and the proof) as evidence, before the
round raises :class:`WitnessAlarm`: the evidence survives the refusal, as a failed
sign-in does.

The log side, receiving the cosignatures of our own checkpoints, is
:mod:`comity.ledger.cosignatures`.

Following and unfollowing logs, and listing them and the alarms:
:mod:`comity.ledger.following`.

The network is reached only through :class:`~comity.ledger.transport.Transport`, and
no database transaction is held open while a peer answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.audit.models import Outcome
from comity.audit.services import record
from comity.db import UnitOfWork, utcnow
from comity.errors import (
    ComityError,
    Conflict,
    NotFound,
    PeerAnswerInvalid,
    PeerUnreachable,
)
from comity.identity.permissions import Actor, Permission, require
from comity.keys import KeyStore
from comity.ledger import checkpoints, proofs
from comity.ledger.checkpoint import (
    Checkpoint,
    verify_checkpoint,
)
from comity.ledger.errors import CheckpointError, NoteError, ProofError
from comity.ledger.following import list_followed
from comity.ledger.models import (
    LedgerAlarm,
    LedgerFollowedLog,
)
from comity.ledger.note import NoteVerifier, b64decode_strict, b64encode
from comity.ledger.transport import Transport
from comity.node import Node

ROLLBACK = "rollback"
SPLIT_VIEW = "split_view"
INCONSISTENT = "inconsistent"
ALARM_KINDS = (ROLLBACK, SPLIT_VIEW, INCONSISTENT)

CHECKPOINT_PATH = "/api/v1/ledger/checkpoint"
CONSISTENCY_PATH = "/api/v1/ledger/proof/consistency"
COSIGNATURES_PATH = "/api/v1/ledger/cosignatures"
EVIDENCE_FORMAT = "comity-ledger-alarm/v1"


class WitnessAlarm(Conflict):
    """A followed log was seen to roll back, split or fork; the alarm is recorded."""

    code = "witness_alarm"

    def __init__(self, message: str, *, origin: str, kind: str) -> None:
        super().__init__(message)
        self.origin = origin
        self.kind = kind


@dataclass(frozen=True)
class WitnessResult:
    origin: str
    old_size: int
    new_size: int
    cosigned: bool


# --- a witnessing round ------------------------------------------------------------------


@dataclass(frozen=True)
class _Followed:
    """What a round knows of a followed log, read before any peer is asked."""

    id: int
    origin: str
    vkey: str
    url: str
    last_size: int
    last_root: bytes
    last_note: str


@dataclass(frozen=True)
class _Problem:
    kind: str
    message: str
    reason: str = ""
    proof: tuple[str, ...] | None = None


def _followed(session: Session, origin: str) -> _Followed:
    row = session.scalars(
        select(LedgerFollowedLog).where(LedgerFollowedLog.origin == origin)
    ).first()
    if row is None:
        raise NotFound(
            f"This node follows no log named {origin!r}; 'comity ledger followed' lists them."
        )
    return _Followed(
        row.id, row.origin, row.vkey, row.url, row.last_size, row.last_root, row.last_note
    )


def _served_checkpoint(followed: _Followed, note: str) -> Checkpoint:
    try:
        return verify_checkpoint(note, NoteVerifier.from_vkey(followed.vkey))
    except (NoteError, CheckpointError) as exc:
        raise PeerAnswerInvalid(
            f"The checkpoint served at {followed.url}{CHECKPOINT_PATH} is not a checkpoint "
            f"of {followed.origin} signed with the key this node follows: {exc.message}"
        ) from None


def _proof_hashes(url: str, answer: dict[str, Any]) -> tuple[list[bytes], tuple[str, ...]]:
    encoded = answer.get("proof")
    if not isinstance(encoded, list) or not all(isinstance(h, str) for h in encoded):
        raise PeerAnswerInvalid(f"The answer of {url} holds no consistency proof.")
    hashes = [b64decode_strict(h) for h in encoded]
    if any(h is None for h in hashes):
        raise PeerAnswerInvalid(f"The consistency proof from {url} is not standard base64.")
    return [h for h in hashes if h is not None], tuple(encoded)


def _compare(followed: _Followed, served: Checkpoint, transport: Transport) -> _Problem | None:
    """What is wrong with ``served`` given the state, asking the log for a proof if needed."""
    old, new = followed.last_size, served.size
    origin = followed.origin
    if new < old:
        return _Problem(
            ROLLBACK,
            f"The log {origin} rolled back: it now shows size {new}, but this node had "
            f"verified and cosigned size {old}.",
        )
    if new == old:
        if served.root != followed.last_root:
            return _Problem(
                SPLIT_VIEW,
                f"The log {origin} showed a split view: two checkpoints of size {new} with "
                "different roots, both signed with its key.",
            )
        return None
    proof: list[bytes] = []
    encoded: tuple[str, ...] = ()
    if old > 0:
        url = f"{followed.url}{CONSISTENCY_PATH}?old={old}&new={new}"
        proof, encoded = _proof_hashes(url, transport.get_json(url))
    try:
        proofs.verify_consistency(old, new, followed.last_root, served.root, proof)
    except ProofError as exc:
        return _Problem(
            INCONSISTENT,
            f"The log {origin} is inconsistent: its checkpoint of size {new} does not "
            f"extend the checkpoint of size {old} this node had verified and cosigned "
            f"({exc.message})",
            reason=exc.message,
            proof=encoded,
        )
    return None


def _record_alarm(
    uow: UnitOfWork,
    actor: Actor,
    followed: _Followed,
    problem: _Problem,
    *,
    served: Checkpoint,
    note: str,
) -> None:
    """Store the alarm and its evidence (once per distinct evidence), and commit."""
    evidence: dict[str, Any] = {
        "format": EVIDENCE_FORMAT,
        "origin": followed.origin,
        "log_key": followed.vkey,
        "previous_checkpoint": followed.last_note,
        "checkpoint": note,
    }
    if problem.proof is not None:
        evidence["consistency_proof"] = list(problem.proof)
    text = json.dumps(evidence, indent=2, ensure_ascii=False)
    session = uow.session
    seen = session.scalars(
        select(LedgerAlarm.evidence).where(
            LedgerAlarm.origin == followed.origin, LedgerAlarm.kind == problem.kind
        )
    ).all()
    if text in seen:
        return  # the same evidence again: the alarm stands, nothing new to keep
    detail: dict[str, Any] = {
        "message": problem.message,
        "url": followed.url,
        "old_size": followed.last_size,
        "old_root": b64encode(followed.last_root),
        "new_size": served.size,
        "new_root": b64encode(served.root),
    }
    if problem.reason:
        detail["reason"] = problem.reason
    alarm = LedgerAlarm(origin=followed.origin, kind=problem.kind, detail=detail, evidence=text)
    session.add(alarm)
    session.flush()
    record(
        session,
        actor,
        "ledger.alarm",
        target_type="ledger_alarm",
        target_id=str(alarm.id),
        outcome=Outcome.FAILURE,
        detail={"origin": followed.origin, "kind": problem.kind, "size": served.size},
    )
    uow.commit()


def witness_log(
    uow: UnitOfWork, actor: Actor, keys: KeyStore, origin: str, transport: Transport
) -> WitnessResult:
    """One witnessing round of the followed log ``origin`` (see the module docstring).

    Raises :class:`WitnessAlarm` (after committing the alarm) if the log rolled back,
    split or forked; :class:`~comity.errors.PeerUnreachable` or
    :class:`~comity.errors.PeerAnswerInvalid` if the log could not be asked or answered
    nonsense (no alarm: nothing the log signed is wrong).
    """
    require(actor, Permission.LEDGER_MANAGE)
    session = uow.session
    followed = _followed(session, origin)
    cosigner = checkpoints.cosigner(session, keys)
    # End the read: no lock (SQLite's write lock, above all) is held while the peer
    # answers. Nothing was written, and the state is checked again before it is changed.
    session.rollback()

    note = transport.get_text(followed.url + CHECKPOINT_PATH)
    served = _served_checkpoint(followed, note)
    problem = _compare(followed, served, transport)
    if problem is not None:
        _record_alarm(uow, actor, followed, problem, served=served, note=note)
        raise WitnessAlarm(
            problem.message + " The evidence is kept: see 'comity ledger alarms'.",
            origin=followed.origin,
            kind=problem.kind,
        )

    row = session.get(LedgerFollowedLog, followed.id, with_for_update=True)
    if row is None or (row.last_size, row.last_root) != (followed.last_size, followed.last_root):
        raise Conflict(
            f"Another witnessing round of {origin} changed its state meanwhile; run it again."
        )
    now = utcnow()
    line = cosigner.cosign(served, int(now.timestamp())).rstrip("\n")
    row.last_size, row.last_root, row.last_note, row.updated_at = (
        served.size,
        served.root,
        note,
        now,
    )
    record(
        session,
        actor,
        "ledger.cosign",
        target_type="followed_log",
        target_id=str(row.id),
        detail={"origin": origin, "old_size": followed.last_size, "size": served.size},
    )
    uow.commit()

    try:
        transport.post_json(
            followed.url + COSIGNATURES_PATH, {"checkpoint": note, "cosignature": line}
        )
    except PeerUnreachable as exc:
        raise PeerUnreachable(
            f"This node cosigned {origin} at size {served.size} but could not hand the "
            f"cosignature over: {exc.message} The next round cosigns it again and retries."
        ) from None
    return WitnessResult(origin, followed.last_size, served.size, cosigned=True)


OnOutcome = Callable[[str, "WitnessResult | ComityError"], None]


def witness_logs(
    node: Node,
    actor: Actor,
    transport: Transport,
    origins: Sequence[str] | None = None,
    on_outcome: OnOutcome | None = None,
) -> list[tuple[str, WitnessResult | ComityError]]:
    """One round of each log in ``origins`` (default: every followed log), each in its
    own unit of work, so that one log's trouble does not stop the rest. Every outcome (a
    result, or the error that ended that round) is returned, and given to ``on_outcome``
    as it comes."""
    if origins is None:
        with node.uow() as uow:
            origins = [row.origin for row in list_followed(uow, actor)]
    outcomes: list[tuple[str, WitnessResult | ComityError]] = []
    for origin in origins:
        with node.uow() as uow:
            try:
                outcome: WitnessResult | ComityError = witness_log(
                    uow, actor, node.keys, origin, transport
                )
            except ComityError as exc:
                outcome = exc
        outcomes.append((origin, outcome))
        if on_outcome is not None:
            on_outcome(origin, outcome)
    return outcomes
