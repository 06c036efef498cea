"""``comity evidence derive``: take in a derived copy (redacted, cropped, transcoded,
translated, transcribed …) as an item that names its parent and the operation; and what
``comity evidence show`` and ``list`` say of an item's lineage. Registered on the
``evidence`` group by :mod:`comity.cli.evidence`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from comity.cli.common import JsonOutput, console, field, opened_node, plural, print_json
from comity.node import local_operator
from comity.vault import derive as lineage
from comity.vault.inputs import Acquisition
from comity.vault.items import ItemView, ListedItem
from comity.vault.models import VaultDerivation

OPERATIONS = ", ".join(operation.value for operation in lineage.Operation)


def derivation_json(row: VaultDerivation) -> dict[str, Any]:
    return {
        "item": row.item_id,
        "parent": row.parent_id,
        "operation": row.operation,
        "note": row.note,
        "ledger_index": row.ledger_index,
    }


def lineage_json(view: ItemView) -> dict[str, Any]:
    """The members ``derivation`` (how the item was made, or ``null``) and ``derived``
    (the copies made from it) of ``evidence show --json``."""
    return {
        "derivation": derivation_json(view.derivation) if view.derivation else None,
        "derived": [derivation_json(row) for row in view.derived],
    }


def print_lineage(view: ItemView) -> None:
    if view.derivation is not None:
        field("Derived from", f"{view.derivation.parent_id} ({view.derivation.operation})")
        if view.derivation.note:
            field("Derivation note", view.derivation.note)
    for number, row in enumerate(view.derived):
        field("Derived copies" if number == 0 else "", f"{row.item_id} ({row.operation})")


def listed_json(listed: ListedItem) -> dict[str, Any]:
    """What ``evidence list --json`` adds to an item: its parent and operation if it is a
    derived copy, and when it was deleted."""
    derivation = listed.derivation
    return {
        "derived_from": (
            {"item": derivation.parent_id, "operation": derivation.operation}
            if derivation
            else None
        ),
        "deleted_at": listed.deleted_at.isoformat() if listed.deleted_at else None,
    }


def listed_status(listed: ListedItem) -> str:
    """The ``status`` column of ``evidence list``: ``redact of 1a2b3c4d``, ``deleted``."""
    marks = []
    if listed.derivation is not None:
        marks.append(f"{listed.derivation.operation} of {listed.derivation.parent_id[:8]}")
    if listed.deleted_at is not None:
        marks.append("deleted")
    return ", ".join(marks)


def derive(
    parent_id: Annotated[str, typer.Argument(help="The id of the item the copy was made from.")],
    path: Annotated[Path, typer.Argument(help="The derived file.")],
    *,
    operation: Annotated[str, typer.Option("--operation", help=f"How it was made: {OPERATIONS}.")],
    note: Annotated[
        str, typer.Option(help="What was done, in words (required with --operation other).")
    ] = "",
    who: Annotated[str, typer.Option(help="Who made the copy.")] = "",
    when_: Annotated[str, typer.Option("--when", help="When it was made.")] = "",
    where: Annotated[str, typer.Option(help="Where it was made.")] = "",
    how: Annotated[str, typer.Option(help="How it was made.")] = "",
    tool: Annotated[str, typer.Option(help="With what software.")] = "",
    as_json: JsonOutput = False,
) -> None:
    """Add a derived copy of an item (redacted, cropped, transcoded, translated,
    transcribed …): it is encrypted, hashed and recorded like any file, and names its
    parent and the operation; the parent's custody chain records the copy. The original
    is not changed. A file whose bytes are already held is refused.

    The note is kept in the vault's index; the ledger holds only a salted commitment to
    it. Needs evidence:add, and evidence:read on the parent.

    Example: comity evidence derive d7fa7690-… IMG_0412-blurred.jpg --operation redact
    --note 'Faces of the two children blurred' --tool 'GIMP 2.10'
    """
    acquisition = Acquisition(who=who, when=when_, where=where, how=how, tool=tool)
    with opened_node() as node:
        added = lineage.add_derived(
            node,
            local_operator(),
            parent_id,
            path,
            operation,
            note=note,
            acquisition=acquisition,
        )
    kind = lineage.operation_of(operation).value
    if as_json:
        print_json(
            {
                "id": added.item_id,
                "name": added.name,
                "sha256": added.sha256,
                "parent": parent_id,
                "operation": kind,
            }
        )
        return
    console.print(
        f"Derived: {path} → {added.item_id} ({kind} of {parent_id}; {added.media_type}, "
        f"{plural(added.size, 'byte')})",
        soft_wrap=True,
    )
