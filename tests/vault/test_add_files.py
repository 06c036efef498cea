"""Adding many files at once (``add_files``): batched commits that keep every guarantee
of adding one — order of results, bytes already held, files repeating each other, a
refused file, near-duplicates that name only items that exist."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from comity.errors import Conflict, ValidationError
from comity.identity.permissions import Role
from comity.node import Node, local_operator
from comity.vault import ingest
from comity.vault.deletion import approve_deletion, request_deletion
from comity.vault.ingest import add_file, add_files
from comity.vault.items import check_item, get_item
from comity.vault.models import VaultItem
from factories import actor_for, make_user
from vault.vaulting import blob_files, ledger_ok, write


def item_count(node: Node) -> int:
    with node.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(VaultItem)) or 0


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of three files, so that a handful of files spans several commits."""
    monkeypatch.setattr(ingest, "BATCH_FILES", 3)


@pytest.mark.usefixtures("small_batches")
def test_results_come_in_order_and_every_file_is_an_item(node: Node, tmp_path: Path) -> None:
    contents = [os.urandom(1000 + number) for number in range(8)]
    paths = [write(tmp_path / f"f{n}.bin", data) for n, data in enumerate(contents)]
    seen: list[int] = []
    results = list(add_files(node, local_operator(), paths, progress=seen.append))
    assert [r.name for r in results] == [p.name for p in paths]
    assert [r.sha256 for r in results] == [hashlib.sha256(d).hexdigest() for d in contents]
    assert all(r.created for r in results)
    assert sum(seen) == sum(len(d) for d in contents)
    assert item_count(node) == 8
    assert len(blob_files(node)) == 8
    assert ledger_ok(node)
    assert all(check_item(node, local_operator(), r.item_id).ok for r in results)


@pytest.mark.usefixtures("small_batches")
def test_files_held_already_or_repeated_in_the_batch_are_kept_once(
    node: Node, tmp_path: Path
) -> None:
    held = add_file(node, local_operator(), write(tmp_path / "held.txt", b"held before\n"))
    paths = [
        write(tmp_path / "a.txt", b"new bytes\n"),
        write(tmp_path / "again-held.txt", b"held before\n"),
        write(tmp_path / "b.txt", b"new bytes\n"),  # repeats a.txt, same batch
        write(tmp_path / "c.txt", b"other bytes\n"),
        write(tmp_path / "d.txt", b"new bytes\n"),  # repeats a.txt, next batch
    ]
    results = list(add_files(node, local_operator(), paths))
    assert [r.created for r in results] == [True, False, False, True, False]
    assert results[1].item_id == held.item_id
    assert results[2].item_id == results[0].item_id == results[4].item_id
    assert results[2].name == "a.txt"  # the item holding the bytes, under its own name
    assert item_count(node) == 3
    assert len(blob_files(node)) == 3  # the repeats' blobs were removed
    assert ledger_ok(node)


def test_a_refused_file_stops_the_run_after_committing_those_before_it(
    node: Node, tmp_path: Path
) -> None:
    paths = [
        write(tmp_path / "one.txt", b"one\n"),
        write(tmp_path / "two.txt", b"two\n"),
        tmp_path / "missing.txt",
        write(tmp_path / "three.txt", b"three\n"),
    ]
    given: list[str] = []
    with pytest.raises(ValidationError, match=r"missing\.txt does not exist"):
        given.extend(result.name for result in add_files(node, local_operator(), paths))
    assert given == ["one.txt", "two.txt"]
    assert item_count(node) == 2
    assert len(blob_files(node)) == 2
    assert ledger_ok(node)


def test_bytes_deleted_under_a_legal_process_are_refused_and_the_rest_committed(
    node: Node, tmp_path: Path
) -> None:
    gone = add_file(node, local_operator(), write(tmp_path / "gone.txt", b"deleted bytes\n"))
    first = actor_for(make_user(node, Role.ADMINISTRATOR))
    second = actor_for(make_user(node, Role.ADMINISTRATOR))
    request = request_deletion(node, first, gone.item_id, "Court order to erase", "ORD-17")
    approve_deletion(node, second, request.id)

    paths = [
        write(tmp_path / "fine.txt", b"fine\n"),
        write(tmp_path / "back-again.txt", b"deleted bytes\n"),
    ]
    given: list[str] = []
    with pytest.raises(Conflict, match=r"deleted .* request"):
        given.extend(result.name for result in add_files(node, local_operator(), paths))
    assert given == ["fine.txt"]
    assert item_count(node) == 2  # the deleted item's row and fine.txt
    assert len(blob_files(node)) == 1  # only fine.txt's: the refused file's blob is gone
    assert ledger_ok(node)


def _picture(path: Path, shade: int) -> Path:
    image = Image.new("RGB", (64, 64))
    for x in range(64):
        for y in range(64):
            image.putpixel((x, y), ((x * 4 + shade) % 256, y * 4, 128))
    image.save(path)
    return path


def test_near_duplicates_name_only_items_that_exist(node: Node, tmp_path: Path) -> None:
    original = _picture(tmp_path / "original.png", 0)
    copy = write(tmp_path / "copy.png", original.read_bytes())  # the same bytes
    similar = _picture(tmp_path / "similar.png", 2)  # other bytes, same picture
    results = list(add_files(node, local_operator(), [original, copy, similar]))
    assert [r.created for r in results] == [True, False, True]
    assert results[2].near_duplicates == (results[0].item_id,)
    extracted = get_item(node, local_operator(), results[2].item_id).metadata
    assert extracted is not None
    assert [n["item_id"] for n in extracted.extracted["near_duplicates"]] == [results[0].item_id]
