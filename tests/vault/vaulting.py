"""Helpers of the vault tests: files to add, what a refused action must leave unchanged,
the ledger's entries and its health."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from comity.identity.permissions import cli_actor
from comity.ledger import services
from comity.ledger.models import LedgerEntry
from comity.node import Node
from comity.vault.models import VaultCustody, VaultItem


def write(path: Path, data: bytes) -> Path:
    """A file of ``data`` at ``path``, to add to the vault."""
    path.write_bytes(data)
    return path


def blob_files(node: Node) -> list[Path]:
    """Every file in the vault's directory, finished blobs and temporary ones."""
    root = node.settings.resolved_vault_dir
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def vault_state(node: Node) -> tuple[object, ...]:
    """Items, custody rows, ledger size and blob files: all a refusal must leave alone."""
    with node.uow() as uow:
        session = uow.session
        counts = tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (VaultItem, VaultCustody, LedgerEntry)
        )
    return (counts, blob_files(node))


def entry_body(node: Node, index: int) -> dict[str, Any]:
    """The JSON body of ledger entry ``index``."""
    with node.uow() as uow:
        entry = uow.session.get(LedgerEntry, index)
        assert entry is not None
        return dict(json.loads(entry.entry))


def ledger_ok(node: Node) -> bool:
    with node.uow() as uow:
        return services.verify(uow, cli_actor("tester"), node.keys).ok


def ledger_entries(node: Node) -> list[LedgerEntry]:
    with node.uow() as uow:
        return list(uow.session.scalars(select(LedgerEntry).order_by(LedgerEntry.idx)))
