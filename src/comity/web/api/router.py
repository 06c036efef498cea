"""Routes of the JSON API. Each parses input, calls one service and shapes the output."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from comity import __version__
from comity.audit import services as audit
from comity.db import UnitOfWork
from comity.identity import organisations, tokens, users
from comity.identity.permissions import ROLE_LABELS, ROLE_PERMISSIONS, Actor
from comity.settings import Settings
from comity.web.api import exchange, ledger, node, payloads, records, uploads
from comity.web.api.schemas import (
    AuditEventOut,
    AuditPageOut,
    ErrorOut,
    HealthOut,
    MeOut,
    OrganisationIn,
    OrganisationOut,
    RoleOut,
    RolesIn,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
    UserCreatedOut,
    UserIn,
    UserOut,
)
from comity.web.deps import get_settings, get_uow, permission
from comity.web.guards import api_actor

router = APIRouter(
    responses={
        401: {"model": ErrorOut, "description": "No valid API token."},
        403: {"model": ErrorOut, "description": "The token lacks the permission."},
        422: {"model": ErrorOut, "description": "The input is not valid; nothing changed."},
    }
)
UoW = Annotated[UnitOfWork, Depends(get_uow)]
Caller = Annotated[Actor, Depends(api_actor)]
Config = Annotated[Settings, Depends(get_settings)]
router.include_router(ledger.router)
router.include_router(node.router)
router.include_router(uploads.router)
router.include_router(records.router)
router.include_router(exchange.router)
router.include_router(payloads.router)


@router.get("/health", tags=["node"])
def health() -> HealthOut:
    """Liveness check; public, reveals nothing but the version."""
    return HealthOut(status="ok", version=__version__)


@router.get("/me", tags=["node"])
def me(actor: Caller) -> MeOut:
    """Who the token belongs to and what it may do."""
    return MeOut(
        user_id=actor.user_id,
        username=actor.label,
        via=actor.via,
        roles=sorted(actor.roles),
        permissions=sorted(actor.permissions),
    )


@router.get("/roles", tags=["node"])
def roles() -> list[RoleOut]:
    """The permission table: what each role grants."""
    return [
        RoleOut(role=role.value, label=ROLE_LABELS[role], permissions=sorted(perms))
        for role, perms in ROLE_PERMISSIONS.items()
    ]


@router.get("/users", tags=["users"], openapi_extra=permission("users:read"))
def list_users(uow: UoW, actor: Caller) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in users.list_users(uow, actor)]


@router.post(
    "/users",
    tags=["users"],
    status_code=status.HTTP_201_CREATED,
    openapi_extra=permission("users:manage"),
)
def create_user(body: UserIn, uow: UoW, actor: Caller) -> UserCreatedOut:
    """Create a user; the one-time password is shown only in this response."""
    created = users.create_user(
        uow,
        actor,
        username=body.username,
        roles=body.roles,
        display_name=body.display_name,
        email=body.email,
    )
    return UserCreatedOut(
        user=UserOut.model_validate(created.user), one_time_password=created.one_time_password
    )


@router.get("/users/{user_id}", tags=["users"], openapi_extra=permission("users:read"))
def get_user(user_id: str, uow: UoW, actor: Caller) -> UserOut:
    return UserOut.model_validate(users.get_user(uow, actor, user_id))


@router.put("/users/{user_id}/roles", tags=["users"], openapi_extra=permission("users:manage"))
def set_roles(user_id: str, body: RolesIn, uow: UoW, actor: Caller) -> UserOut:
    return UserOut.model_validate(users.set_roles(uow, actor, user_id, body.roles))


@router.post("/users/{user_id}/disable", tags=["users"], openapi_extra=permission("users:manage"))
def disable_user(user_id: str, uow: UoW, actor: Caller) -> UserOut:
    return UserOut.model_validate(users.disable_user(uow, actor, user_id))


@router.post("/users/{user_id}/enable", tags=["users"], openapi_extra=permission("users:manage"))
def enable_user(user_id: str, uow: UoW, actor: Caller) -> UserOut:
    return UserOut.model_validate(users.enable_user(uow, actor, user_id))


@router.post(
    "/users/{user_id}/reset-password", tags=["users"], openapi_extra=permission("users:manage")
)
def reset_password(user_id: str, uow: UoW, actor: Caller) -> UserCreatedOut:
    reset = users.reset_password(uow, actor, user_id)
    return UserCreatedOut(
        user=UserOut.model_validate(reset.user), one_time_password=reset.one_time_password
    )


@router.get(
    "/organisations", tags=["organisations"], openapi_extra=permission("organisations:read")
)
def list_organisations(uow: UoW, actor: Caller) -> list[OrganisationOut]:
    return [OrganisationOut.model_validate(o) for o in organisations.list_organisations(uow, actor)]


@router.post(
    "/organisations",
    tags=["organisations"],
    status_code=status.HTTP_201_CREATED,
    openapi_extra=permission("organisations:manage"),
)
def add_organisation(body: OrganisationIn, uow: UoW, actor: Caller) -> OrganisationOut:
    """Register a peer organisation known to this node."""
    org = organisations.add_peer(
        uow,
        actor,
        name=body.name,
        kind=body.kind,
        country=body.country,
        description=body.description,
    )
    return OrganisationOut.model_validate(org)


@router.get(
    "/organisations/{organisation_id}",
    tags=["organisations"],
    openapi_extra=permission("organisations:read"),
)
def get_organisation(organisation_id: str, uow: UoW, actor: Caller) -> OrganisationOut:
    return OrganisationOut.model_validate(
        organisations.get_organisation(uow, actor, organisation_id)
    )


@router.put(
    "/organisations/{organisation_id}",
    tags=["organisations"],
    openapi_extra=permission("organisations:manage"),
)
def update_organisation(
    organisation_id: str, body: OrganisationIn, uow: UoW, actor: Caller
) -> OrganisationOut:
    org = organisations.update_organisation(
        uow,
        actor,
        organisation_id,
        name=body.name,
        kind=body.kind,
        country=body.country,
        description=body.description,
    )
    return OrganisationOut.model_validate(org)


@router.get("/audit", tags=["audit"], openapi_extra=permission("audit:read"))
def audit_events(
    uow: UoW,
    actor: Caller,
    actor_name: Annotated[str, Query(alias="actor", max_length=100)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    target_type: Annotated[str, Query(max_length=32)] = "",
    target_id: Annotated[str, Query(max_length=64)] = "",
    outcome: Annotated[str, Query(max_length=16)] = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AuditPageOut:
    """The audit trail, newest first, filtered. Reading it is itself audited."""
    page = audit.search(
        uow,
        actor,
        audit.AuditFilter(
            actor=actor_name,
            action=action,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,
            since=_aware(since),
            until=_aware(until),
            limit=limit,
            offset=offset,
        ),
    )
    return AuditPageOut(
        total=page.total, events=[AuditEventOut.model_validate(e) for e in page.events]
    )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


@router.get("/tokens", tags=["tokens"], openapi_extra=permission("tokens:own"))
def list_tokens(uow: UoW, actor: Caller) -> list[TokenOut]:
    """The caller's own API tokens."""
    return [
        TokenOut.model_validate(t) for t in tokens.list_tokens(uow, actor, user_id=actor.user_id)
    ]


@router.post(
    "/tokens",
    tags=["tokens"],
    status_code=status.HTTP_201_CREATED,
    openapi_extra=permission("tokens:own"),
)
def create_token(body: TokenIn, uow: UoW, actor: Caller, settings: Config) -> TokenCreatedOut:
    """Create a token for the caller; the secret is shown only in this response."""
    created = tokens.create_token(
        uow,
        settings,
        actor,
        user_id=actor.user_id or "",
        name=body.name,
        scopes=body.scopes,
        days=body.days,
    )
    return TokenCreatedOut(token=TokenOut.model_validate(created.token), secret=created.secret)


@router.delete("/tokens/{token_id}", tags=["tokens"], openapi_extra=permission("tokens:own"))
def revoke_token(token_id: str, uow: UoW, actor: Caller) -> TokenOut:
    return TokenOut.model_validate(tokens.revoke_token(uow, actor, token_id))
