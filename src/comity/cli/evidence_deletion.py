"""``comity evidence deletion``: deleting an item under a legal process — ``request``,
``approve`` (by another person), ``withdraw`` (by the requester), ``reject`` (by another
person), ``list`` — and what ``comity evidence show`` says of a deleted item's
tombstone. Registered on the ``evidence`` group by :mod:`comity.cli.evidence`.

At the command line a person is the operator's login name (``cli:<name>``, from
``LOGNAME`` or ``USER``): the request and its approval must come from two different
logins.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from comity.cli.common import (
    JsonOutput,
    console,
    errors,
    field,
    iso,
    opened_node,
    print_json,
    table,
    when,
)
from comity.errors import ComityError
from comity.node import local_operator
from comity.vault import deletion, deletion_closing, deletion_requests
from comity.vault.deletion import Tombstone
from comity.vault.deletion_closing import Closed
from comity.vault.deletion_requests import DeletionRequest
from comity.vault.items import CheckReport

app = typer.Typer(
    help=(
        "Delete an item under a legal process: one person requests it (with the grounds "
        "and the reference of the order), another approves it; the encrypted file is "
        "removed and a tombstone keeps its hashes. A request can instead be withdrawn by "
        "its requester or rejected by someone else.\n\n"
        "Example: comity evidence deletion request ID --grounds '…' --reference 'TPI 2027/113'"
    ),
    no_args_is_help=True,
)


class NotApproved(ComityError):
    """The operator did not confirm the approval (exit 1; nothing was done)."""

    code = "not_approved"


def tombstone_json(gone: Tombstone | None) -> dict[str, Any] | None:
    if gone is None:
        return None
    return {
        "request": gone.request_id,
        "sha256": gone.sha256,
        "blob": gone.blob_name,
        "requested_by": gone.requested_by,
        "requested_at": iso(gone.requested_at),
        "approved_by": gone.approved_by,
        "deleted_at": iso(gone.deleted_at),
        "ledger_index": gone.ledger_index,
        "reference": gone.reference,
        "grounds": gone.grounds,
    }


def print_tombstone(gone: Tombstone | None) -> None:
    if gone is None:
        return
    field(
        "Deleted",
        f"{when(gone.deleted_at, seconds=True)} UTC under legal process request "
        f"#{gone.request_id}, approved by {gone.approved_by}",
    )
    field("Requested", f"{when(gone.requested_at, seconds=True)} UTC by {gone.requested_by}")
    if gone.reference is not None:
        field("Reference", gone.reference)
    field("Tombstone", f"SHA-256 {gone.sha256}, blob {gone.blob_name} (removed)")


def print_check(report: CheckReport) -> None:
    """The ``Check`` line of ``evidence show --check`` for a deleted item."""
    gone = report.tombstone
    if gone is None:
        return
    if report.ok:
        field("Check", f"deleted under request #{gone.request_id}: the blob is gone")
        return
    field("Check", f"deleted under request #{gone.request_id}, but the blob is still present")
    for damage, message in report.problems:
        console.print(f"  {damage.value}: {message}", soft_wrap=True)


def request_json(found: DeletionRequest) -> dict[str, Any]:
    request = found.request
    return {
        "id": request.id,
        "item": found.item.id,
        "name": found.item.original_name,
        "sha256": found.item.sha256,
        "grounds": request.grounds,
        "reference": request.reference,
        "requested_by": request.requested_by,
        "requested_at": iso(request.requested_at),
        "ledger_index": request.ledger_index,
        "status": found.status,
        "approved_by": found.tombstone.approved_by if found.tombstone else None,
        "deleted_at": iso(found.tombstone.deleted_at) if found.tombstone else None,
        "closed_by": found.closure.closed_by if found.closure else None,
        "closed_at": iso(found.closure.closed_at) if found.closure else None,
        "reason": found.closure.reason if found.closure else None,
    }


RequestId = Annotated[
    int, typer.Argument(help="The request's number (from 'comity evidence deletion list').")
]


@app.command()
def request(
    item_id: Annotated[str, typer.Argument(help="The id of the item to delete.")],
    grounds: Annotated[str, typer.Option(help="The legal basis of the deletion (free text).")],
    reference: Annotated[
        str, typer.Option(help="The reference of the order or decision that requires it.")
    ],
    as_json: JsonOutput = False,
) -> None:
    """Request the deletion of an item under a legal process. Nothing is deleted until
    another person holding evidence:delete approves the request.

    The grounds and the reference are kept in the vault's index; the ledger holds only
    salted commitments to them.

    Example: comity evidence deletion request d7fa7690-… --grounds 'Order of the
    investigating judge' --reference 'TPI Varesh 2027/113'
    """
    with opened_node() as node:
        made = deletion.request_deletion(node, local_operator(), item_id, grounds, reference)
    if as_json:
        print_json(
            {
                "id": made.id,
                "item": made.item_id,
                "requested_by": made.requested_by,
                "ledger_index": made.ledger_index,
            }
        )
        return
    console.print(
        f"Requested deletion #{made.id} of item {item_id}; recorded as ledger entry "
        f"{made.ledger_index}. Another person must approve it: comity evidence deletion "
        f"approve {made.id}",
        soft_wrap=True,
    )


def _confirm(found: DeletionRequest) -> None:
    item = found.item
    errors.print(
        f"Request #{found.request.id}: delete item {item.id} ({item.original_name}, SHA-256 "
        f"{item.sha256}), requested by {found.request.requested_by} on "
        f"{when(found.request.requested_at)} UTC under {found.request.reference}.",
        soft_wrap=True,
    )
    errors.print(
        "Its encrypted file will be removed for good; a tombstone keeps its hashes, and its "
        "metadata and custody chain stay.",
        soft_wrap=True,
    )
    if not typer.confirm("Approve the deletion?", default=False, err=True):
        raise NotApproved(f"Request #{found.request.id} was not approved; nothing was done.")


@app.command()
def approve(
    request_id: RequestId,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOutput = False,
) -> None:
    """Approve a deletion request made by another person: the tombstone is recorded, then
    the item's encrypted file is removed. Approving a request again only removes a file
    an interrupted approval left behind.

    Example: comity evidence deletion approve 3
    """
    operator = local_operator()
    with opened_node() as node:
        found = deletion_requests.get_deletion_request(node, operator, request_id)
        # The requester is refused (and the refusal audited) without being asked first.
        if found.open and not yes and deletion.person(operator) != found.request.requested_by:
            _confirm(found)
        done = deletion.approve_deletion(node, operator, request_id)
    if as_json:
        print_json(
            {
                "request": done.request_id,
                "item": done.item_id,
                "sha256": done.sha256,
                "deleted_at": iso(done.deleted_at),
                "ledger_index": done.ledger_index,
                "already": done.already,
                "blob_removed": done.blob_removed,
            }
        )
        return
    if not done.already:
        console.print(
            f"Deleted item {done.item_id} under request #{done.request_id}; recorded as "
            f"ledger entry {done.ledger_index}. The tombstone keeps SHA-256 {done.sha256}.",
            soft_wrap=True,
        )
    elif done.blob_removed:
        console.print(
            f"Request #{done.request_id} was approved on {when(done.deleted_at)} UTC; the "
            "encrypted file an interrupted deletion left behind is now removed.",
            soft_wrap=True,
        )
    else:
        console.print(
            f"Request #{done.request_id} was already approved on {when(done.deleted_at)} "
            "UTC; nothing is left to remove.",
            soft_wrap=True,
        )


@app.command("list")
def list_requests(as_json: JsonOutput = False) -> None:
    """List the deletion requests, open and decided, oldest first: the item's name, who
    asked and when, the reference and the status (--json adds the item ids and grounds).

    Example: comity evidence deletion list --json
    """
    with opened_node() as node:
        found = deletion_requests.list_deletion_requests(node, local_operator())
    if as_json:
        print_json([request_json(entry) for entry in found])
        return
    if not found:
        console.print("There are no deletion requests.")
        return
    # The item's id is in --json and in the approval's confirmation; at 80 columns it
    # would leave no room for the rest.
    listing = table(
        "#",
        "name",
        "requested (UTC)",
        "by",
        "reference",
        "status",
        whole=("#", "requested (UTC)"),
    )
    for entry in found:
        if entry.tombstone is not None:
            status = f"deleted {when(entry.tombstone.deleted_at)} by {entry.tombstone.approved_by}"
        elif entry.closure is not None:
            closure = entry.closure
            status = f"{closure.outcome} {when(closure.closed_at)} by {closure.closed_by}"
        else:
            status = "open"
        listing.add_row(
            str(entry.request.id),
            entry.item.original_name,
            when(entry.request.requested_at),
            entry.request.requested_by,
            entry.request.reference,
            status,
        )
    console.print(listing)


Reason = Annotated[
    str, typer.Option(help="Why the request is closed (free text, kept with the request).")
]


def _print_closed(done: Closed, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "request": done.request_id,
                "item": done.item_id,
                "status": done.outcome,
                "closed_by": done.closed_by,
                "closed_at": iso(done.closed_at),
                "ledger_index": done.ledger_index,
                "already": done.already,
            }
        )
    elif done.already:
        console.print(
            f"Request #{done.request_id} was already {done.outcome} by {done.closed_by} on "
            f"{when(done.closed_at)} UTC; nothing changed.",
            soft_wrap=True,
        )
    else:
        console.print(
            f"Request #{done.request_id} is {done.outcome}; recorded as ledger entry "
            f"{done.ledger_index}. Item {done.item_id} is kept.",
            soft_wrap=True,
        )


@app.command()
def withdraw(request_id: RequestId, reason: Reason, as_json: JsonOutput = False) -> None:
    """Withdraw a deletion request you made: it can no longer be approved, the item is
    kept, and a new request can be made for it.

    Example: comity evidence deletion withdraw 3 --reason 'Wrong item: the order names
    another file'
    """
    with opened_node() as node:
        done = deletion_closing.withdraw_deletion(node, local_operator(), request_id, reason)
    _print_closed(done, as_json)


@app.command()
def reject(request_id: RequestId, reason: Reason, as_json: JsonOutput = False) -> None:
    """Reject a deletion request made by another person: it can no longer be approved,
    the item is kept, and a new request can be made for it.

    Example: comity evidence deletion reject 3 --reason 'The order was set aside on
    appeal'
    """
    with opened_node() as node:
        done = deletion_closing.reject_deletion(node, local_operator(), request_id, reason)
    _print_closed(done, as_json)
