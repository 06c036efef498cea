"""Checking the whole vault (``check_vault``, ``comity evidence check``): damaged items
named; leftovers of interrupted ingests, killed writers and stray files found in the
local store and in S3; old ones removed only when asked, by someone allowed, and never
one an item names."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest

from cli.test_cli import as_json, cli_env, flat, invoke, ok
from comity.audit.models import Outcome
from comity.errors import PermissionDenied
from comity.identity.permissions import Role, cli_actor
from comity.node import Node, local_operator
from comity.vault import ingest
from comity.vault.access import blob_store
from comity.vault.blobs import BlobStoreError
from comity.vault.deletion import approve_deletion, request_deletion
from comity.vault.ingest import add_file
from comity.vault.items import Damage, get_item
from comity.vault.vault_check import check_vault
from factories import actor_for, audit_events, make_user
from vault.s3server import (  # noqa: F401 - the fixtures are used by name
    s3_credentials_fixture,
    s3_node_fixture,
    s3_server_fixture,
)
from vault.vaulting import blob_files, ledger_ok, write

OPERATOR = local_operator()
NOW = dt.timedelta(0)


def interrupted_ingest(node: Node, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ingest stopped after its blob was stored, before its item was committed."""

    def stopped(*_: object) -> None:
        raise RuntimeError("the machine stopped")

    with monkeypatch.context() as patch:
        patch.setattr(ingest, "record_items", stopped)
        with pytest.raises(RuntimeError):
            add_file(node, OPERATOR, path)


def age(path: Path, hours: int) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def blob_path(node: Node, item_id: str) -> Path:
    digest = get_item(node, OPERATOR, item_id).item.blob_name.removeprefix("sha256/")
    return node.settings.resolved_vault_dir / "sha256" / digest[:2] / digest[2:4] / digest


