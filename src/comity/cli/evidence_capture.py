"""``comity evidence capture``, ``comity evidence group show`` and ``comity evidence
timestamp``: web captures kept as one item group, and RFC 3161 time-stamps of items;
with what ``comity evidence show`` and ``add`` say about an item's groups and tokens.
Registered on the ``evidence`` group by :mod:`comity.cli.evidence`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from comity.cli.common import (
    JsonOutput,
    console,
    errors,
    field,
    iso,
    opened_node,
    plural,
    print_json,
    progress_bar,
    table,
    when,
)
from comity.errors import ComityError, ValidationError
from comity.ledger.note import b64encode
from comity.node import local_operator
from comity.vault import captures, timestamps
from comity.vault.inputs import Acquisition
from comity.vault.items import ItemView

group_app = typer.Typer(
    help=(
        "Item groups: the files of one web capture (HTML, screenshot, WACZ …) kept "
        "together with its URL and capture time.\n\n"
        "Example: comity evidence group show 5c1e0f3a-…"
    ),
    no_args_is_help=True,
)


class TimestampingFailed(ComityError):
    """The authority did not time-stamp every pending item (exit 1; what was done is
    printed first)."""

    code = "timestamping_failed"


def _moment(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"--captured-at {text!r} is not a time such as 2026-03-14T09:31:07+02:00 (or Z "
            "for UTC).",
            fields={"captured_at": "invalid"},
        ) from None


def stamp_note(stamp: timestamps.ItemStamp | timestamps.ItemStampFailure | None) -> str | None:
    """What ``evidence add`` and ``capture`` say under a new item about its time-stamp."""
    if isinstance(stamp, timestamps.ItemStamp):
        return f"  time-stamped {when(stamp.gen_time, seconds=True)} UTC by {stamp.authority}"
    if isinstance(stamp, timestamps.ItemStampFailure):
        return (
            "  not time-stamped yet ('comity evidence timestamp' tries again): "
            f"{stamp.error.message}"
        )
    return None


def context_json(view: ItemView) -> dict[str, Any]:
    """The groups and time-stamps of an item, for ``evidence show --json``."""
    return {
        "groups": [
            {
                "id": group.id,
                "kind": group.kind,
                "role": role,
                "url": group.url,
                "captured_at": iso(group.captured_at),
                "title": group.title,
            }
            for group, role in view.groups
        ],
        "timestamps": [
            {
                "authority": row.authority,
                "gen_time": iso(row.gen_time),
                "ledger_index": ledger_index,
                "token": b64encode(row.token),
            }
            for row, ledger_index in view.timestamps
        ],
    }


def print_context(view: ItemView) -> None:
    """The lines of ``evidence show`` about an item's groups and time-stamps."""
    for group, role in view.groups:
        field(
            "Group",
            f"{group.id} ({role} of the web capture of {group.url}, "
            f"{when(group.captured_at, seconds=True)} UTC)",
        )
    for row, ledger_index in view.timestamps:
        field(
            "Time-stamp",
            f"{when(row.gen_time, seconds=True)} UTC by {row.authority} (ledger {ledger_index})",
        )


def capture(
    *,
    url: Annotated[
        str | None, typer.Option(help="The page's URL (default: the WACZ's main page).")
    ] = None,
    captured_at: Annotated[
        str | None,
        typer.Option(help="When it was captured, with its time zone (default: the WACZ's)."),
    ] = None,
    html: Annotated[list[Path] | None, typer.Option(help="The page's HTML.")] = None,
    screenshot: Annotated[list[Path] | None, typer.Option(help="A screenshot of it.")] = None,
    wacz: Annotated[list[Path] | None, typer.Option(help="A WACZ web archive of it.")] = None,
    other: Annotated[
        list[Path] | None, typer.Option(help="Another file of the capture (repeatable).")
    ] = None,
    title: Annotated[str, typer.Option(help="The page's title.")] = "",
    who: Annotated[str, typer.Option(help="Who captured it.")] = "",
    how: Annotated[str, typer.Option(help="How it was captured.")] = "",
    tool: Annotated[str, typer.Option(help="With what software.")] = "",
    as_json: JsonOutput = False,
) -> None:
    """Keep a web capture: its HTML, screenshot, WACZ archive and other files, each
    added as an item, grouped with the page's URL and capture time.

    Without --url or --captured-at they are read from the WACZ; a URL given that is not
    among the WACZ's pages is a warning. Re-running the same capture adds nothing.

    Example: comity evidence capture --url https://example.org/news/1 --html page.html
    --screenshot page.png --wacz page.wacz --captured-at 2026-03-14T09:31:07+02:00
    """
    files = {"html": html or [], "screenshot": screenshot or [], "wacz": wacz or []}
    files["other"] = other or []
    acquisition = Acquisition(who=who, how=how, tool=tool)
    with opened_node() as node:
        done = captures.add_capture(
            node,
            local_operator(),
            url,
            _moment(captured_at),
            files,
            title=title,
            acquisition=acquisition,
        )
    if as_json:
        print_json(
            {
                "group": done.group_id,
                "created": done.created,
                "url": done.url,
                "captured_at": iso(done.captured_at),
                "title": done.title,
                "ledger_index": done.ledger_index,
                "members": [
                    {"role": role, "id": r.item_id, "name": r.name, "sha256": r.sha256}
                    | {"created": r.created}
                    for role, r in done.members
                ],
                "warnings": list(done.warnings),
            }
        )
        return
    for role, result in done.members:
        verb = "Added" if result.created else "Already held"
        console.print(
            f"{verb}: {result.name} → {result.item_id} ({role}, {result.media_type}, "
            f"{plural(result.size, 'byte')})",
            soft_wrap=True,
        )
        note = stamp_note(result.timestamp)
        if note:
            console.print(note, soft_wrap=True)
    what = "Web capture" if done.created else "Already held: web capture"
    console.print(
        f"{what} {done.group_id} of {done.url}, captured "
        f"{when(done.captured_at, seconds=True)} UTC: {plural(len(done.members), 'file')}; "
        f"ledger entry {done.ledger_index}.",
        soft_wrap=True,
    )
    for warning in done.warnings:
        errors.print(Text.assemble(("Warning:", "yellow"), " ", warning), soft_wrap=True)


