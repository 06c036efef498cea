"""``comity evidence export``: a verifiable package of evidence items for a court or a
partner, with a progress bar of the bytes exported. Registered on the ``evidence`` group
by :mod:`comity.cli.evidence`; the package is written by :mod:`comity.vault.package` and
checked by ``comity package verify`` (:mod:`comity.cli.package`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from comity.cli.common import JsonOutput, bytes_bar, console, opened_node, plural, print_json
from comity.errors import ValidationError
from comity.node import local_operator
from comity.records import viewing
from comity.vault import package


def export(
    item_ids: Annotated[
        list[str] | None, typer.Argument(help="The ids of the items to export.")
    ] = None,
    *,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The package directory to make (new or empty).")
    ],
    records: Annotated[
        list[str] | None,
        typer.Option(
            "--record",
            help="Also the items a record links to as evidence (an incident: its acts' too).",
        ),
    ] = None,
    recipient: Annotated[
        str | None,
        typer.Option(help="Encrypt the files to this age recipient (age1…) instead."),
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Write a verifiable package: the items' files (decrypted, or encrypted to an age
    recipient), a signed manifest of hashes, their custody events with inclusion proofs,
    the cosigned checkpoint and a short report. The export is recorded per item.

    Verify it with 'comity package verify DIR --key VKEY' or tools/verify_package.py.

    Example: comity evidence export 0b6f3d0e-5c1e-4a53-9d7e-2a8e1f0c4b21 --out case-17

    Example: comity evidence export --record <incident id> --out varesh-market
    """
    chosen = list(item_ids or [])
    with opened_node() as node, bytes_bar("Exporting", enabled=not as_json) as bar:
        actor = local_operator()
        for record_id in records or []:
            chosen += [i for i in viewing.evidence_of(node, actor, record_id) if i not in chosen]
        if not chosen:
            raise ValidationError("Name the items to export, or a record that links to some.")
        task = bar.add_task("Exporting", total=None)
        done = package.export_items(
            node,
            actor,
            chosen,
            out,
            recipient=recipient,
            progress=lambda count: bar.advance(task, count),
        )
    if as_json:
        print_json(
            {
                "out": str(done.out_dir),
                "checkpoint_size": done.checkpoint_size,
                "manifest_sha256": done.manifest_sha256,
                "items": [
                    {
                        "id": i.item_id,
                        "path": i.path,
                        "sha256": i.sha256,
                        "ledger_index": i.ledger_index,
                    }
                    for i in done.items
                ],
            }
        )
        return
    for exported in done.items:
        console.print(
            f"Exported {exported.item_id} → {exported.path}; recorded as ledger entry "
            f"{exported.ledger_index}.",
            soft_wrap=True,
        )
    console.print(
        f"Package {done.out_dir}: {plural(len(done.items), 'item')}, checkpoint of "
        f"{done.checkpoint_size} entries, manifest SHA-256 {done.manifest_sha256}.",
        soft_wrap=True,
    )
