"""Helpers of the vault tests: what a refused action must leave unchanged, and the
ledger's health."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from comity.identity.permissions import cli_actor
from comity.ledger import services
from comity.ledger.models import LedgerEntry
from comity.node import Node
from comity.vault.models import VaultCustody, VaultItem


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


def ledger_ok(node: Node) -> bool:
    with node.uow() as uow:
        return services.verify(uow, cli_actor("tester"), node.keys).ok


def ledger_entries(node: Node) -> list[LedgerEntry]:
    with node.uow() as uow:
        return list(uow.session.scalars(select(LedgerEntry).order_by(LedgerEntry.idx)))
