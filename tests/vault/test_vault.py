"""The evidence vault's services on a real database and blob store: ingest, reading,
downloading, checking; what goes on the ledger; refusals that change nothing."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from comity.audit.models import Outcome
from comity.errors import Conflict, NotFound, PermissionDenied, ValidationError
from comity.identity.permissions import Role
from comity.ledger.events import commitment
from comity.ledger.models import LedgerSalt
from comity.node import Node, local_operator
from comity.settings import load_settings
from comity.vault.ingest import add_file
from comity.vault.inputs import Acquisition, files_under
from comity.vault.items import Damage, check_item, download, get_item, list_items
from comity.vault.keyring import node_identity
from comity.vault.media import sniff
from conftest import TEST_SECRET, cannot_run
from factories import actor_for, audit_events, make_user
from vault.vaulting import blob_files, ledger_entries, ledger_ok, vault_state, write

WITNESS_NAME = "statement-of-Leila-Haddad.jpg"
ACQUIRED = Acquisition(
    who="Leila Haddad", when="2026-03-14 09:30", where="Varesh market", tool="phone camera"
)


@pytest.mark.parametrize("size", [1, 64 * 1024 + 1, 3 * 1024 * 1024 + 17])
def test_add_then_download_gives_back_the_same_bytes(node: Node, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    source = write(tmp_path / "original.bin", data)
    seen: list[int] = []
    added = add_file(node, local_operator(), source, progress=seen.append)
    assert added.created
    assert added.sha256 == hashlib.sha256(data).hexdigest()
    assert added.size == size == sum(seen)

    out = tmp_path / "back.bin"
    done = download(node, local_operator(), added.item_id, out)
    assert out.read_bytes() == data
    assert done.sha256 == added.sha256
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert check_item(node, local_operator(), added.item_id).ok


def test_adding_the_same_bytes_again_returns_the_item_held(node: Node, tmp_path: Path) -> None:
    first = add_file(node, local_operator(), write(tmp_path / "a.txt", b"the same bytes\n"))
    blobs = blob_files(node)
    again = add_file(node, local_operator(), write(tmp_path / "b.txt", b"the same bytes\n"))
    assert not again.created
    assert again.item_id == first.item_id
    assert again.name == "a.txt"
    assert blob_files(node) == blobs  # the second blob was removed
    assert len(list_items(node, local_operator())) == 1


def test_a_stored_blob_is_a_plain_age_file_for_the_node_identity(
    node: Node, tmp_path: Path
) -> None:
    if shutil.which("age") is None:
        cannot_run("Debian's age is not installed")
    data = os.urandom(200_000)
    added = add_file(node, local_operator(), write(tmp_path / "clip.bin", data))
    identity = write(
        tmp_path / "identity.txt", node_identity(node.keys).secret_text().encode() + b"\n"
    )
    blob = get_item(node, local_operator(), added.item_id).item.blob_name
    digest = blob.removeprefix("sha256/")
    path = node.settings.resolved_vault_dir / "sha256" / digest[:2] / digest[2:4] / digest
    result = subprocess.run(  # noqa: S603 - the age tool, on files of this test
        ["age", "-d", "-i", str(identity), str(path)],  # noqa: S607 - Debian's age on PATH
        capture_output=True,
        check=True,
    )
    assert result.stdout == data


def test_the_ingest_event_commits_to_names_without_showing_them(node: Node, tmp_path: Path) -> None:
    data = b"\xff\xd8\xff\xe0 not really a photo"
    added = add_file(node, local_operator(), write(tmp_path / WITNESS_NAME, data), ACQUIRED)
    item = get_item(node, local_operator(), added.item_id).item
    assert item.media_type == "image/jpeg"
    assert item.acquisition == {
        "who": "Leila Haddad",
        "when": "2026-03-14 09:30",
        "where": "Varesh market",
        "tool": "phone camera",
    }

    entries = ledger_entries(node)
    for secret in (WITNESS_NAME, "Leila", "Haddad", "Varesh"):
        assert not [e.idx for e in entries if secret.encode() in e.entry], secret
    ingest = entries[item.ledger_index]
    assert ingest.kind == "evidence.ingest"
    body = json.loads(ingest.entry)
    assert body["subject"] == {"type": "vault_item", "id": added.item_id}
    assert body["digests"] == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "blob_sha256": item.blob_name.removeprefix("sha256/"),
    }
    assert body["data"] == {"size": len(data), "media_type": "image/jpeg"}
    with node.uow() as uow:
        salt = uow.session.scalars(
            select(LedgerSalt.salt).where(LedgerSalt.idx == item.ledger_index)
        ).one()
    assert set(body["commitments"]) == {"original_name", "who", "when", "where", "tool", "metadata"}
    assert body["commitments"]["original_name"] == commitment(salt, "original_name", WITNESS_NAME)
    assert body["commitments"]["who"] == commitment(salt, "who", "Leila Haddad")
    assert ledger_ok(node)


def test_the_custody_chain_shows_ingest_then_download(node: Node, tmp_path: Path) -> None:
    added = add_file(node, local_operator(), write(tmp_path / "doc.pdf", b"%PDF-1.7\n..."))
    done = download(node, local_operator(), added.item_id, tmp_path / "copy.pdf")
    view = get_item(node, local_operator(), added.item_id)
    assert [row.action for row in view.custody] == ["ingest", "download"]
    assert view.custody[1].ledger_index == done.ledger_index
    entries = ledger_entries(node)
    assert [entries[row.ledger_index].kind for row in view.custody] == [
        "evidence.ingest",
        "evidence.download",
    ]
    assert [e.target_id for e in audit_events(node, "evidence.download")] == [added.item_id]
    assert ledger_ok(node)


def _unreadable(tmp_path: Path) -> Path:
    """A path that cannot be read as a file: mode 000, or a FIFO when running as root
    (whom file modes do not stop)."""
    path = tmp_path / "locked.bin"
    if os.geteuid() == 0:
        os.mkfifo(path)
    else:
        write(path, b"secret")
        path.chmod(0)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: write(d / "empty.jpg", b""), "is empty"),
        (lambda d: d / "nowhere.jpg", "does not exist"),
        (lambda d: d, "is a directory; add the files in it with --recursive"),
        (lambda d: write(d / "bad\x1bname.jpg", b"x"), "control character U+001B"),
        (lambda d: write(d / "evil\u202egpj.exe", b"x"), "control character U+202E"),
        (_unreadable, "locked.bin"),
    ],
    ids=["empty", "missing", "directory", "escape-in-name", "bidi-override", "unreadable"],
)
def test_bad_input_is_refused_and_stores_nothing(
    node: Node, tmp_path: Path, make: object, message: str
) -> None:
    source_dir = tmp_path / "in"
    source_dir.mkdir()
    before = vault_state(node)
    path = make(source_dir)  # type: ignore[operator]
    with pytest.raises(ValidationError, match=re.escape(message)):
        add_file(node, local_operator(), path)
    assert vault_state(node) == before


def test_acquisition_details_with_control_characters_are_refused(
    node: Node, tmp_path: Path
) -> None:
    before = vault_state(node)
    with pytest.raises(ValidationError, match="acquisition 'where'"):
        add_file(node, local_operator(), write(tmp_path / "a.txt", b"a"), Acquisition(where="\x07"))
    assert vault_state(node) == before


def test_unknown_items_and_existing_targets_are_refused(node: Node, tmp_path: Path) -> None:
    added = add_file(node, local_operator(), write(tmp_path / "a.txt", b"evidence"))
    with pytest.raises(NotFound, match="no-such-id"):
        download(node, local_operator(), "no-such-id", tmp_path / "x")
    with pytest.raises(NotFound):
        get_item(node, local_operator(), "no-such-id")
    existing = write(tmp_path / "existing.txt", b"keep me")
    before = vault_state(node)
    with pytest.raises(Conflict, match="already exists"):
        download(node, local_operator(), added.item_id, existing)
    assert existing.read_bytes() == b"keep me"
    assert vault_state(node) == before
    download(node, local_operator(), added.item_id, existing, force=True)
    assert existing.read_bytes() == b"evidence"


def test_roles_get_what_the_table_grants_and_refusals_are_audited(
    node: Node, tmp_path: Path
) -> None:
    added = add_file(node, local_operator(), write(tmp_path / "a.txt", b"evidence"))
    analyst = actor_for(make_user(node, Role.ANALYST))
    admin = actor_for(make_user(node, Role.ADMINISTRATOR))
    documenter = actor_for(make_user(node, Role.DOCUMENTER))
    before = vault_state(node)

    with pytest.raises(PermissionDenied, match="evidence:add"):
        add_file(node, analyst, write(tmp_path / "b.txt", b"other"))
    with pytest.raises(PermissionDenied, match="evidence:download"):
        download(node, admin, added.item_id, tmp_path / "out.txt")
    assert not (tmp_path / "out.txt").exists()
    assert vault_state(node) == before
    refusals = audit_events(node, "evidence.add") + audit_events(node, "evidence.download")
    denied = [(e.actor, e.outcome, e.target_id) for e in refusals if e.outcome == Outcome.DENIED]
    assert denied == [(analyst.label, "denied", ""), (admin.label, "denied", added.item_id)]

    assert [i.id for i in list_items(node, analyst)] == [added.item_id]
    assert get_item(node, admin, added.item_id).item.sha256 == added.sha256
    created = add_file(node, documenter, write(tmp_path / "c.txt", b"more"))
    assert get_item(node, documenter, created.item_id).item.added_by == documenter.user_id


def _blob_path(node: Node, item_id: str) -> Path:
    digest = get_item(node, local_operator(), item_id).item.blob_name.removeprefix("sha256/")
    return node.settings.resolved_vault_dir / "sha256" / digest[:2] / digest[2:4] / digest


def test_a_changed_byte_in_a_blob_is_named_and_blocks_download(node: Node, tmp_path: Path) -> None:
    added = add_file(node, local_operator(), write(tmp_path / "a.bin", os.urandom(100_000)))
    blob = _blob_path(node, added.item_id)
    damaged = bytearray(blob.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    blob.write_bytes(bytes(damaged))

    report = check_item(node, local_operator(), added.item_id)
    parts = [damage for damage, _ in report.problems]
    assert parts == [Damage.BLOB_CHANGED, Damage.BLOB_UNREADABLE]
    assert "payload" in report.problems[1][1]
    with pytest.raises(ValidationError):
        download(node, local_operator(), added.item_id, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []

    blob.unlink()
    report = check_item(node, local_operator(), added.item_id)
    assert [damage for damage, _ in report.problems] == [Damage.BLOB_MISSING]


def test_files_under_walks_in_order_and_skips_links(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    write(tmp_path / "b" / "2.txt", b"2")
    write(tmp_path / "a.txt", b"1")
    (tmp_path / "link.txt").symlink_to(tmp_path / "a.txt")
    assert files_under(tmp_path) == [tmp_path / "a.txt", tmp_path / "b" / "2.txt"]


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (b"\xff\xd8\xff\xe1", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF89a", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"%PDF-1.4", "application/pdf"),
        (b"\x00\x00\x00\x18ftypisom", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  ", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01matroska", "video/x-matroska"),
        (b"ID3\x04", "audio/mpeg"),
        (b"OggS\x00", "audio/ogg"),
        (b"PK\x03\x04", "application/zip"),
        ("témoignage, شهادة\n".encode(), "text/plain"),
        ("é".encode()[:1], "text/plain"),  # a character cut at the end of the sample
        (b"\x00\x01\x02binary", "application/octet-stream"),
    ],
)
def test_media_types_are_sniffed_from_the_first_bytes(head: bytes, media_type: str) -> None:
    assert sniff(head) == media_type


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE vault_items SET sha256 = 'changed'",
        "DELETE FROM vault_items",
        "UPDATE vault_custody SET action = 'changed'",
        "DELETE FROM vault_custody",
    ],
)
def test_items_and_custody_are_append_only(node: Node, tmp_path: Path, statement: str) -> None:
    add_file(node, local_operator(), write(tmp_path / "a.txt", b"kept"))
    with node.engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text(statement))


def test_blobs_go_to_the_configured_private_vault_directory(node: Node, tmp_path: Path) -> None:
    elsewhere = tmp_path / "evidence-disk" / "vault"
    settings = load_settings(
        home=node.settings.home,
        database_url=node.settings.database_url,
        secret_key=TEST_SECRET,
        vault_dir=str(elsewhere),
    )
    assert settings.resolved_vault_dir == elsewhere
    moved = Node.open(settings)
    try:
        added = add_file(moved, local_operator(), write(tmp_path / "a.txt", b"kept apart"))
        assert [p.parent.parent.parent for p in blob_files(moved)] == [elsewhere / "sha256"]
        assert elsewhere.stat().st_mode & 0o777 == 0o700
        assert not (node.settings.home / "vault" / "sha256").exists()
        download(moved, local_operator(), added.item_id, tmp_path / "back.txt")
        assert (tmp_path / "back.txt").read_bytes() == b"kept apart"
    finally:
        moved.close()
