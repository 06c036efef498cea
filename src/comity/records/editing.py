"""The services that change records: create, change, restore an old revision, delete.

Each opens one unit of work, saves through :class:`~comity.records.writing.Writer` and
commits once, so a refused change leaves nothing behind; each returns the record as the
actor may now see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from comity.identity.permissions import Actor
from comity.node import Node
from comity.records.schema import parse_kind
from comity.records.viewing import RecordView, revision_of, sealer_of, view_of
from comity.records.writing import Writer, load_record


def create_record(
    node: Node, actor: Actor, kind: str, values: Mapping[str, Any], *, note: str = ""
) -> RecordView:
    sealer = sealer_of(node)
    with node.uow() as uow:
        writer = Writer(uow.session, actor, sealer)
        record = writer.create(parse_kind(kind), values, note=note)
        uow.commit()
        return view_of(record, actor, sealer)


def change_record(
    node: Node,
    actor: Actor,
    record_id: str,
    changes: Mapping[str, Any],
    *,
    base_revision: int,
    note: str = "",
) -> RecordView:
    """Merge ``changes`` into the record; refused if it moved past ``base_revision``."""
    sealer = sealer_of(node)
    with node.uow() as uow:
        writer = Writer(uow.session, actor, sealer)
        record = load_record(uow.session, record_id)
        writer.change(record, changes, base_revision=base_revision, note=note)
        uow.commit()
        return view_of(record, actor, sealer)


def restore_revision(
    node: Node, actor: Actor, record_id: str, number: int, *, base_revision: int, note: str = ""
) -> RecordView:
    """A new revision holding what revision ``number`` held; nothing in between is lost."""
    sealer = sealer_of(node)
    with node.uow() as uow:
        writer = Writer(uow.session, actor, sealer)
        record = load_record(uow.session, record_id)
        old = revision_of(uow, record_id, number)
        writer.restore(
            record,
            old,
            base_revision=base_revision,
            note=note or f"Restored revision {number}.",
        )
        uow.commit()
        return view_of(record, actor, sealer)


def delete_record(
    node: Node, actor: Actor, record_id: str, *, base_revision: int, note: str
) -> RecordView:
    """Mark a record deleted (a revision; restoring an earlier revision brings it back)."""
    sealer = sealer_of(node)
    with node.uow() as uow:
        writer = Writer(uow.session, actor, sealer)
        record = load_record(uow.session, record_id)
        writer.delete(record, base_revision=base_revision, note=note)
        uow.commit()
        return view_of(record, actor, sealer)
