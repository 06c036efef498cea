"""``comity evidence check``: every item of the vault checked, and the leftovers no item
names listed (and, with ``--remove-leftovers``, the old ones removed). Registered on the
``evidence`` group by :mod:`comity.cli.evidence`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from comity.cli.common import (
    JsonOutput,
    bytes_bar,
    console,
    iso,
    opened_node,
    plural,
    print_json,
    when,
)
from comity.errors import ComityError
from comity.node import local_operator
from comity.vault.items import CheckReport
from comity.vault.vault_check import LEFTOVER_GRACE, Leftover, VaultCheck, check_vault


class VaultDamaged(ComityError):
    """The check found damaged items (exit 1; they are printed first)."""

    code = "vault_damaged"


def _leftover_json(leftover: Leftover) -> dict[str, Any]:
    stored = leftover.stored
    return {
        "key": stored.key,
        "kind": leftover.kind,
        "size": stored.size,
        "modified": iso(stored.modified),
        "removable": leftover.removable,
        "removed": leftover.removed,
    }


def problems_json(report: CheckReport) -> list[dict[str, str]]:
    """An item's problems for ``--json`` (also ``evidence show --check``)."""
    return [{"part": damage.value, "what": message} for damage, message in report.problems]


def print_problems(report: CheckReport) -> None:
    """An item's problems, one indented line each (also ``evidence show --check``)."""
    for damage, message in report.problems:
        console.print(f"  {damage.value}: {message}", soft_wrap=True)


def _report_json(done: VaultCheck) -> dict[str, Any]:
    return {
        "ok": done.ok,
        "items": done.items,
        "damaged": [
            {"item": report.item_id, "problems": problems_json(report)} for report in done.damaged
        ],
        "leftovers": [_leftover_json(leftover) for leftover in done.leftovers],
    }


def _print_report(done: VaultCheck, hours: int, removing: bool) -> None:
    if done.ok:
        console.print(
            f"Checked {plural(done.items, 'item')}: every blob hashes to its name and "
            "decrypts to the bytes recorded at ingest."
        )
    else:
        console.print(f"Checked {plural(done.items, 'item')}: {len(done.damaged)} DAMAGED.")
        for report in done.damaged:
            console.print(f"Item {report.item_id}:", soft_wrap=True)
            print_problems(report)
    if not done.leftovers:
        console.print("No leftovers: everything in the store belongs to an item.")
        return
    console.print(f"{plural(len(done.leftovers), 'leftover')} that no item names:")
    for leftover in done.leftovers:
        stored = leftover.stored
        state = " (removed)" if leftover.removed else ""
        console.print(
            f"  {leftover.kind} {stored.key}: {plural(stored.size, 'byte')}, last written "
            f"{when(stored.modified)} UTC{state}",
            soft_wrap=True,
        )
    waiting = [leftover for leftover in done.leftovers if leftover.removable]
    if not removing and waiting:
        console.print(
            f"{plural(len(waiting), 'leftover')} older than {hours} hours can be removed: "
            "run again with --remove-leftovers.",
            soft_wrap=True,
        )
    if any(leftover.kind == "stray" for leftover in done.leftovers):
        console.print(
            "Strays are files Comity never writes: find out who put them there; they are "
            "never removed by Comity.",
            soft_wrap=True,
        )


def check(
    remove_leftovers: Annotated[
        bool,
        typer.Option(
            "--remove-leftovers",
            help="Remove the orphan blobs and temporary files older than --older-than "
            "(needs evidence:delete).",
        ),
    ] = False,
    older_than: Annotated[
        int,
        typer.Option(
            min=1,
            help="Hours after which a leftover may be removed (an ingest still running "
            "must not be touched).",
        ),
    ] = int(LEFTOVER_GRACE / dt.timedelta(hours=1)),
    as_json: JsonOutput = False,
) -> None:
    """Check every item of the vault — its encrypted file re-hashed and decrypted against
    the SHA-256 recorded at ingest — and list what the store holds that no item names:
    blobs of interrupted ingests (orphans), temporary files of killed writers, and stray
    files. Exit code 1 if an item is damaged.

    Run it regularly (from cron, say): it reads every byte of the vault.

    Example: comity evidence check --remove-leftovers
    """
    with opened_node() as node, bytes_bar("Checking", enabled=not as_json) as bar:
        task = bar.add_task("Checking", total=None)
        done = check_vault(
            node,
            local_operator(),
            remove_leftovers=remove_leftovers,
            grace=dt.timedelta(hours=older_than),
            progress=lambda size, total: bar.update(task, advance=size, total=total),
        )
    if as_json:
        print_json(_report_json(done))
    else:
        _print_report(done, older_than, remove_leftovers)
    if not done.ok:
        raise VaultDamaged(f"{plural(len(done.damaged), 'item')} of the vault damaged.")
