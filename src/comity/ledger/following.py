"""Which other nodes' logs this node witnesses: following a log (its checkpoint key and
base URL), unfollowing it, and listing the followed logs and the alarms they raised.
The witnessing rounds themselves: :mod:`comity.ledger.witnessing`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from comity.audit.services import record
from comity.db import UnitOfWork
from comity.errors import Conflict, NotFound, ValidationError
from comity.identity.permissions import Actor, Permission, require
from comity.ledger import checkpoints, merkle
from comity.ledger.errors import NoteError
from comity.ledger.models import LedgerAlarm, LedgerFollowedLog
from comity.ledger.note import NoteVerifier
from comity.urls import is_service_url

MAX_URL = 500


def _base_url(url: str) -> str:
    """``url`` as a base to append API paths to: http(s), a host, no query or fragment."""
    value = url.strip()
    if not is_service_url(value) or len(value) > MAX_URL:
        raise ValidationError(
            f"{url!r} is not a node's base URL: give http:// or https://, a host, and no "
            "query, fragment or password (for example https://comity.example.org).",
            fields={"url": "invalid"},
        )
    return value.rstrip("/")


def follow_log(uow: UnitOfWork, actor: Actor, *, vkey: str, url: str) -> LedgerFollowedLog:
    """Witness the log whose checkpoints ``vkey`` signs, served at base URL ``url``.

    The key must come from the log's operator by a channel both trust; its name is the
    log's origin. The first round checks the log from size 0.
    """
    require(actor, Permission.LEDGER_MANAGE)
    try:
        verifier = NoteVerifier.from_vkey(vkey.strip())
    except NoteError as exc:
        raise ValidationError(
            f"Not a log key: {exc.message} A log key is 'Log key' in the other node's "
            "'comity ledger status'.",
            fields={"vkey": "invalid"},
        ) from None
    base = _base_url(url)
    session = uow.session
    if verifier.name == checkpoints.origin(session):
        raise ValidationError(
            "That is this node's own log; a node cannot witness itself.",
            fields={"vkey": "own_log"},
        )
    if session.scalars(
        select(LedgerFollowedLog).where(LedgerFollowedLog.origin == verifier.name)
    ).first():
        raise Conflict(f"This node already follows the log {verifier.name}.")
    row = LedgerFollowedLog(
        origin=verifier.name,
        vkey=verifier.vkey,
        url=base,
        last_size=0,
        last_root=merkle.EMPTY_ROOT,
        last_note="",
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "ledger.follow",
        target_type="followed_log",
        target_id=str(row.id),
        detail={"origin": row.origin, "url": row.url},
    )
    uow.commit()
    return row


def unfollow_log(uow: UnitOfWork, actor: Actor, origin: str) -> LedgerFollowedLog:
    """Stop witnessing the log ``origin`` and forget what this node had verified of it.

    The last checkpoint verified is kept in the audit trail (and the alarms, if any, stay
    where they are); following the log again starts over from size 0.
    """
    require(actor, Permission.LEDGER_MANAGE)
    session = uow.session
    row = session.scalars(
        select(LedgerFollowedLog).where(LedgerFollowedLog.origin == origin.strip())
    ).first()
    if row is None:
        raise NotFound(
            f"This node follows no log named {origin!r}; 'comity ledger followed' lists them."
        )
    record(
        session,
        actor,
        "ledger.unfollow",
        target_type="followed_log",
        target_id=str(row.id),
        detail={
            "origin": row.origin,
            "url": row.url,
            "last_size": row.last_size,
            "last_checkpoint": row.last_note,
        },
    )
    session.delete(row)
    uow.commit()
    return row


def list_followed(uow: UnitOfWork, actor: Actor) -> Sequence[LedgerFollowedLog]:
    require(actor, Permission.LEDGER_READ)
    return uow.session.scalars(select(LedgerFollowedLog).order_by(LedgerFollowedLog.origin)).all()


def list_alarms(uow: UnitOfWork, actor: Actor) -> Sequence[LedgerAlarm]:
    """Every alarm, newest first."""
    require(actor, Permission.LEDGER_READ)
    return uow.session.scalars(select(LedgerAlarm).order_by(LedgerAlarm.id.desc())).all()
