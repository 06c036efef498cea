"""Use cases for the node's own checkpoints: making, reading, and keeping cosignatures.

The log's origin (its name in checkpoints) is ``comity/<organisation id>`` and its
checkpoints are signed with the node's Ed25519 key under that name. A checkpoint is made
on demand (``comity ledger checkpoint``, ``POST /api/v1/ledger/checkpoint``, or a timer
running the command, see ``docs/witnessing.md``) and at first start; one is kept per
tree size.

When this node witnesses other logs it cosigns their checkpoints with the same key under
the same name, as a ``cosignature/v1`` key (:func:`cosigner`): the key type is part of
the key ID and the signed message starts with ``cosignature/v1``, so the two uses cannot
be mistaken for each other.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.audit.services import record
from comity.db import UnitOfWork
from comity.errors import NotFound
from comity.identity.organisations import local_organisation
from comity.identity.permissions import Actor, Permission, require
from comity.keys import KeyStore
from comity.ledger import store
from comity.ledger.checkpoint import Checkpoint, Cosigner, sign_checkpoint
from comity.ledger.models import LedgerCheckpoint, LedgerCosignature
from comity.ledger.note import NoteSigner, NoteVerifier


def origin(session: Session) -> str:
    return f"comity/{local_organisation(session).id}"


def signer(session: Session, keys: KeyStore) -> NoteSigner:
    return NoteSigner(origin(session), keys.signing_key())


def verifier(session: Session, keys: KeyStore) -> NoteVerifier:
    return signer(session, keys).verifier()


def cosigner(session: Session, keys: KeyStore) -> Cosigner:
    """This node's witness key: its signing key, named as its log, for cosignatures."""
    return Cosigner(origin(session), keys.signing_key())


def latest(session: Session) -> LedgerCheckpoint | None:
    return session.scalars(
        select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)
    ).first()


def checkpoint_at(session: Session, size: int) -> LedgerCheckpoint | None:
    return session.scalars(select(LedgerCheckpoint).where(LedgerCheckpoint.size == size)).first()


def ensure_checkpoint(session: Session, keys: KeyStore) -> LedgerCheckpoint:
    """A signed checkpoint of the current tree (the existing one if the size is unchanged).

    A helper: no permission check and no commit; services and ``initialise`` call it.
    """
    size = store.size(session)
    existing = checkpoint_at(session, size)
    if existing is not None:
        return existing
    root = store.root_at(session, size)
    note = sign_checkpoint(Checkpoint(origin(session), size, root), signer(session, keys))
    row = LedgerCheckpoint(size=size, root=root, note=note)
    session.add(row)
    session.flush()
    return row


def make_checkpoint(uow: UnitOfWork, keys: KeyStore, actor: Actor) -> LedgerCheckpoint:
    require(actor, Permission.LEDGER_MANAGE)
    row = ensure_checkpoint(uow.session, keys)
    record(
        uow.session, actor, "ledger.checkpoint", target_type="checkpoint", target_id=str(row.size)
    )
    uow.commit()
    return row


def cosigned_note(session: Session, checkpoint: LedgerCheckpoint) -> str:
    """The checkpoint note with every cosignature received for it appended."""
    lines = session.scalars(
        select(LedgerCosignature.signature_line)
        .where(LedgerCosignature.checkpoint_id == checkpoint.id)
        .order_by(LedgerCosignature.id)
    ).all()
    return checkpoint.note + "".join(line + "\n" for line in lines)


def cosignatures(session: Session, checkpoint: LedgerCheckpoint) -> Sequence[LedgerCosignature]:
    return session.scalars(
        select(LedgerCosignature)
        .where(LedgerCosignature.checkpoint_id == checkpoint.id)
        .order_by(LedgerCosignature.id)
    ).all()


def latest_cosigned(session: Session) -> tuple[LedgerCheckpoint, str]:
    checkpoint = latest(session)
    if checkpoint is None:
        raise NotFound("This node has made no checkpoint yet; run 'comity ledger checkpoint'.")
    return checkpoint, cosigned_note(session, checkpoint)
