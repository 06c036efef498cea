"""Checking an evidence package (``docs/formats/evidence-package.md``) without the node:
what ``comity package verify`` runs. ``tools/verify_package.py`` does the same checks
with nothing but the Python standard library and ``cryptography``.

:func:`verify_package` never stops at the first problem: every check that can run does,
and each problem names the file, item or ledger entry it concerns.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509

from comity.errors import ComityError
from comity.ledger import merkle, proofs
from comity.ledger.checkpoint import Checkpoint, log_signed_note, verify_checkpoint
from comity.ledger.events import commitment
from comity.ledger.note import NoteVerifier, open_note
from comity.vault.package_report import PackageReport, check_listed_file
from comity.vault.package_stamps import checkpoint_timestamps, item_timestamps

FORMAT = "comity-evidence-package/v1"
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
CHECKPOINT_FILE = "checkpoint.txt"
REPORT_FILE = "REPORT.txt"
PROVENANCE_FILE = "provenance.case.jsonld"


def manifest_statement(manifest_sha256: str) -> str:
    """The text of the signed note in ``manifest.sig``: the package format and the
    manifest's SHA-256. Its first line is not an origin, so it can never be read as a
    checkpoint of the log whose key signs it."""
    return f"{FORMAT}\nmanifest sha256 {manifest_sha256}\n"


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return base64.b64decode(value, validate=True)


def _checkpoint(
    report: PackageReport, root: Path, manifest: Mapping[str, Any], verifier: NoteVerifier | None
) -> tuple[Checkpoint | None, str]:
    info = manifest.get("checkpoint") or {}
    path = check_listed_file(report, root, info.get("path"), info.get("sha256"))
    if path is None or verifier is None:
        return None, ""
    note = path.read_text("utf-8", errors="replace")
    try:
        checkpoint = verify_checkpoint(note, verifier)
    except ComityError as exc:
        report.fail(CHECKPOINT_FILE, f"the checkpoint does not verify: {exc.message}")
        return None, note
    if checkpoint.size != info.get("size"):
        report.fail(CHECKPOINT_FILE, "its size is not the manifest's checkpoint size")
    report.checkpoint_size = checkpoint.size
    return checkpoint, note


def _entry(
    report: PackageReport,
    where: str,
    event: Mapping[str, Any],
    checkpoint: Checkpoint | None,
) -> dict[str, Any] | None:
    """The entry's JSON if it is in the log (by its inclusion proof)."""
    try:
        entry = _b64(event.get("entry"))
        path = [_b64(h) for h in event.get("inclusion_proof", [])]
        index = int(event["ledger_index"])
        body = json.loads(entry)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        report.fail(where, f"the entry or its proof is malformed: {exc}")
        return None
    report.entries += 1
    if checkpoint is not None:
        try:
            proofs.verify_inclusion(
                merkle.leaf_hash(entry), index, checkpoint.size, path, checkpoint.root
            )
        except ComityError as exc:
            report.fail(where, f"not proven to be in the log: {exc.message}")
    return body if isinstance(body, dict) else None


def _openings(
    report: PackageReport, where: str, item: Mapping[str, Any], body: dict[str, Any]
) -> None:
    committed = body.get("commitments") or {}
    openings = item.get("openings") or {}
    values = openings.get("values") or {}
    try:
        salt = _b64(openings.get("salt"))
    except (TypeError, ValueError, binascii.Error):
        report.fail(where, "the salt of the commitments is missing or malformed")
        return
    expected = {"original_name": item.get("name")} | dict(item.get("acquisition") or {})
    if values != expected:
        report.fail(where, "the opened values are not the item's name and acquisition details")
    for name, value in values.items():
        if name not in committed:
            report.fail(where, f"the entry has no commitment to {name!r}")
        elif commitment(salt, name, str(value)) != committed[name]:
            report.fail(where, f"the commitment to {name!r} does not open to {value!r}")
    for name in committed:
        if name not in values:
            report.notes.append(f"{where}: the commitment to {name!r} is not opened (withheld).")


