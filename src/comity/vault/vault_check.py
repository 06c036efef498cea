"""Checking the whole vault: every item, and what the store holds that no item names.

:func:`check_vault` inspects every item as ``evidence show --check`` does one (its blob
re-hashed, and decrypted to nowhere against the SHA-256 and size recorded at ingest; a
deleted item's blob must be gone), then lists the store's **leftovers**:

- ``orphan``: a finished blob no item names — an ingest stopped after its blob was
  stored and before its item was committed (a killed process, a machine that stopped),
  or a file refused after its blob was written;
- ``temporary``: a blob being written when its writer was killed;
- ``stray``: a file or object the store never writes (something put there by hand).

Leftovers are not evidence: no item, custody row or ledger event refers to them. With
``remove_leftovers`` the orphans and temporaries older than ``grace`` (a day by default,
so that an ingest still running is never touched) are removed; each orphan is checked
once more, just before, not to be named by an item. Strays are reported, never removed.
A check is one audit record (``evidence.check_all``); a removal another
(``evidence.leftovers_remove``), naming what was removed. Removing needs
``evidence:delete`` as well as ``evidence:read``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from comity.audit.services import record
from comity.db import utcnow
from comity.identity.permissions import Actor, Permission
from comity.node import Node
from comity.vault.access import blob_store, require_recorded
from comity.vault.blobs import BlobStore, Stored
from comity.vault.deletion import tombstone
from comity.vault.items import CheckReport, inspect_item
from comity.vault.models import VaultItem, VaultTombstone

LEFTOVER_GRACE = dt.timedelta(hours=24)
AUDITED_NAMES = 100
"""At most this many leftovers are named in an audit record (all are counted)."""


@dataclass(frozen=True)
class Leftover:
    """Something the store holds that no item names (see the module docstring)."""

    stored: Stored
    kind: str
    """``orphan``, ``temporary`` or ``stray``."""
    removable: bool
    """An orphan or a temporary older than the grace period."""
    removed: bool = False


@dataclass(frozen=True)
class VaultCheck:
    items: int
    damaged: Sequence[CheckReport]
    leftovers: Sequence[Leftover]

    @property
    def ok(self) -> bool:
        """Whether every item is intact (leftovers do not make the vault damaged)."""
        return not self.damaged

    @property
    def removed(self) -> list[Leftover]:
        return [leftover for leftover in self.leftovers if leftover.removed]


def check_vault(
    node: Node,
    actor: Actor,
    *,
    remove_leftovers: bool = False,
    grace: dt.timedelta = LEFTOVER_GRACE,
    progress: Callable[[int, int], None] | None = None,
) -> VaultCheck:
    """Check every item and list the leftovers; remove the old ones if asked (see the
    module docstring). ``progress`` is told each item's size once it is checked, and the
    size of them all."""
    require_recorded(node, actor, Permission.EVIDENCE_READ, "evidence.check_all")
    if remove_leftovers:
        require_recorded(node, actor, Permission.EVIDENCE_DELETE, "evidence.leftovers_remove")
    store = blob_store(node)
    # The store first: a blob stored after this listing cannot look like an orphan.
    held = list(store.inventory())
    with node.uow() as uow:
        items = list(uow.session.scalars(select(VaultItem).order_by(VaultItem.ledger_index)))
        deleted = uow.session.scalars(select(VaultTombstone.item_id)).all()
        gone = {item_id: tombstone(uow.session, item_id) for item_id in deleted}
    damaged = []
    total = sum(item.size for item in items)
    for item in items:
        problems = inspect_item(node, store, item, gone.get(item.id))
        if problems:
            damaged.append(CheckReport(item.id, problems, gone.get(item.id)))
        if progress is not None:
            progress(item.size, total)
    named = {item.blob_name for item in items}
    leftovers = _leftovers(held, named, utcnow() - grace)
    if remove_leftovers:
        leftovers = [_remove(node, store, leftover) for leftover in leftovers]
    removed = [leftover for leftover in leftovers if leftover.removed]
    with node.uow() as uow:
        record(
            uow.session,
            actor,
            "evidence.check_all",
            detail={
                "ok": not damaged,
                "items": len(items),
                "damaged": [report.item_id for report in damaged][:AUDITED_NAMES],
                "leftovers": len(leftovers),
            },
        )
        if remove_leftovers:
            record(
                uow.session,
                actor,
                "evidence.leftovers_remove",
                detail={
                    "removed": len(removed),
                    "keys": [leftover.stored.key for leftover in removed][:AUDITED_NAMES],
                },
            )
        uow.commit()
    return VaultCheck(len(items), damaged, leftovers)


def _leftovers(held: list[Stored], named: set[str], before: dt.datetime) -> list[Leftover]:
    found = []
    for stored in held:
        if stored.name is not None:
            if stored.name in named:
                continue
            kind = "orphan"
        else:
            kind = "temporary" if stored.temporary else "stray"
        old = stored.modified < before and kind != "stray"
        found.append(Leftover(stored, kind, removable=old))
    return sorted(found, key=lambda leftover: leftover.stored.key)


def _remove(node: Node, store: BlobStore, leftover: Leftover) -> Leftover:
    """``leftover``, removed if it may be."""
    if not leftover.removable:
        return leftover
    name = leftover.stored.name
    if name is None:
        store.discard(leftover.stored.key)
    else:
        with node.uow() as uow:
            if uow.session.scalars(select(VaultItem.id).where(VaultItem.blob_name == name)).first():
                return leftover  # an item was committed with it since the check began
        store.delete(name)
    return dataclasses.replace(leftover, removed=True)
