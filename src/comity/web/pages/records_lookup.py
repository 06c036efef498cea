"""The titles and kinds of records named by id, read at once, for pages that show links
(a record's links and the records that link to it, a diff, a filter's perpetrator).

Titles are the public column every reader may see: a protected person's or source's
title is its pseudonym (:mod:`comity.records.protection`), so nothing here is withheld
and opening a page that merely names a protected person is not audited as reading it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from comity.identity.permissions import Actor, Permission, require
from comity.node import Node
from comity.records.models import Record


@dataclass(frozen=True)
class Named:
    id: str
    kind: str
    title: str
    deleted: bool


def named(node: Node, actor: Actor, ids: Iterable[str]) -> dict[str, Named]:
    """The records among ``ids`` that exist, by id."""
    require(actor, Permission.RECORDS_READ)
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    with node.uow() as uow:
        rows = uow.session.execute(
            select(Record.id, Record.kind, Record.title, Record.deleted).where(
                Record.id.in_(wanted)
            )
        )
        return {row.id: Named(row.id, row.kind, row.title, row.deleted) for row in rows}
