"""The audit trail page, with filters; htmx refreshes only the table."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from comity import errors
from comity.audit import services as audit
from comity.audit.models import Outcome
from comity.db import UnitOfWork
from comity.identity.permissions import Actor
from comity.web.deps import get_uow, permission
from comity.web.guards import page_actor
from comity.web.templating import render

router = APIRouter()
PAGE_SIZE = 50


def _date(value: str, field: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
    except ValueError:
        raise errors.ValidationError(
            f"'{value}' is not a date (YYYY-MM-DD).", fields={field: "date"}
        ) from None


@router.get("/audit", openapi_extra=permission("audit:read"))
def audit_page(
    request: Request,
    uow: Annotated[UnitOfWork, Depends(get_uow)],
    actor: Annotated[Actor, Depends(page_actor)],
    who: Annotated[str, Query(max_length=100)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    outcome: Annotated[str, Query(max_length=16)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    form = {"who": who, "action": action, "outcome": outcome, "since": since, "until": until}
    try:
        end = _date(until, "until")
        flt = audit.AuditFilter(
            actor=who.strip(),
            action=action.strip(),
            outcome=outcome,
            since=_date(since, "since"),
            until=end + dt.timedelta(days=1) if end else None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        result = audit.search(uow, actor, flt)
    except errors.ValidationError as exc:
        failed: dict[str, object] = {
            "form": form,
            "outcomes": list(Outcome),
            "error": exc.message,
            "result": None,
        }
        return render(request, "audit/page.html", failed, status=422)
    context: dict[str, object] = {
        "form": form,
        "outcomes": list(Outcome),
        "result": result,
        "page": page,
        "pages": max(1, -(-result.total // PAGE_SIZE)),
    }
    template = "audit/table.html" if request.headers.get("hx-request") else "audit/page.html"
    return render(request, template, context)
