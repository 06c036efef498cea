"""What an evidence package says about an item besides its file and custody chain: the
web captures (item groups) it belongs to, and its RFC 3161 time-stamp tokens, written as
``timestamps/<item id>/<n>.tsr`` (format: ``docs/formats/evidence-package.md``; written
by :mod:`comity.vault.package`, checked by :mod:`comity.vault.package_check`).

A group is described in the clear — URL, capture time, title — as the item's name and
acquisition details are, with the salt that opens the ledger's commitments to them, and
with all its members (item id, role, SHA-256), also those not in the package: whoever
receives one file of a capture learns what else was captured with it, and can ask for it.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.ledger.models import LedgerSalt
from comity.vault.captures import ROLES, committed_time, groups_of
from comity.vault.models import VaultGroup, VaultGroupMember, VaultItem
from comity.vault.package_write import write_file
from comity.vault.timestamps import item_tokens


def _group(session: Session, group: VaultGroup, role: str) -> dict[str, Any]:
    rows = session.execute(
        select(VaultGroupMember.item_id, VaultGroupMember.role, VaultItem.sha256)
        .join(VaultItem, VaultItem.id == VaultGroupMember.item_id)
        .where(VaultGroupMember.group_id == group.id)
    ).all()
    order = {name: number for number, name in enumerate(ROLES)}
    members = [
        {"item_id": item_id, "role": member_role, "sha256": sha256}
        for item_id, member_role, sha256 in sorted(rows, key=lambda r: (order[r[1]], r[0]))
    ]
    values = {"url": group.url or "", "captured_at": committed_time(group.captured_at)}
    if group.title:
        values["title"] = group.title
    salt = session.scalar(select(LedgerSalt.salt).where(LedgerSalt.idx == group.ledger_index))
    return {
        "id": group.id,
        "kind": group.kind,
        "role": role,
        "url": group.url,
        "captured_at": values["captured_at"],
        "title": group.title,
        "ledger_index": group.ledger_index,
        "members": members,
        "openings": {"salt": base64.b64encode(salt).decode(), "values": values}
        if salt is not None
        else None,
    }


def item_context(session: Session, item: VaultItem, folder: Path) -> dict[str, Any]:
    """The item document's ``groups`` and ``timestamps``; the tokens are written under
    ``folder`` (the package being built)."""
    stamps = []
    for number, (row, ledger_index) in enumerate(item_tokens(session, item.id), 1):
        path = f"timestamps/{item.id}/{number}.tsr"
        stamps.append(
            {
                "path": path,
                "authority": row.authority,
                "gen_time": row.gen_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "sha256": write_file(folder / path, row.token),
                "ledger_index": ledger_index,
            }
        )
    return {
        "groups": [_group(session, group, role) for group, role in groups_of(session, item.id)],
        "timestamps": stamps,
    }
