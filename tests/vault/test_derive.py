"""Derived copies on a real database and blob store: the link to the parent on the ledger
and in both custody chains, in one unit of work; refusals that write nothing; the
derivation in export packages, checked by both verifiers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from comity.audit.models import Outcome
from comity.errors import ComityError, Conflict, NotFound, PermissionDenied, ValidationError
from comity.identity.permissions import Role, cli_actor
from comity.ledger import checkpoints
from comity.ledger.events import commitment
from comity.ledger.models import LedgerSalt
from comity.node import Node, local_operator
from comity.vault.deletion import approve_deletion, request_deletion
from comity.vault.derive import Derivation, Operation, add_derived
from comity.vault.ingest import add_file
from comity.vault.inputs import Acquisition
from comity.vault.items import get_item, list_with_lineage
from comity.vault.models import VaultDerivation
from comity.vault.package import export_items
from comity.vault.package_check import verify_package
from factories import actor_for, audit_events, make_user
from vault.vaulting import (
    blob_files,
    entry_body,
    ledger_entries,
    ledger_ok,
    vault_state,
    write,
)

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_package.py"
NOTE = "Faces of Leila Haddad and her children blurred."


def state(node: Node) -> tuple[object, ...]:
    """:func:`vault_state` and the derivations: all a refused derivation must leave alone."""
    with node.uow() as uow:
        derivations = uow.session.scalar(select(func.count()).select_from(VaultDerivation))
    return (vault_state(node), derivations)


@pytest.fixture
def original(node: Node, tmp_path: Path) -> str:
    photo = write(tmp_path / "IMG_0412.jpg", b"\xff\xd8\xff\xe0 the original photograph")
    return add_file(node, local_operator(), photo, Acquisition(who="Field team 3")).item_id


def test_a_derived_copy_names_its_parent_on_the_ledger_and_in_both_custody_chains(
    node: Node, tmp_path: Path, original: str
) -> None:
    redacted = write(tmp_path / "IMG_0412-redacted.jpg", b"\xff\xd8\xff\xe0 blurred faces")
    added = add_derived(
        node,
        local_operator(),
        original,
        redacted,
        Operation.REDACT,
        note=NOTE,
        acquisition=Acquisition(tool="GIMP 2.10"),
    )
    assert added.created
    parent = get_item(node, local_operator(), original)
    child = get_item(node, local_operator(), added.item_id)

    assert child.derivation is not None
    assert (child.derivation.parent_id, child.derivation.operation) == (original, "redact")
    assert child.derivation.note == NOTE
    assert [row.item_id for row in parent.derived] == [added.item_id]
    assert parent.derivation is None
    assert child.item.acquisition == {"tool": "GIMP 2.10"}
    assert [row.action for row in parent.custody] == ["ingest", "derive"]
    assert parent.custody[1].detail == {"item": added.item_id, "operation": "redact"}
    assert [row.action for row in child.custody] == ["ingest"]

    # The child's ingest and the derive event were appended by the same unit of work.
    derive_index = child.derivation.ledger_index
    assert parent.custody[1].ledger_index == derive_index == child.item.ledger_index + 1
    ingest = entry_body(node, child.item.ledger_index)
    assert ingest["type"] == "evidence.ingest"
    assert ingest["digests"] == {
        "sha256": added.sha256,
        "blob_sha256": child.item.blob_name.removeprefix("sha256/"),
        "parent_sha256": parent.item.sha256,
    }
    assert ingest["data"] == {
        "size": added.size,
        "media_type": "image/jpeg",
        "derived_from": original,
        "operation": "redact",
    }
    derive = entry_body(node, derive_index)
    assert derive["type"] == "evidence.derive"
    assert derive["subject"] == {"type": "vault_item", "id": original}
    assert derive["digests"] == {"sha256": parent.item.sha256, "derived_sha256": added.sha256}
    assert derive["data"] == {"derived": added.item_id, "operation": "redact"}
    # The note names people: only its commitment is on the ledger.
    entries = b"".join(entry.entry for entry in ledger_entries(node))
    assert b"Haddad" not in entries
    with node.uow() as uow:
        salt = uow.session.get(LedgerSalt, derive_index)
        assert salt is not None
    assert derive["commitments"] == {"note": commitment(salt.salt, "note", NOTE)}

    [audited] = audit_events(node, "evidence.derive")
    assert audited.target_id == added.item_id
    assert audited.detail["parent"] == original
    listed = {entry.item.id: entry for entry in list_with_lineage(node, local_operator())}
    assert listed[original].derivation is None
    derivation = listed[added.item_id].derivation
    assert derivation is not None
    assert derivation.parent_id == original
    assert ledger_ok(node)


def test_copies_of_copies_make_a_chain(node: Node, tmp_path: Path, original: str) -> None:
    transcoded = add_derived(
        node, local_operator(), original, write(tmp_path / "a.png", b"\x89PNG\r\n\x1a\n1"), "crop"
    )
    translated = add_derived(
        node,
        local_operator(),
        transcoded.item_id,
        write(tmp_path / "b.png", b"\x89PNG\r\n\x1a\n2"),
        "Other",
        note="Contrast raised\nfor legibility.",
    )
    middle = get_item(node, local_operator(), transcoded.item_id)
    assert middle.derivation is not None
    assert middle.derivation.parent_id == original
    assert [row.item_id for row in middle.derived] == [translated.item_id]
    assert [row.action for row in middle.custody] == ["ingest", "derive"]
    last = get_item(node, local_operator(), translated.item_id).derivation
    assert last is not None
    assert (last.operation, last.note) == ("other", "Contrast raised\nfor legibility.")


@pytest.mark.parametrize(
    ("derivation", "refusal"),
    [
        (("no-such-item", "redact", ""), (NotFound, "No evidence item")),
        ((None, "other", ""), (ValidationError, "Say in the note")),
        ((None, "other", "   "), (ValidationError, "Say in the note")),
        ((None, "redact", "blurred\x1b[2J"), (ValidationError, "control character")),
        ((None, "redact", "a\u202eb"), (ValidationError, "control character")),
        ((None, "redact", "x" * 2001), (ValidationError, "at most 2000")),
        ((None, "sharpen", ""), (ValidationError, "not an operation")),
    ],
)
def test_bad_derivations_are_refused_and_write_nothing(
    node: Node,
    tmp_path: Path,
    original: str,
    derivation: tuple[str | None, str, str],
    refusal: tuple[type[ComityError], str],
) -> None:
    parent, operation, note = derivation
    copy = write(tmp_path / "copy.jpg", b"\xff\xd8\xff\xe0 a copy")
    before = state(node)
    with pytest.raises(refusal[0], match=refusal[1]):
        add_derived(node, local_operator(), parent or original, copy, operation, note=note)
    assert state(node) == before


def test_a_copy_of_bytes_already_held_is_refused_naming_the_item(
    node: Node, tmp_path: Path, original: str
) -> None:
    other = add_file(node, local_operator(), write(tmp_path / "other.txt", b"held already"))
    before = state(node)
    with pytest.raises(Conflict, match=f"already held as item {other.item_id} \\(other.txt\\)"):
        add_derived(
            node, local_operator(), original, write(tmp_path / "c.txt", b"held already"), "crop"
        )
    with pytest.raises(Conflict, match=f"already held as item {original}"):
        add_derived(
            node,
            local_operator(),
            original,
            write(tmp_path / "same.jpg", b"\xff\xd8\xff\xe0 the original photograph"),
            "transcode",
        )
    assert state(node) == before


def test_no_copy_is_derived_from_a_deleted_item(node: Node, tmp_path: Path, original: str) -> None:
    request = request_deletion(node, cli_actor("alice"), original, "Court order", "TPI 2027/113")
    approve_deletion(node, cli_actor("bob"), request.id)
    copy = write(tmp_path / "copy.jpg", b"\xff\xd8\xff\xe0 a late copy")
    before = state(node)
    with pytest.raises(Conflict, match=f"deleted on .* under legal process request #{request.id}"):
        add_derived(node, local_operator(), original, copy, "redact")
    assert state(node) == before

    # A deletion approved after the first check is caught inside the unit of work, and
    # the encrypted copy already written is removed again.
    sha256 = get_item(node, local_operator(), original).item.sha256
    blobs = blob_files(node)
    late = Derivation(original, sha256, "redact", "")
    with pytest.raises(Conflict, match="no copy can be derived"):
        add_file(node, local_operator(), copy, derivation=late)
    assert state(node) == before
    assert blob_files(node) == blobs


def test_deriving_needs_add_and_read_and_refusals_are_audited(
    node: Node, tmp_path: Path, original: str
) -> None:
    analyst = actor_for(make_user(node, Role.ANALYST))
    admin = actor_for(make_user(node, Role.ADMINISTRATOR))
    documenter = actor_for(make_user(node, Role.DOCUMENTER))
    copy = write(tmp_path / "copy.jpg", b"\xff\xd8\xff\xe0 a copy")
    before = state(node)
    for refused in (analyst, admin):
        with pytest.raises(PermissionDenied, match="evidence:add"):
            add_derived(node, refused, original, copy, "redact")
    assert state(node) == before
    denied = [
        (event.actor, event.outcome)
        for event in audit_events(node, "evidence.derive")
        if event.outcome == Outcome.DENIED
    ]
    assert denied == [(analyst.label, "denied"), (admin.label, "denied")]
    added = add_derived(node, documenter, original, copy, "redact")
    assert get_item(node, documenter, added.item_id).item.added_by == documenter.user_id


def _tool(package: Path, vkey: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own tool, on our own files
        [sys.executable, str(TOOL), str(package), "--key", vkey],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_an_exported_copy_names_its_parent_and_both_verifiers_check_it(
    node: Node, tmp_path: Path, original: str
) -> None:
    copy = add_derived(
        node,
        local_operator(),
        original,
        write(tmp_path / "copy.jpg", b"\xff\xd8\xff\xe0 a copy"),
        Operation.TRANSCODE,
    )
    with node.uow() as uow:
        checkpoints.make_checkpoint(uow, node.keys, local_operator())
        vkey = checkpoints.verifier(uow.session, node.keys).vkey
    out = tmp_path / "case-17"
    export_items(node, local_operator(), [original, copy.item_id], out)
    manifest = json.loads((out / "manifest.json").read_text())
    parent_document, copy_document = manifest["items"]
    assert parent_document["derived_from"] is None
    assert [event["action"] for event in parent_document["custody"]] == ["ingest", "derive"]
    assert copy_document["derived_from"] == {
        "item": original,
        "sha256": parent_document["sha256"],
        "operation": "transcode",
    }
    assert (
        f"derived (transcode) from SHA-256 {parent_document['sha256']}"
        in (out / "REPORT.txt").read_text()
    )
    assert verify_package(out, vkey).ok
    tool = _tool(out, vkey)
    assert tool.returncode == 0, tool.stdout + tool.stderr

    # A manifest claiming another operation than the ledger's is named by both verifiers.
    copy_document["derived_from"]["operation"] = "redact"
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    wrong = "the entry's parent and operation are not derived_from's"
    assert wrong in [problem.what for problem in verify_package(out, vkey).problems]
    assert wrong in _tool(out, vkey).stdout
