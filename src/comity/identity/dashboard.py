"""What the home dashboard shows: the node, and what the actor may see of its people."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from comity.audit.models import AuditEvent, Outcome
from comity.db import UnitOfWork
from comity.identity.models import Organisation, User
from comity.identity.organisations import local_organisation
from comity.identity.permissions import Actor, Permission, require


@dataclass(frozen=True)
class Summary:
    organisation: Organisation
    active_users: int | None
    disabled_users: int | None
    users_without_second_factor: int | None
    peer_organisations: int | None
    recent_refusals: Sequence[AuditEvent]


def summary(uow: UnitOfWork, actor: Actor) -> Summary:
    """Counts shown only to those allowed to see them (``None`` means hidden)."""
    require(actor, Permission.NODE_VIEW)
    session = uow.session
    active = disabled = without_2fa = peers = None
    refusals: Sequence[AuditEvent] = ()
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
    return Summary(
        organisation=local_organisation(session),
        active_users=active,
        disabled_users=disabled,
        users_without_second_factor=without_2fa,
        peer_organisations=peers,
        recent_refusals=refusals,
    )
