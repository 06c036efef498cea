"""``comity evidence``: the evidence vault — add files (encrypted, hashed, recorded on the
ledger), list what is held, show an item with its custody chain and integrity, and get
an original back. The group's other commands live in modules of their own, registered
here: ``export`` (:mod:`comity.cli.evidence_export`), ``check``
(:mod:`comity.cli.evidence_check`), ``capture``, ``group`` and
``timestamp`` (:mod:`comity.cli.evidence_capture`), ``derive``
(:mod:`comity.cli.evidence_lineage`) and ``deletion`` (:mod:`comity.cli.evidence_deletion`).

Every file given is checked before any is stored: a missing, empty or unreadable file,
a directory without ``--recursive`` or a name with control characters stops the command
with nothing added. Re-running the same command skips what is already held (by the
SHA-256 of its bytes), so an interrupted ingest of a large folder is resumed by running
it again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from comity.cli import (
    evidence_capture,
    evidence_check,
    evidence_deletion,
    evidence_export,
    evidence_lineage,
)
from comity.cli.common import (
    JsonOutput,
    bytes_bar,
    console,
    field,
    iso,
    opened_node,
    plural,
    print_json,
    table,
    when,
)
from comity.errors import ComityError, ValidationError
from comity.node import local_operator
from comity.vault import ingest, inputs, items
from comity.vault.metadata_view import describe
from comity.vault.models import VaultCustody, VaultItem, VaultMetadata

app = typer.Typer(
    help=(
        "The evidence vault: add files, list and show items with their custody chain, "
        "check them, and get originals back.\n\n"
        "Example: comity evidence add photos/ --recursive --who 'Field team 3' "
        "--where 'Varesh, market square'"
    ),
    no_args_is_help=True,
)

ItemId = Annotated[str, typer.Argument(help="The item's id (from 'comity evidence list').")]


class ItemDamaged(ComityError):
    """A check found damage (exit 1; the problems are printed first)."""

    code = "item_damaged"


def _inputs(paths: list[Path], *, recursive: bool) -> list[Path]:
    """Every file to add, each checked, before anything is stored."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            if not recursive:
                raise ValidationError(
                    f"{path} is a directory; add the files in it with --recursive.",
                    fields={"path": "directory"},
                )
            files.extend(inputs.files_under(path))
        else:
            files.append(path)
    for path in files:
        stream, _ = inputs.open_input(path)
        stream.close()
    return files


def item_json(item: VaultItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.original_name,
        "sha256": item.sha256,
        "size": item.size,
        "media_type": item.media_type,
        "acquisition": item.acquisition,
        "added_by": item.added_by,
        "added_at": iso(item.added_at),
        "ledger_index": item.ledger_index,
        "blob": item.blob_name,
        "blob_size": item.blob_size,
    }


def custody_json(row: VaultCustody) -> dict[str, Any]:
    return {
        "action": row.action,
        "actor": row.actor,
        "at": iso(row.at),
        "ledger_index": row.ledger_index,
        "detail": row.detail,
    }


def metadata_json(row: VaultMetadata | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return row.extracted | {"versions": row.versions, "extracted_at": iso(row.extracted_at)}


@app.command()
def add(
    paths: Annotated[
        list[Path], typer.Argument(help="Files (or, with --recursive, directories) to add.")
    ],
    *,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Add the files inside directories.")
    ] = False,
    who: Annotated[str, typer.Option(help="Who collected the files.")] = "",
    when_: Annotated[
        str, typer.Option("--when", help="When they were captured (as you know it).")
    ] = "",
    where: Annotated[str, typer.Option(help="Where they were captured.")] = "",
    how: Annotated[str, typer.Option(help="How they were obtained.")] = "",
    tool: Annotated[str, typer.Option(help="With what device or software.")] = "",
    as_json: JsonOutput = False,
) -> None:
    """Add files to the vault: each is encrypted to the node's key, hashed (SHA-256) in
    the same pass, and recorded on the ledger with its custody chain started.

    The acquisition details apply to every file of the command. They are kept in the
    vault's index; the ledger holds only salted commitments to them and to the file
    names. Files already held (same bytes) are skipped and named: re-run an interrupted
    command to finish it.

    Example: comity evidence add IMG_0412.jpg --who 'A. Haddad' --where Varesh --tool phone
    """
    acquisition = inputs.Acquisition(who=who, when=when_, where=where, how=how, tool=tool)
    acquisition.given()  # refuse bad details before any file is read
    operator = local_operator()
    added: list[ingest.AddResult] = []
    skipped: list[ingest.AddResult] = []
    with opened_node() as node:
        files = _inputs(paths, recursive=recursive)
        total = sum(path.stat().st_size for path in files)
        with bytes_bar("Adding", enabled=not as_json) as bar:
            task = bar.add_task("Adding", total=total)
            results = ingest.add_files(
                node,
                operator,
                files,
                acquisition,
                progress=lambda count: bar.advance(task, count),
            )
            for path, result in zip(files, results, strict=True):
                (added if result.created else skipped).append(result)
                if not as_json:
                    verb = "Added" if result.created else "Already held"
                    console.print(
                        f"{verb}: {path} → {result.item_id} ({result.media_type}, "
                        f"{plural(result.size, 'byte')})",
                        soft_wrap=True,
                    )
                    for other in result.near_duplicates:
                        console.print(f"  looks like item {other}", soft_wrap=True)
                    if note := evidence_capture.stamp_note(result.timestamp):
                        console.print(note, soft_wrap=True)
    if as_json:
        print_json(
            {
                "added": [{"id": r.item_id, "name": r.name, "sha256": r.sha256} for r in added],
                "skipped": [{"id": r.item_id, "name": r.name, "sha256": r.sha256} for r in skipped],
            }
        )
        return
    console.print(f"{plural(len(added), 'file')} added, {len(skipped)} already held.")


