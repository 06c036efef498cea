"""Use cases for organisations: this node's own and the peers it knows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from comity.audit.services import record
from comity.db import UnitOfWork, utcnow
from comity.errors import Conflict, NotFound, ValidationError
from comity.identity.models import Organisation, OrganisationKind
from comity.identity.permissions import Actor, Permission, require


def local_organisation(session: Session) -> Organisation:
    org = session.scalars(select(Organisation).where(Organisation.is_local.is_(True))).first()
    if org is None:
        raise NotFound("This node has no organisation yet; run 'comity init'.")
    return org


def _validate(name: str, kind: str, country: str) -> tuple[str, str, str]:
    fields: dict[str, str] = {}
    name = name.strip()
    if not 1 <= len(name) <= 200:
        fields["name"] = "The name must have between 1 and 200 characters."
    if kind not in set(OrganisationKind):
        fields["kind"] = f"The kind must be one of: {', '.join(OrganisationKind)}."
    country = country.strip().upper()
    if country and not (len(country) == 2 and country.isalpha()):
        fields["country"] = "The country must be a two-letter ISO 3166-1 code."
    if fields:
        raise ValidationError(" ".join(fields.values()), fields=fields)
    return name, kind, country


def _check_unique(session: Session, name: str, exclude_id: str | None = None) -> None:
    query = select(Organisation.id).where(func.lower(Organisation.name) == name.lower())
    if exclude_id:
        query = query.where(Organisation.id != exclude_id)
    if session.scalars(query).first() is not None:
        raise Conflict(f"An organisation named '{name}' already exists.", fields={"name": "taken"})


def list_organisations(uow: UnitOfWork, actor: Actor) -> Sequence[Organisation]:
    require(actor, Permission.ORGANISATIONS_READ)
    return uow.session.scalars(
        select(Organisation).order_by(Organisation.is_local.desc(), Organisation.name)
    ).all()


def get_organisation(uow: UnitOfWork, actor: Actor, organisation_id: str) -> Organisation:
    require(actor, Permission.ORGANISATIONS_READ)
    org = uow.session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound("No such organisation.")
    return org


def add_peer(
    uow: UnitOfWork,
    actor: Actor,
    *,
    name: str,
    kind: str,
    country: str = "",
    description: str = "",
) -> Organisation:
    """Register a peer organisation known to this node."""
    require(actor, Permission.ORGANISATIONS_MANAGE)
    name, kind, country = _validate(name, kind, country)
    _check_unique(uow.session, name)
    org = Organisation(
        name=name, kind=kind, country=country, description=description.strip(), is_local=False
    )
    uow.session.add(org)
    uow.session.flush()
    record(
        uow.session,
        actor,
        "organisation.create",
        target_type="organisation",
        target_id=org.id,
        detail={"name": name, "kind": kind, "country": country},
    )
    uow.commit()
    return org


def update_organisation(
    uow: UnitOfWork,
    actor: Actor,
    organisation_id: str,
    *,
    name: str,
    kind: str,
    country: str = "",
    description: str = "",
) -> Organisation:
    require(actor, Permission.ORGANISATIONS_MANAGE)
    org = uow.session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound("No such organisation.")
    name, kind, country = _validate(name, kind, country)
    _check_unique(uow.session, name, exclude_id=org.id)
    before = {"name": org.name, "kind": org.kind, "country": org.country}
    org.name, org.kind, org.country = name, kind, country
    org.description = description.strip()
    org.updated_at = utcnow()
    record(
        uow.session,
        actor,
        "organisation.update",
        target_type="organisation",
        target_id=org.id,
        detail={"before": before, "after": {"name": name, "kind": kind, "country": country}},
    )
    uow.commit()
    return org