def test_an_intact_vault_with_its_leftovers_and_their_removal(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = [add_file(node, OPERATOR, write(tmp_path / f"{n}.txt", f"{n}".encode())) for n in "ab"]
    source = write(tmp_path / "c.txt", b"stopped halfway")
    interrupted_ingest(node, source, monkeypatch)
    vault = node.settings.resolved_vault_dir
    [orphan] = set(blob_files(node)) - {blob_path(node, added.item_id) for added in kept}
    old_part = write(vault / "tmp" / f"{'1' * 32}.part", b"killed writer")
    new_part = write(vault / "tmp" / f"{'2' * 32}.part", b"still writing")
    stray = write(vault / "copied-here-by-hand.jpg", b"who put this here?")
    for path in (orphan, old_part, stray):
        age(path, 48)

    found = check_vault(node, OPERATOR)
    assert (found.ok, found.items, found.damaged, found.removed) == (True, 2, [], [])
    assert [(left.kind, left.removable) for left in found.leftovers] == [
        ("stray", False),
        ("orphan", True),
        ("temporary", True),
        ("temporary", False),
    ]
    assert [left.stored.key for left in found.leftovers][1] == orphan.relative_to(vault).as_posix()

    before = {path: path.read_bytes() for path in blob_files(node)}
    removed = check_vault(node, OPERATOR, remove_leftovers=True)
    assert [left.kind for left in removed.removed] == ["orphan", "temporary"]
    assert set(blob_files(node)) == set(before) - {orphan, old_part}
    assert new_part.exists()  # a writer still at work is left alone
    assert all(path.read_bytes() == data for path, data in before.items() if path.exists())
    assert check_vault(node, OPERATOR).ok
    # The interrupted file can be added again, from scratch.
    assert add_file(node, OPERATOR, source).created
    assert ledger_ok(node)
    [audited] = audit_events(node, "evidence.leftovers_remove")
    assert audited.detail["removed"] == 2
    assert orphan.relative_to(vault).as_posix() in audited.detail["keys"]
    assert [e.detail["leftovers"] for e in audit_events(node, "evidence.check_all")] == [4, 4, 2]


def test_damaged_and_deleted_items_are_told_apart(node: Node, tmp_path: Path) -> None:
    changed = add_file(node, OPERATOR, write(tmp_path / "a.txt", b"will be changed"))
    deleted = add_file(node, OPERATOR, write(tmp_path / "b.txt", b"deleted lawfully"))
    intact = add_file(node, OPERATOR, write(tmp_path / "c.txt", b"left alone"))
    request = request_deletion(node, cli_actor("amira"), deleted.item_id, "Order", "2027/1")
    approve_deletion(node, cli_actor("jonas"), request.id)
    target = blob_path(node, changed.item_id)
    data = bytearray(target.read_bytes())
    data[-1] ^= 1
    target.write_bytes(bytes(data))

    found = check_vault(node, OPERATOR)
    assert (found.ok, found.items) == (False, 3)
    [report] = found.damaged
    assert report.item_id == changed.item_id
    assert [damage for damage, _ in report.problems] == [
        Damage.BLOB_CHANGED,
        Damage.BLOB_UNREADABLE,
    ]
    assert intact.item_id not in {r.item_id for r in found.damaged}
    assert found.leftovers == []


def test_only_holders_of_evidence_delete_remove_leftovers(node: Node, tmp_path: Path) -> None:
    add_file(node, OPERATOR, write(tmp_path / "a.txt", b"kept"))
    part = write(node.settings.resolved_vault_dir / "tmp" / f"{'3' * 32}.part", b"x")
    age(part, 48)
    analyst = actor_for(make_user(node, Role.ANALYST))
    assert check_vault(node, analyst).ok
    with pytest.raises(PermissionDenied, match="evidence:delete"):
        check_vault(node, analyst, remove_leftovers=True)
    assert part.exists()
    denied = [e.actor for e in audit_events(node, "evidence.leftovers_remove")]
    assert denied == [analyst.label]
    assert audit_events(node, "evidence.leftovers_remove")[0].outcome == Outcome.DENIED
    documenter = actor_for(make_user(node, Role.DOCUMENTER))
    assert check_vault(node, documenter).items == 1


def test_only_temporaries_of_the_store_are_discarded(node: Node) -> None:
    store = blob_store(node)
    for key in ("../outside.part", "tmp/short.part", "sha256/" + "a" * 64, "tmp/../x"):
        with pytest.raises(BlobStoreError, match="not a temporary blob"):
            store.discard(key)


@pytest.mark.usefixtures("s3_credentials")
def test_leftovers_in_s3_are_found_and_removed(
    s3_node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_file(s3_node, OPERATOR, write(tmp_path / "a.txt", b"kept in the bucket"))
    interrupted_ingest(s3_node, write(tmp_path / "b.txt", b"stopped"), monkeypatch)
    store = blob_store(s3_node)
    client = store.client  # type: ignore[attr-defined]
    bucket = store.bucket  # type: ignore[attr-defined]
    client.put_object(Bucket=bucket, Key=f"node-a/tmp/{'4' * 32}", Body=b"killed")
    client.put_object(Bucket=bucket, Key="node-a/readme.txt", Body=b"stray")
    client.put_object(Bucket=bucket, Key="another-node/tmp/" + "5" * 32, Body=b"not ours")

    found = check_vault(s3_node, OPERATOR, grace=NOW)
    assert [(left.kind, left.stored.key.split("/")[1]) for left in found.leftovers] == [
        ("stray", "readme.txt"),
        ("orphan", "sha256"),
        ("temporary", "tmp"),
    ]
    cleaned = check_vault(s3_node, OPERATOR, grace=NOW, remove_leftovers=True)
    assert [left.kind for left in cleaned.removed] == ["orphan", "temporary"]
    listed = client.list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted(entry["Key"].split("/")[0] for entry in listed) == [
        "another-node",
        "node-a",
        "node-a",
    ]
    assert check_vault(s3_node, OPERATOR).ok


def test_the_command_reports_and_exits_1_on_damage(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = cli_env(node.settings)
    added = add_file(node, OPERATOR, write(tmp_path / "a.txt", b"checked by cron"))
    interrupted_ingest(node, write(tmp_path / "b.txt", b"stopped"), monkeypatch)
    text = flat(ok(invoke(env, "evidence", "check")).stdout)
    assert "Checked 1 item: every blob hashes to its name" in text
    assert "1 leftover that no item names: orphan sha256/" in text
    assert "--remove-leftovers" not in text  # not older than a day yet
    report = as_json(invoke(env, "evidence", "check", "--json"))
    assert (report["ok"], report["items"], [x["kind"] for x in report["leftovers"]]) == (
        True,
        1,
        ["orphan"],
    )
    for path in blob_files(node):
        path.unlink()
    damaged = invoke(env, "evidence", "check")
    assert damaged.exit_code == 1
    assert f"Item {added.item_id}:" in damaged.stdout
    assert "blob_missing" in damaged.stdout
    assert "1 item of the vault damaged" in damaged.stderr