@app.command("list")
def list_items(as_json: JsonOutput = False) -> None:
    """List the items held, oldest first.

    Example: comity evidence list --json
    """
    with opened_node() as node:
        found = items.list_with_lineage(node, local_operator())
    if as_json:
        print_json([item_json(e.item) | evidence_lineage.listed_json(e) for e in found])
        return
    if not found:
        console.print("The vault holds no items yet: add some with 'comity evidence add'.")
        return
    listing = table(
        "id", "added (UTC)", "size", "type", "name", "status", whole=("id", "added (UTC)", "size")
    )
    for entry in found:
        item = entry.item
        listing.add_row(
            item.id,
            when(item.added_at),
            str(item.size),
            item.media_type,
            item.original_name,
            evidence_lineage.listed_status(entry),
        )
    console.print(listing)


def _print_check(report: items.CheckReport) -> None:
    if report.tombstone is not None:
        evidence_deletion.print_check(report)
        return
    if report.ok:
        field("Check", "intact: the blob hashes to its name and decrypts to the recorded bytes")
        return
    field("Check", f"DAMAGED: {plural(len(report.problems), 'problem')}")
    evidence_check.print_problems(report)


@app.command()
def show(
    item_id: ItemId,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Also re-hash the blob and decrypt it to verify the original."
        ),
    ] = False,
    as_json: JsonOutput = False,
) -> None:
    """Show an item: its hashes, acquisition details and custody chain with the ledger
    index of every action. With --check, verify the stored bytes too (exit 1 if damaged).

    Example: comity evidence show 0b6f3d0e-5c1e-4a53-9d7e-2a8e1f0c4b21 --check
    """
    operator = local_operator()
    with opened_node() as node:
        view = items.get_item(node, operator, item_id)
        report = items.check_item(node, operator, item_id) if check else None
    item = view.item
    if as_json:
        data = item_json(item) | {
            "metadata": metadata_json(view.metadata),
            "custody": [custody_json(row) for row in view.custody],
            **evidence_capture.context_json(view),
            **evidence_lineage.lineage_json(view),
            "tombstone": evidence_deletion.tombstone_json(view.tombstone),
        }
        if report is not None:
            data["check"] = {"ok": report.ok, "problems": evidence_check.problems_json(report)}
        print_json(data)
    else:
        field("Item", item.id)
        field("Name", item.original_name)
        field("Type", item.media_type)
        field("Size", plural(item.size, "byte"))
        field("SHA-256", item.sha256)
        field("Added", f"{when(item.added_at, seconds=True)} UTC by {item.added_by}")
        for name, value in item.acquisition.items():
            field(f"Acquisition {name}", str(value))
        field("Blob", f"{item.blob_name} ({plural(item.blob_size, 'byte')})")
        if view.metadata is None:
            field("Metadata", "not extracted (added before metadata extraction)")
        else:
            for label, value in describe(view.metadata.extracted):
                field(label, value)
        evidence_capture.print_context(view)
        evidence_lineage.print_lineage(view)
        evidence_deletion.print_tombstone(view.tombstone)
        chain = table("#", "action", "by", "at (UTC)", "ledger", whole=("at (UTC)", "ledger"))
        for number, row in enumerate(view.custody, start=1):
            chain.add_row(
                str(number),
                row.action,
                row.actor,
                when(row.at, seconds=True),
                str(row.ledger_index),
            )
        console.print(chain)
        if report is not None:
            _print_check(report)
    if report is not None and not report.ok:
        raise ItemDamaged(f"Item {item.id} is damaged: {plural(len(report.problems), 'problem')}.")


@app.command()
def get(
    item_id: ItemId,
    out: Annotated[Path, typer.Option("--out", "-o", help="The file to write the original to.")],
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
    as_json: JsonOutput = False,
) -> None:
    """Decrypt an item into a file, after checking its SHA-256; the download is recorded
    in the custody chain and on the ledger.

    Example: comity evidence get 0b6f3d0e-5c1e-4a53-9d7e-2a8e1f0c4b21 --out IMG_0412.jpg
    """
    with opened_node() as node:
        done = items.download(node, local_operator(), item_id, out, force=force)
    if as_json:
        print_json(
            {
                "id": done.item_id,
                "path": str(done.path),
                "size": done.size,
                "sha256": done.sha256,
                "ledger_index": done.ledger_index,
            }
        )
        return
    console.print(
        f"Wrote {done.path} ({plural(done.size, 'byte')}, SHA-256 {done.sha256}); "
        f"recorded as ledger entry {done.ledger_index}.",
        soft_wrap=True,
    )


app.command()(evidence_export.export)
app.command()(evidence_check.check)
app.command()(evidence_capture.capture)
app.add_typer(evidence_capture.group_app, name="group")
app.command()(evidence_capture.timestamp)
app.command()(evidence_lineage.derive)
app.add_typer(evidence_deletion.app, name="deletion")
