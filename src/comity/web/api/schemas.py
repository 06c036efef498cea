"""Shapes of the JSON API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorOut(BaseModel):
    error: str
    message: str
    fields: dict[str, str] = {}


class HealthOut(BaseModel):
    status: str
    version: str


class OrganisationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: str
    country: str
    description: str
    is_local: bool


class OrganisationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(default="ngo", max_length=32)
    country: str = Field(default="", max_length=2)
    description: str = Field(default="", max_length=5000)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    username: str
    display_name: str
    email: str
    roles: list[str] = Field(validation_alias="role_names")
    is_active: bool
    totp_enabled: bool
    must_change_password: bool
    created_at: dt.datetime
    disabled_at: dt.datetime | None


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=64)
    roles: list[str] = Field(min_length=1, max_length=20)
    display_name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=320)


class UserCreatedOut(BaseModel):
    user: UserOut
    one_time_password: str


class RolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[str] = Field(min_length=1, max_length=20)


class MeOut(BaseModel):
    user_id: str | None
    username: str
    via: str
    roles: list[str]
    permissions: list[str]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=50)
    days: int = Field(default=90, ge=1)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    user_id: str
    name: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenCreatedOut(BaseModel):
    token: TokenOut
    secret: str


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    actor: str
    actor_user_id: str | None
    via: str
    ip: str
    user_agent: str
    action: str
    target_type: str
    target_id: str
    outcome: str
    detail: dict[str, Any]


class AuditPageOut(BaseModel):
    total: int
    events: list[AuditEventOut]


class RoleOut(BaseModel):
    role: str
    label: str
    permissions: list[str]
