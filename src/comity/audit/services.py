"""Writing to and reading from the audit trail.

:func:`record` is the helper every service calls inside its unit of work; it never
commits. Refusals and failed sign-ins must survive the rollback of the work that was
refused, so the edges call :func:`record_refusal`, which uses its own unit of work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from comity.audit.models import AuditEvent, Outcome
from comity.db import UnitOfWork
from comity.errors import ValidationError
from comity.identity.permissions import Actor, Permission, require

MAX_PAGE = 500


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target_type: str = "",
    target_id: str = "",
    outcome: Outcome = Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one audit event to the current transaction (does not commit)."""
    event = AuditEvent(
        actor=actor.label[:100],
        actor_user_id=actor.user_id,
        via=actor.via,
        ip=(actor.ip or "")[:64],
        user_agent=(actor.user_agent or "")[:300],
        action=action,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        detail=detail or {},
    )
    session.add(event)
    return event


def record_refusal(
    session_factory: sessionmaker[Session],
    actor: Actor,
    action: str,
    *,
    outcome: Outcome = Outcome.DENIED,
    target_type: str = "",
    target_id: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Record a refused or failed action in a transaction of its own."""
    with UnitOfWork(session_factory) as uow:
        record(
            uow.session,
            actor,
            action,
            outcome=outcome,
            target_type=target_type,
            target_id=target_id,
            detail=detail,
        )
        uow.commit()


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    target_type: str = ""
    target_id: str = ""
    outcome: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 100
    offset: int = 0

    def describe(self) -> dict[str, str]:
        shown = {
            "actor": self.actor,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "outcome": self.outcome,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {key: value for key, value in shown.items() if value}


@dataclass(frozen=True)
class AuditPage:
    events: Sequence[AuditEvent]
    total: int
    filter: AuditFilter


def _apply(query: Select[Any], flt: AuditFilter) -> Select[Any]:
    if flt.actor:
        query = query.where(AuditEvent.actor == flt.actor)
    if flt.action:
        query = query.where(AuditEvent.action.startswith(flt.action, autoescape=True))
    if flt.target_type:
        query = query.where(AuditEvent.target_type == flt.target_type)
    if flt.target_id:
        query = query.where(AuditEvent.target_id == flt.target_id)
    if flt.outcome:
        query = query.where(AuditEvent.outcome == flt.outcome)
    if flt.since:
        query = query.where(AuditEvent.at >= flt.since)
    if flt.until:
        query = query.where(AuditEvent.at < flt.until)
    return query


def search(uow: UnitOfWork, actor: Actor, flt: AuditFilter) -> AuditPage:
    """Read the trail, newest first. Reading the trail is itself recorded."""
    require(actor, Permission.AUDIT_READ)
    if not 1 <= flt.limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}", fields={"limit": "range"})
    for name, value in (("since", flt.since), ("until", flt.until)):
        if value is not None and value.tzinfo is None:
            raise ValidationError(f"{name} must carry a time zone", fields={name: "timezone"})
    if flt.offset < 0:
        raise ValidationError("offset must not be negative", fields={"offset": "range"})
    if flt.outcome and flt.outcome not in set(Outcome):
        raise ValidationError(
            f"outcome must be one of {', '.join(Outcome)}", fields={"outcome": "choice"}
        )
    session = uow.session
    total = session.scalar(_apply(select(func.count(AuditEvent.id)), flt)) or 0
    events = session.scalars(
        _apply(select(AuditEvent), flt)
        .order_by(AuditEvent.id.desc())
        .limit(flt.limit)
        .offset(flt.offset)
    ).all()
    record(session, actor, "audit.read", detail={"filter": flt.describe(), "rows": len(events)})
    uow.commit()
    return AuditPage(events=events, total=total, filter=flt)
