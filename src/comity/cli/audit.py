"""``comity audit``: reading the audit trail (reading it is itself recorded)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import typer

from comity.audit.models import AuditEvent, Outcome
from comity.audit.services import MAX_PAGE, AuditFilter, search
from comity.cli.common import JsonOutput, console, iso, opened_node, print_json, table, when
from comity.node import local_operator

app = typer.Typer(
    help="Read the node's audit trail.\n\nExample: comity audit show --action user. --limit 20",
    no_args_is_help=True,
)


def parse_moment(value: str) -> dt.datetime:
    """An ISO 8601 date or time; without a time zone it is taken as UTC."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            "use an ISO 8601 date or time, such as 2025-03-01 or 2025-03-01T14:30+01:00"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


Since = Annotated[
    dt.datetime | None,
    typer.Option(parser=parse_moment, metavar="ISO", help="Only events at or after this time."),
]
Until = Annotated[
    dt.datetime | None,
    typer.Option(parser=parse_moment, metavar="ISO", help="Only events before this time."),
]


def event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": iso(event.at),
        "actor": event.actor,
        "actor_user_id": event.actor_user_id,
        "via": event.via,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "outcome": event.outcome,
        "detail": event.detail,
    }


@app.command()
def show(
    *,
    actor: Annotated[
        str, typer.Option(help="Only events by this actor, as shown (e.g. 'amira', 'cli:root').")
    ] = "",
    action: Annotated[
        str, typer.Option(help="Only actions starting with this (e.g. 'user.' or 'token.create').")
    ] = "",
    outcome: Annotated[str, typer.Option(help=f"Only this outcome: {', '.join(Outcome)}.")] = "",
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(help=f"At most this many events (1 to {MAX_PAGE}).")] = 50,
    as_json: JsonOutput = False,
) -> None:
    """Show audit events, newest first.

    Times are ISO 8601 dates or times; without a time zone they are taken as UTC.

    Example: comity audit show --action user. --since 2025-03-01 --until 2025-04-01
    """
    flt = AuditFilter(
        actor=actor, action=action, outcome=outcome, since=since, until=until, limit=limit
    )
    with opened_node() as node, node.uow() as uow:
        page = search(uow, local_operator(), flt)
        if as_json:
            print_json({"total": page.total, "events": [event_json(e) for e in page.events]})
            return
        rows = table(
            "ID",
            "At (UTC)",
            "Actor",
            "Action",
            "Outcome",
            "Target and detail",
            whole=("ID", "Outcome"),
        )
        for event in page.events:
            detail = json.dumps(event.detail, ensure_ascii=False)
            if event.target_type:
                detail = f"{event.target_type}:{event.target_id}\n{detail}"
            rows.add_row(
                str(event.id),
                when(event.at, seconds=True),
                event.actor,
                event.action,
                event.outcome,
                detail,
            )
        console.print(rows)
        console.print(f"{len(page.events)} of {page.total} matching events.")
