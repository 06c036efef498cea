"""The log side of witnessing: keeping our witnesses' cosignatures of our checkpoints
(C2SP tlog-cosignature; see ``docs/witnessing.md``).

:func:`receive_cosignature` takes a cosignature of one of our checkpoints from one of our
active witnesses. It needs no permission: the signature is the authentication.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from comity.audit.services import record
from comity.db import UnitOfWork, utcnow
from comity.errors import NotFound, ValidationError
from comity.identity.permissions import Actor
from comity.ledger import checkpoints
from comity.ledger.checkpoint import Checkpoint, CosignatureVerifier, verify_cosignature
from comity.ledger.errors import CheckpointError, NoteError
from comity.ledger.models import LedgerCosignature, LedgerWitness
from comity.ledger.note import b64encode, parse_note

MAX_CLOCK_AHEAD = dt.timedelta(minutes=10)
MAX_COSIGNATURE_LINE = 1000


@dataclass(frozen=True)
class ReceivedCosignature:
    cosignature: LedgerCosignature
    size: int
    created: bool
    """False when this witness's cosignature of that checkpoint was already stored."""


def _cosignature_line(value: str) -> str:
    line = value.removesuffix("\n")
    if not line or "\n" in line or len(line) > MAX_COSIGNATURE_LINE:
        raise ValidationError(
            "A cosignature is one signature line: '— <witness name> <base64>'.",
            fields={"cosignature": "line"},
        )
    return line


def receive_cosignature(
    uow: UnitOfWork, actor: Actor, *, checkpoint_note: str, cosignature_line: str
) -> ReceivedCosignature:
    """Keep a witness's cosignature of one of this node's checkpoints.

    Public: the cosignature authenticates itself. ``checkpoint_note`` must be one of our
    checkpoints (same origin, size and root as a stored one); the line must verify, over
    the stored checkpoint, with the key of an active witness of that name; its time may
    be at most ten minutes ahead of our clock. A second cosignature by the same witness
    of the same checkpoint is not stored (``created`` is False). Anything else is refused
    and nothing is stored. ``actor`` is who delivered it (anonymous, from an address).
    """
    line = _cosignature_line(cosignature_line)
    session = uow.session
    try:
        served = Checkpoint.parse(parse_note(checkpoint_note).text)
    except (NoteError, CheckpointError) as exc:
        raise ValidationError(
            f"The checkpoint is not a signed checkpoint note: {exc.message}",
            fields={"checkpoint": "invalid"},
        ) from None
    ours = checkpoints.origin(session)
    if served.origin != ours:
        raise NotFound(f"This node's log is {ours}; it keeps no checkpoint of {served.origin}.")
    stored = checkpoints.checkpoint_at(session, served.size)
    if stored is None or Checkpoint.parse(parse_note(stored.note).text) != served:
        raise NotFound(
            f"This log has no checkpoint of size {served.size} with root {b64encode(served.root)}."
        )
    cosigned = stored.note + line + "\n"
    try:
        signature = parse_note(cosigned).signatures[-1]
    except NoteError as exc:
        raise ValidationError(
            f"The cosignature line is malformed: {exc.message}", fields={"cosignature": "line"}
        ) from None
    name = signature.name
    witness = session.scalars(select(LedgerWitness).where(LedgerWitness.name == name)).first()
    if witness is None or not witness.active:
        raise ValidationError(
            f"{name!r} is not an active witness of this log; its operator is added with "
            "'comity ledger witness add'.",
            fields={"cosignature": "unknown_witness"},
        )
    verifier = CosignatureVerifier.from_vkey(witness.vkey)
    if signature.key_id != verifier.key_id:
        raise ValidationError(
            f"The cosignature by {name} is made with key ID {signature.key_id.hex()}, not "
            f"with the witness's known key (ID {verifier.key_id.hex()}).",
            fields={"cosignature": "unknown_key"},
        )
    try:
        timestamp = verify_cosignature(cosigned, verifier)
    except NoteError as exc:
        raise ValidationError(exc.message, fields={"cosignature": "invalid"}) from None
    now = utcnow()
    if timestamp > now.timestamp() + MAX_CLOCK_AHEAD.total_seconds():
        raise ValidationError(
            f"The cosignature by {name} is dated {timestamp} (POSIX seconds), more than "
            f"{int(MAX_CLOCK_AHEAD.total_seconds() // 60)} minutes ahead of this node's "
            f"clock ({int(now.timestamp())}); check the clocks of both nodes.",
            fields={"cosignature": "future"},
        )
    existing = session.scalars(
        select(LedgerCosignature).where(
            LedgerCosignature.checkpoint_id == stored.id, LedgerCosignature.witness == name
        )
    ).first()
    if existing is not None:
        return ReceivedCosignature(existing, stored.size, created=False)
    row = LedgerCosignature(
        checkpoint_id=stored.id,
        witness=name,
        signature_line=line,
        cosigned_at=dt.datetime.fromtimestamp(timestamp, dt.UTC),
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "ledger.cosignature",
        target_type="checkpoint",
        target_id=str(stored.size),
        detail={"witness": name, "cosigned_at": row.cosigned_at.isoformat()},
    )
    uow.commit()
    return ReceivedCosignature(row, stored.size, created=True)