def _item(
    report: PackageReport,
    root: Path,
    item: Mapping[str, Any],
    checkpoint: Checkpoint | None,
    roots: Sequence[x509.Certificate],
) -> set[Path]:
    item_id = str(item.get("id"))
    report.items += 1
    info = item.get("file") or {}
    expected = info.get("sha256") if info.get("encrypted") else item.get("sha256")
    path = check_listed_file(report, root, info.get("path"), expected)
    if path is not None and not str(info.get("path")).startswith(f"files/{item_id}/"):
        report.fail(str(info.get("path")), f"not in the folder of item {item_id}")
    if path is not None and not info.get("encrypted") and path.stat().st_size != item.get("size"):
        report.fail(str(info.get("path")), "its size is not the item's")
    ingest_seen = False
    bodies: dict[object, dict[str, Any]] = {}
    for event in item.get("custody", []):
        where = f"item {item_id}, ledger entry {event.get('ledger_index')}"
        body = _entry(report, where, event, checkpoint)
        if body is None:
            continue
        bodies[event.get("ledger_index")] = body
        if body.get("type") == "evidence.capture":  # about the item's group
            _capture(report, where, item, event, body)
            continue
        subject = body.get("subject") or {}
        digests = body.get("digests") or {}
        if subject.get("id") != item_id:
            report.fail(where, "the entry is about another item")
        if digests.get("sha256") != item.get("sha256"):
            report.fail(where, "the entry's SHA-256 is not the item's")
        if event.get("ledger_index") == item.get("ingest_index"):
            ingest_seen = True
            data = body.get("data") or {}
            if body.get("type") != "evidence.ingest":
                report.fail(where, "the item's ingest entry is not an evidence.ingest event")
            if data.get("size") != item.get("size") or data.get("media_type") != item.get(
                "media_type"
            ):
                report.fail(where, "the entry's size or media type is not the item's")
            parent = item.get("derived_from") or {}
            if (digests.get("parent_sha256"), data.get("operation")) != (
                parent.get("sha256"),
                parent.get("operation"),
            ):
                report.fail(where, "the entry's parent and operation are not derived_from's")
            _openings(report, where, item, body)
    if not ingest_seen:
        report.fail(f"item {item_id}", "its ingest event is not in the package")
    item_timestamps(report, root, item, bodies, roots)
    return {path} if path else set()


def _member_key(member: Any) -> tuple[str, str, str]:
    return (str(member.get("item_id")), str(member.get("role")), str(member.get("sha256")))


def _capture(
    report: PackageReport,
    where: str,
    item: Mapping[str, Any],
    event: Mapping[str, Any],
    body: dict[str, Any],
) -> None:
    """A web capture's entry, in the chain of one of its items: it is about a group the
    item names, lists the item (role, SHA-256) and the group's members, and its
    commitments open to the group's URL, capture time and title."""
    index = event.get("ledger_index")
    group = next((g for g in item.get("groups", []) if g.get("ledger_index") == index), None)
    if group is None or (body.get("subject") or {}).get("id") != group.get("id"):
        report.fail(where, "the capture entry is not about a group the item names")
        return
    members = [_member_key(m) for m in (body.get("data") or {}).get("members", [])]
    if (str(item.get("id")), str(group.get("role")), str(item.get("sha256"))) not in members:
        report.fail(where, "the capture entry does not list the item in its role")
    if sorted(members) != sorted(_member_key(m) for m in group.get("members", [])):
        report.fail(where, "the group's members are not the capture entry's")
    openings = group.get("openings") or {}
    values = openings.get("values") or {}
    expected = {"url": group.get("url"), "captured_at": group.get("captured_at")}
    if group.get("title"):
        expected["title"] = group.get("title")
    if values != expected:
        report.fail(where, "the opened values are not the group's URL, capture time and title")
    try:
        salt = _b64(openings.get("salt"))
    except (TypeError, ValueError, binascii.Error):
        report.fail(where, "the salt of the capture's commitments is missing or malformed")
        return
    committed = body.get("commitments") or {}
    for name, value in values.items():
        if commitment(salt, name, str(value)) != committed.get(name):
            report.fail(where, f"the commitment to {name!r} does not open to {value!r}")


