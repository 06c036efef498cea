"""The audit trail table.

Rows are only ever inserted. The migration that creates the table also installs database
triggers that refuse ``UPDATE`` and ``DELETE`` on it (and ``TRUNCATE`` on PostgreSQL), so
the trail cannot be pruned through the application or by a careless query.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from comity.db import Base, UTCDateTime, utcnow
from comity.i18n import mark


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


OUTCOME_LABELS = {
    Outcome.SUCCESS: mark("success"),
    Outcome.FAILURE: mark("failure"),
    Outcome.DENIED: mark("denied"),
}


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    actor_user_id: Mapped[str | None] = mapped_column(String(36), default=None)
    via: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(16), default=Outcome.SUCCESS)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_actor_user_id", "actor_user_id"),
        Index("ix_audit_events_action", "action"),
        Index("ix_audit_events_target", "target_type", "target_id"),
    )