@group_app.command("show")
def show_group(
    group_id: Annotated[str, typer.Argument(help="The group's id.")],
    as_json: JsonOutput = False,
) -> None:
    """Show an item group: the web capture's URL and capture time, and its files with
    their roles.

    Example: comity evidence group show 5c1e0f3a-0d7b-4f6e-9c61-2b8d0f4e7a15 --json
    """
    with opened_node() as node:
        view = captures.get_group(node, local_operator(), group_id)
    group = view.group
    if as_json:
        print_json(
            {
                "id": group.id,
                "kind": group.kind,
                "url": group.url,
                "captured_at": iso(group.captured_at),
                "title": group.title,
                "created_by": group.created_by,
                "created_at": iso(group.created_at),
                "ledger_index": group.ledger_index,
                "members": [
                    {"role": role, "id": item.id, "name": item.original_name}
                    | {"media_type": item.media_type, "size": item.size, "sha256": item.sha256}
                    for role, item in view.members
                ],
            }
        )
        return
    field("Group", group.id)
    field("Kind", group.kind.replace("_", " "))
    field("URL", group.url or "-")
    field("Captured", f"{when(group.captured_at, seconds=True)} UTC")
    if group.title:
        field("Title", group.title)
    field("Recorded", f"{when(group.created_at, seconds=True)} UTC by {group.created_by}")
    field("Ledger", str(group.ledger_index))
    members = table("role", "id", "name", "type", "size", whole=("role", "id", "size"))
    for role, item in view.members:
        members.add_row(role, item.id, item.original_name, item.media_type, str(item.size))
    console.print(members)


def timestamp(as_json: JsonOutput = False) -> None:
    """Time-stamp the evidence items that have no time-stamp yet by the RFC 3161
    authority of COMITY_TSA_URL, oldest first (needs COMITY_VAULT_TIMESTAMPS).

    Each token's imprint is an item's SHA-256, and it is kept only once it verifies. The
    first item the authority does not time-stamp ends the run: the reason is recorded in
    the audit trail (evidence.timestamp, failure), the rest wait for the next run, and
    the command exits with code 1.

    Example: comity evidence timestamp --json
    """
    with opened_node() as node, progress_bar("Time-stamping", enabled=not as_json) as progress:
        run = timestamps.timestamp_pending_items(node, local_operator(), progress=progress)
    failure = run.failure
    if as_json:
        print_json(
            {
                "authority": run.authority,
                "ok": run.ok,
                "stamped": [
                    {"id": s.item_id, "gen_time": iso(s.gen_time), "ledger_index": s.ledger_index}
                    for s in run.stamped
                ],
                "failed": {"id": failure.item_id, "error": failure.error.code}
                | {"message": failure.error.message}
                if failure is not None
                else None,
                "pending": run.pending,
            }
        )
    else:
        for stamp in run.stamped:
            console.print(
                f"{stamp.item_id}: time-stamped {when(stamp.gen_time, seconds=True)} UTC",
                soft_wrap=True,
            )
        if failure is not None:
            console.print(
                f"{failure.item_id}: not time-stamped: {failure.error.message}", soft_wrap=True
            )
        if not run.stamped and run.ok:
            console.print("Every item is time-stamped already.")
        else:
            console.print(
                f"{plural(len(run.stamped), 'item')} time-stamped by {run.authority}; "
                f"{run.pending} still without a time-stamp.",
                soft_wrap=True,
            )
    if failure is not None:
        raise TimestampingFailed(
            f"Item {failure.item_id} was not time-stamped ({plural(run.pending, 'item')} "
            f"still without a time-stamp; 'comity evidence timestamp' tries again): "
            f"{failure.error.message}"
        )
