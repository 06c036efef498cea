"""Verifiable export packages: ``export_items`` on a real database, checked by
``comity package verify`` and by the standalone ``tools/verify_package.py``; tampering
with any file is named by both; refusals write nothing."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from cli.test_cli import Run, as_json, cli_env, invoke
from comity.errors import Conflict, PermissionDenied, ValidationError
from comity.identity.permissions import Role
from comity.ledger import checkpoints, timestamping
from comity.ledger.models import LedgerEntry
from comity.ledger.note import NoteSigner
from comity.node import Node, local_operator
from comity.settings import Settings
from comity.vault.age_keys import X25519Identity
from comity.vault.ingest import add_file
from comity.vault.inputs import Acquisition
from comity.vault.models import VaultCustody
from comity.vault.package import export_items
from comity.vault.package_check import verify_package
from conftest import cannot_run
from factories import actor_for, audit_events, make_user
from ledger.tsa import openssl_verify, running_authority, with_authority
from vault.vaulting import ledger_ok, vault_state

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_package.py"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40
NOTES = b"Market square, 09:30, three vehicles.\n"


@pytest.fixture
def run(settings: Settings) -> Run:
    env = cli_env(settings)
    return lambda *args: invoke(env, *args)


def _vkey(node: Node) -> str:
    with node.uow() as uow:
        return checkpoints.verifier(uow.session, node.keys).vkey


def _checkpoint(node: Node) -> None:
    with node.uow() as uow:
        checkpoints.make_checkpoint(uow, node.keys, local_operator())


def _items(node: Node, tmp_path: Path) -> list[str]:
    (tmp_path / "in").mkdir()
    photo = tmp_path / "in" / "IMG 0412.jpg"
    photo.write_bytes(PHOTO)
    notes = tmp_path / "in" / "notes.txt"
    notes.write_bytes(NOTES)
    acquired = Acquisition(who="Leila Haddad", where="Varesh market", tool="phone")
    first = add_file(node, local_operator(), photo, acquired)
    second = add_file(node, local_operator(), notes)
    _checkpoint(node)
    return [first.item_id, second.item_id]


# The standalone verifier runs as on a court expert's machine without Comity: any import
# of the comity package fails in its process.
_WITHOUT_COMITY = (
    "import runpy, sys; sys.modules['comity'] = None; "
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def _tool(package: Path, *key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own tool, on our own files
        [sys.executable, "-c", _WITHOUT_COMITY, str(TOOL), str(package), *key],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def package(node: Node, tmp_path: Path) -> Path:
    ids = _items(node, tmp_path)
    out = tmp_path / "case-17"
    export_items(node, local_operator(), ids, out)
    return out


def test_export_verifies_with_both_verifiers_and_is_recorded(
    node: Node, package: Path, run: Run
) -> None:
    vkey = _vkey(node)
    report = verify_package(package, vkey)
    assert report.ok, report.problems
    assert report.key_trusted
    assert report.items == 2
    assert report.entries == 2

    manifest = json.loads((package / "manifest.json").read_text())
    photo = manifest["items"][0]
    assert (package / photo["file"]["path"]).read_bytes() == PHOTO
    assert photo["file"]["path"].endswith("/IMG 0412.jpg")
    assert photo["acquisition"] == {
        "who": "Leila Haddad",
        "where": "Varesh market",
        "tool": "phone",
    }
    assert set(photo["openings"]["values"]) == {"original_name", "who", "where", "tool"}
    assert "verify_package.py" in (package / "REPORT.txt").read_text()

    checked = as_json(run("package", "verify", str(package), "--key", vkey, "--json"))
    assert checked["ok"] is True
    assert checked["key_trusted"] is True
    tool = _tool(package, "--key", vkey)
    assert tool.returncode == 0, tool.stdout + tool.stderr
    assert "OK: the package verifies." in tool.stdout

    with node.uow() as uow:
        exports = uow.session.scalars(
            select(VaultCustody).where(VaultCustody.action == "export")
        ).all()
        assert len(exports) == 2
        entries = [uow.session.get(LedgerEntry, row.ledger_index) for row in exports]
    kinds = {entry.kind for entry in entries if entry is not None}
    assert kinds == {"evidence.export"}
    body = json.loads(entries[0].entry)  # type: ignore[union-attr]
    assert body["digests"]["sha256"] == photo["sha256"]
    assert "commitments" not in body  # no recipient: nothing personal
    assert len(audit_events(node, "evidence.export")) == 2
    assert ledger_ok(node)


def test_without_a_key_the_manifest_key_is_used_and_said_to_be_unchecked(
    package: Path, run: Run
) -> None:
    result = run("package", "verify", str(package))
    assert result.exit_code == 0
    assert "WARNING: no --key given" in result.stderr
    tool = _tool(package)
    assert tool.returncode == 0
    assert "WARNING: no --key given" in tool.stderr


def test_a_wrong_key_fails_both(package: Path, run: Run) -> None:
    manifest = json.loads((package / "manifest.json").read_text())
    origin = manifest["log"]["origin"]
    wrong = NoteSigner(origin, Ed25519PrivateKey.generate()).verifier().vkey
    assert not verify_package(package, wrong).ok
    result = run("package", "verify", str(package), "--key", wrong)
    assert result.exit_code == 1
    assert "manifest.sig" in result.stdout
    tool = _tool(package, "--key", wrong)
    assert tool.returncode == 1
    assert "FAIL manifest.sig" in tool.stdout


def _package_files(package: Path) -> list[str]:
    return sorted(p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file())


def test_one_changed_byte_in_any_file_is_named_by_both(
    node: Node, package: Path, tmp_path: Path
) -> None:
    vkey = _vkey(node)
    files = _package_files(package)
    assert {"manifest.json", "manifest.sig", "checkpoint.txt", "REPORT.txt"} <= set(files)
    for relative in files:
        copy = tmp_path / "tampered"
        shutil.copytree(package, copy)
        path = copy / relative
        data = bytearray(path.read_bytes())
        middle = len(data) // 2
        data[middle] = data[middle] ^ 0x01 if data[middle] != 0x0A else 0x41
        path.write_bytes(bytes(data))
        report = verify_package(copy, vkey)
        named = {problem.where for problem in report.problems}
        expected = "manifest.json" if relative == "manifest.json" else relative
        assert expected in named, (relative, report.problems)
        tool = _tool(copy, "--key", vkey)
        assert tool.returncode == 1, relative
        assert f"FAIL {expected}" in tool.stdout, (relative, tool.stdout)
        shutil.rmtree(copy)


def test_a_file_slipped_in_is_named(node: Node, package: Path) -> None:
    (package / "files" / "extra.txt").write_text("not evidence")
    report = verify_package(package, _vkey(node))
    assert [p.where for p in report.problems] == ["files/extra.txt"]
    assert "FAIL files/extra.txt" in _tool(package, "--key", _vkey(node)).stdout


def test_export_to_a_recipient_decrypts_with_age(node: Node, tmp_path: Path) -> None:
    if shutil.which("age") is None:
        cannot_run("Debian's age is not installed")
    ids = _items(node, tmp_path)
    identity = X25519Identity.generate()
    recipient = str(identity.recipient)
    out = tmp_path / "sealed"
    done = export_items(node, local_operator(), ids[:1], out, recipient=recipient)
    assert done.items[0].path.endswith(".jpg.age")
    assert verify_package(out, _vkey(node)).ok
    assert _tool(out, "--key", _vkey(node)).returncode == 0
    key_file = tmp_path / "identity.txt"
    key_file.write_text(identity.secret_text() + "\n")
    plain = subprocess.run(  # noqa: S603
        ["age", "-d", "-i", str(key_file), str(out / done.items[0].path)],  # noqa: S607
        capture_output=True,
        check=True,
    )
    assert plain.stdout == PHOTO
    with node.uow() as uow:
        entry = uow.session.get(LedgerEntry, done.items[0].ledger_index)
    assert entry is not None
    assert "recipient" in json.loads(entry.entry)["commitments"]


def test_refusals_write_nothing(node: Node, tmp_path: Path) -> None:
    ids = _items(node, tmp_path)
    analyst = actor_for(make_user(node, Role.ANALYST))
    before = vault_state(node)
    with pytest.raises(PermissionDenied):
        export_items(node, analyst, ids, tmp_path / "nope")
    assert not (tmp_path / "nope").exists()
    assert audit_events(node, "evidence.export")[0].outcome == "denied"

    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(Conflict):
        export_items(node, local_operator(), ids, taken)
    assert _package_files(taken) == ["keep.txt"]
    with pytest.raises(ValidationError):
        export_items(node, local_operator(), ids, tmp_path / "x", recipient="age1nonsense")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert vault_state(node) == before


def test_a_checkpoint_behind_the_custody_chain_is_refused(node: Node, tmp_path: Path) -> None:
    ids = _items(node, tmp_path)
    export_items(node, local_operator(), ids[:1], tmp_path / "first")
    with pytest.raises(Conflict, match="make a checkpoint"):
        export_items(node, local_operator(), ids[:1], tmp_path / "second")
    assert not (tmp_path / "second").exists()
    _checkpoint(node)
    second = export_items(node, local_operator(), ids[:1], tmp_path / "second")
    assert verify_package(second.out_dir, _vkey(node)).entries == 2  # ingest and first export


def test_an_empty_out_dir_is_used(node: Node, tmp_path: Path) -> None:
    ids = _items(node, tmp_path)
    (tmp_path / "empty").mkdir()
    export_items(node, local_operator(), ids, tmp_path / "empty")
    assert verify_package(tmp_path / "empty", _vkey(node)).ok


def test_cli_export(node: Node, run: Run, tmp_path: Path) -> None:
    ids = _items(node, tmp_path)
    out = tmp_path / "cli-package"
    done = as_json(run("evidence", "export", *ids, "--out", str(out), "--json"))
    assert len(done["items"]) == 2
    assert run("package", "verify", str(out), "--key", _vkey(node)).exit_code == 0
    again = run("evidence", "export", ids[0], "--out", str(out))
    assert again.exit_code == 1
    assert "already exists" in again.stderr


def test_the_tool_imports_no_comity_module() -> None:
    tree = ast.parse(TOOL.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"cryptography", "__future__"}


def test_the_checkpoint_time_stamps_travel_with_the_package(node: Node, tmp_path: Path) -> None:
    with running_authority(tmp_path / "tsa") as authority:
        stamped = with_authority(node, authority.url, authority.ca_file)
        ids = _items(stamped, tmp_path)
        assert timestamping.timestamp_pending(stamped, local_operator()).ok
        out = tmp_path / "stamped"
        export_items(stamped, local_operator(), ids, out)
    manifest = json.loads((out / "manifest.json").read_text())
    stamps = manifest["checkpoint"]["timestamps"]
    assert [s["path"] for s in stamps] == ["timestamps/1.tsr"]
    assert stamps[0]["authority"] == authority.url
    report = verify_package(out, _vkey(node))
    assert report.ok, report.problems
    assert any("timestamps/1.tsr" in note for note in report.notes)
    assert _tool(out, "--key", _vkey(node)).returncode == 0
    note = "".join((out / "checkpoint.txt").read_text().splitlines(keepends=True)[:5])
    token = (out / "timestamps" / "1.tsr").read_bytes()
    assert "Verification: OK" in openssl_verify(note.encode(), token, authority.ca_file, tmp_path)

    data = bytearray(token)
    data[-10] ^= 0x01
    (out / "timestamps" / "1.tsr").write_bytes(bytes(data))
    assert "timestamps/1.tsr" in {p.where for p in verify_package(out, _vkey(node)).problems}
    assert "FAIL timestamps/1.tsr" in _tool(out, "--key", _vkey(node)).stdout


def test_a_malformed_manifest_is_reported_not_a_crash(node: Node, package: Path) -> None:
    (package / "manifest.json").write_text(
        json.dumps({"format": "comity-evidence-package/v1", "items": [1], "checkpoint": []})
    )
    problems = verify_package(package, _vkey(node)).problems
    assert "manifest.json" in {p.where for p in problems}
    tool = _tool(package, "--key", _vkey(node))
    assert tool.returncode == 1
    assert "FAIL manifest.json" in tool.stdout
    assert "Traceback" not in tool.stderr