def verify_package(
    directory: Path, vkey: str | None = None, tsa_roots: Sequence[x509.Certificate] = ()
) -> PackageReport:
    """Check the package in ``directory`` against the log key ``vkey`` (if ``None``, the
    manifest's own key is used and the report says it was not checked); with
    ``tsa_roots``, every time-stamp token's signature must chain to them."""
    report = PackageReport()
    manifest_path = directory / MANIFEST_FILE
    try:
        raw = manifest_path.read_bytes()
        manifest = json.loads(raw)
    except (OSError, ValueError) as exc:
        report.fail(MANIFEST_FILE, f"cannot be read: {exc}")
        return report
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        report.fail(MANIFEST_FILE, f"not a {FORMAT} manifest")
        return report
    try:
        _verify_contents(report, directory, raw, manifest, vkey, roots=tsa_roots)
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        report.fail(MANIFEST_FILE, f"malformed (a member has the wrong type): {exc}")
    return report


def _verify_contents(
    report: PackageReport,
    directory: Path,
    raw: bytes,
    manifest: dict[str, Any],
    vkey: str | None,
    *,
    roots: Sequence[x509.Certificate],
) -> None:
    log = manifest.get("log") or {}
    report.key_trusted = vkey is not None
    report.key = vkey if vkey is not None else str(log.get("vkey"))
    verifier: NoteVerifier | None = None
    try:
        verifier = NoteVerifier.from_vkey(report.key.strip())
    except ComityError as exc:
        report.fail("--key" if vkey else MANIFEST_FILE, f"not a log key: {exc.message}")
    if verifier is not None and verifier.name != log.get("origin"):
        report.fail(
            MANIFEST_FILE, f"the log {log.get('origin')!r} is not the key's {verifier.name!r}"
        )
    if verifier is not None:
        try:
            statement = open_note((directory / SIGNATURE_FILE).read_bytes(), [verifier]).text
        except (OSError, ComityError) as exc:
            report.fail(SIGNATURE_FILE, f"the node's signature of the manifest: {exc}")
        else:
            if statement != manifest_statement(hashlib.sha256(raw).hexdigest()):
                report.fail(MANIFEST_FILE, "it is not the manifest the node signed (manifest.sig)")
    checkpoint, note = _checkpoint(report, directory, manifest, verifier)
    stamped = log_signed_note(note, verifier).encode() if checkpoint and verifier else b""
    checkpoint_timestamps(report, directory, manifest, stamped, roots)
    report_info = manifest.get("report") or {}
    check_listed_file(report, directory, report_info.get("path"), report_info.get("sha256"))
    if "provenance" in manifest:  # absent from packages written before it was added
        provenance = manifest["provenance"] or {}
        check_listed_file(report, directory, provenance.get("path"), provenance.get("sha256"))
    for item in manifest.get("items", []):
        _item(report, directory, item, checkpoint, roots)
    _unexpected(report, directory, manifest)


def _unexpected(report: PackageReport, root: Path, manifest: Mapping[str, Any]) -> None:
    listed = {MANIFEST_FILE, SIGNATURE_FILE}
    listed.add(str((manifest.get("checkpoint") or {}).get("path")))
    listed.add(str((manifest.get("report") or {}).get("path")))
    listed.add(str((manifest.get("provenance") or {}).get("path")))
    listed.update(
        str(s.get("path")) for s in (manifest.get("checkpoint") or {}).get("timestamps", [])
    )
    listed.update(
        str(s.get("path")) for item in manifest.get("items", []) for s in item.get("timestamps", [])
    )
    listed.update(str((item.get("file") or {}).get("path")) for item in manifest.get("items", []))
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and relative not in listed:
            report.fail(relative, "this file is not listed in the manifest")
