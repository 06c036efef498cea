"""What the home dashboard shows: the node, what the actor may see of its people, and the
ledger alarms raised while witnessing other logs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from comity.audit.models import AuditEvent, Outcome
from comity.db import UnitOfWork
from comity.identity.models import Organisation, User
from comity.identity.organisations import local_organisation
from comity.identity.permissions import Actor, Permission, require
from comity.ledger.models import LedgerAlarm


@dataclass(frozen=True)
class AlarmSummary:
    """The alarms of one kind about one witnessed log."""

    origin: str
    kind: str
    count: int
    latest: dt.datetime


@dataclass(frozen=True)
class Summary:
    organisation: Organisation
    active_users: int | None
    disabled_users: int | None
    users_without_second_factor: int | None
    peer_organisations: int | None
    recent_refusals: Sequence[AuditEvent]
    ledger_alarms: Sequence[AlarmSummary] | None


def _alarms(uow: UnitOfWork) -> list[AlarmSummary]:
    latest = func.max(LedgerAlarm.at)
    rows = uow.session.execute(
        select(LedgerAlarm.origin, LedgerAlarm.kind, func.count(LedgerAlarm.id), latest)
        .group_by(LedgerAlarm.origin, LedgerAlarm.kind)
        .order_by(latest.desc())
    ).all()
    return [AlarmSummary(origin, kind, count, at) for origin, kind, count, at in rows]


def summary(uow: UnitOfWork, actor: Actor) -> Summary:
    """Counts shown only to those allowed to see them (``None`` means hidden)."""
    require(actor, Permission.NODE_VIEW)
    session = uow.session
    active = disabled = without_2fa = peers = None
    refusals: Sequence[AuditEvent] = ()
    alarms: list[AlarmSummary] | None = None
    if actor.can(Permission.USERS_READ):
        active = session.scalar(select(func.count(User.id)).where(User.is_active.is_(True)))
        disabled = session.scalar(select(func.count(User.id)).where(User.is_active.is_(False)))
        without_2fa = session.scalar(
            select(func.count(User.id)).where(
                User.is_active.is_(True), User.totp_enabled_at.is_(None)
            )
        )
    if actor.can(Permission.ORGANISATIONS_READ):
        peers = session.scalar(
            select(func.count(Organisation.id)).where(Organisation.is_local.is_(False))
        )
    if actor.can(Permission.AUDIT_READ):
        refusals = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.outcome != Outcome.SUCCESS)
            .order_by(AuditEvent.id.desc())
            .limit(5)
        ).all()
    if actor.can(Permission.LEDGER_READ):
        alarms = _alarms(uow)
    return Summary(
        organisation=local_organisation(session),
        active_users=active,
        disabled_users=disabled,
        users_without_second_factor=without_2fa,
        peer_organisations=peers,
        recent_refusals=refusals,
        ledger_alarms=alarms,
    )
