#!/usr/bin/env python3
"""Verify a Comity evidence package, without Comity.

Usage::

    python verify_package.py PACKAGE_DIRECTORY --key VKEY

``VKEY`` is the exporting node's log key, a line like
``comity/5f0c…+1a2b3c4d+AQ…``. Obtain it from the node's operator by a channel you
trust (in person, by telephone, from a signed letter): the package contains a copy,
but a forger could put their own key there. Without ``--key`` the copy is used and the
result says, loudly, that the key was not checked.

This program needs only Python 3.11 or later and the ``cryptography`` package (for
Ed25519 signatures). It deliberately does not use any Comity code, so that it can be
read and run on its own. The format it checks is described in
``docs/formats/evidence-package.md``; the ledger formats it relies on (RFC 9162 Merkle
trees, C2SP signed notes, commitments) in ``docs/formats/ledger.md``.

What it checks, in order:

1. the node's signature (``manifest.sig``) over the SHA-256 of ``manifest.json``;
2. the checkpoint (``checkpoint.txt``): signed by the log key, size as in the manifest;
3. every listed file (the evidence files, the report, the CASE/UCO provenance file,
   time-stamp tokens, the checkpoint): its SHA-256 is the one in the manifest, and no
   unlisted file is present;
4. every custody event: its ledger entry is in the log, by its inclusion proof against
   the checkpoint's root, and it is about this item with this item's SHA-256;
5. the ingest event of each item: its size and media type are the item's (and, for a
   derived copy, its parent's SHA-256 and the operation are ``derived_from``'s), and its
   commitments open, with the salt included, to the item's name and acquisition details;
6. the web captures an item belongs to: the capture's entry (in the item's custody
   chain) lists the item and the group's members, and its commitments open to the
   group's URL, capture time and title;
7. the item's RFC 3161 time-stamp tokens: each is recorded by an ``evidence.timestamped``
   entry of the item with the token's SHA-256, and its imprint is the item's SHA-256.
   The authority's signature is left to OpenSSL (``openssl ts -verify -data FILE -in
   TOKEN -token_in -CAfile ROOT``), which this program does not replace.

It prints one line per problem, naming the file, item or ledger entry, and exits with
status 1 if there is any problem, 0 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import sys
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "comity-evidence-package/v1"
ED25519_NOTE_SIGNATURE = 0x01  # the key type byte of a log's own note signatures (C2SP)


class Problems:
    """Collects problems, each naming where it was found."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.found.append(f"FAIL {where}: {what}")


def b64decode(text: Any) -> bytes:
    """Strict standard base64 (RFC 4648 §4, with padding): anything else is refused."""
    if not isinstance(text, str):
        raise TypeError("not a base64 string")
    data = base64.b64decode(text, validate=True)
    if base64.b64encode(data).decode() != text:
        raise ValueError("not canonical base64")
    return data


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


# --- Keys and signed notes (C2SP signed-note) ---------------------------------------


def parse_vkey(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """A verifier key ``name+hex(key ID)+base64(0x01 ‖ public key)``: its name, its key ID
    and the Ed25519 public key. The key ID must be SHA-256(name ‖ "\\n" ‖ 0x01 ‖ key)[:4]."""
    # The name contains no "+"; the base64 key may.
    name, key_id_hex, material_b64 = vkey.strip().split("+", 2)
    material = b64decode(material_b64)
    if len(material) != 33 or material[0] != ED25519_NOTE_SIGNATURE:
        raise ValueError("not an Ed25519 note key")
    key_id = hashlib.sha256(name.encode() + b"\n" + material).digest()[:4]
    if key_id.hex() != key_id_hex:
        raise ValueError("the key ID does not match the key")
    return name, key_id, Ed25519PublicKey.from_public_bytes(material[1:])


def open_note(note: str, name: str, key_id: bytes, key: Ed25519PublicKey) -> str:
    """The text of a signed note, if the key signed it; otherwise ValueError.

    A note is its text, a blank line, then signature lines ``— name base64(id ‖ sig)``.
    The text ends at the last blank line. Lines by other keys (witnesses' cosignatures)
    are skipped; they do not affect the log's signature."""
    if not note.endswith("\n"):
        raise ValueError("the note does not end with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise ValueError("the note has no signature block")
    text, signatures = note[: split + 1], note[split + 2 :]
    verified = False
    for line in signatures.splitlines():
        if not line.startswith("\u2014 "):
            raise ValueError("a signature line does not start with an em dash")
        line_name, _, payload_b64 = line[2:].rpartition(" ")
        payload = b64decode(payload_b64)
        if line_name != name or payload[:4] != key_id:
            continue  # another key's line: not ours to check
        if verified:
            raise ValueError("the key signed the note twice")
        try:
            key.verify(payload[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise ValueError(f"the signature by {name} does not verify") from None
        verified = True
    if not verified:
        raise ValueError(f"the note is not signed by {name}")
    return text


# --- Merkle tree (RFC 9162 §2.1) -----------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: list[bytes]) -> bytes:
    """Walk from the leaf to the root (RFC 9162 §2.1.3.2, as in docs/formats/ledger.md)."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of {size} entries")
    if any(len(h) != 32 for h in proof):
        raise ValueError("a proof hash is not 32 bytes")
    node, last, current = index, size - 1, leaf
    for sibling in proof:
        if last == 0:
            raise ValueError("the inclusion proof is too long")
        if node % 2 == 1 or node == last:
            while node % 2 == 0:  # a last subtree rises until it is a right child
                node, last = node // 2, last // 2
            current = node_hash(sibling, current)
        else:
            current = node_hash(current, sibling)
        node, last = node // 2, last // 2
    if last != 0:
        raise ValueError("the inclusion proof is too short")
    return current


# --- Commitments (docs/formats/ledger.md, "Commitments to personal data") -------------


def commitment(salt: bytes, name: str, value: str) -> str:
    return hmac.new(salt, name.encode() + b"\x00" + value.encode(), hashlib.sha256).hexdigest()


# --- The package -------------------------------------------------------------------


def inside(root: Path, relative: Any) -> Path | None:
    """The path of a listed file, if it is a plain relative path inside the package."""
    if not isinstance(relative, str) or not relative:
        return None
    pure = PurePosixPath(relative)
    if pure.is_absolute() or any(part in {"", ".", ".."} for part in pure.parts):
        return None
    return root.joinpath(*pure.parts)


def check_file(problems: Problems, root: Path, relative: Any, sha256: Any) -> Path | None:
    """Check 3: a listed file exists and has the SHA-256 the manifest gives."""
    path = inside(root, relative)
    if path is None:
        problems.add(str(relative), "the path is not a plain relative path inside the package")
        return None
    if not path.is_file():
        problems.add(str(relative), "the file is missing")
        return None
    if sha256_file(path) != sha256:
        problems.add(str(relative), f"its SHA-256 is not {sha256}, the one in the manifest")
    return path


def check_checkpoint(
    problems: Problems, root: Path, manifest: dict[str, Any], key: tuple[Any, ...] | None
) -> tuple[int, bytes] | None:
    """Check 2: the checkpoint is signed by the log key; its size and root."""
    info = manifest.get("checkpoint") or {}
    path = check_file(problems, root, info.get("path"), info.get("sha256"))
    if path is None or key is None:
        return None
    try:
        text = open_note(path.read_text("utf-8"), *key)
        origin, size_text, root_b64 = text.splitlines()[:3]
        size, tree_root = int(size_text), b64decode(root_b64)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        problems.add("checkpoint.txt", f"the checkpoint does not verify: {exc}")
        return None
    if origin != key[0]:
        problems.add("checkpoint.txt", f"the checkpoint is of log {origin!r}, not the key's")
    if size != info.get("size"):
        problems.add("checkpoint.txt", "its size is not the manifest's checkpoint size")
    return size, tree_root


def check_item_file(problems: Problems, root: Path, item: dict[str, Any]) -> None:
    """Check 3 for an item's file. An unencrypted file must hash to the item's SHA-256
    (and have its size); an encrypted one (.age) to the SHA-256 the manifest gives for
    the encrypted file (only the recipient can decrypt it and compare the plaintext)."""
    item_id = str(item.get("id"))
    info = item.get("file") or {}
    expected = info.get("sha256") if info.get("encrypted") else item.get("sha256")
    path = check_file(problems, root, info.get("path"), expected)
    if path is not None and not str(info.get("path")).startswith(f"files/{item_id}/"):
        problems.add(str(info.get("path")), f"not in the folder of item {item_id}")
    if path is not None and not info.get("encrypted") and path.stat().st_size != item.get("size"):
        problems.add(str(info.get("path")), "its size is not the item's")


def check_item(
    problems: Problems, root: Path, item: dict[str, Any], checkpoint: tuple[int, bytes] | None
) -> int:
    """Checks 3 to 7 for one item; the number of ledger entries seen."""
    item_id = str(item.get("id"))
    check_item_file(problems, root, item)
    entries, ingest_seen = 0, False
    bodies: dict[Any, dict[str, Any]] = {}
    for event in item.get("custody", []):
        where = f"item {item_id}, ledger entry {event.get('ledger_index')}"
        try:
            entry = b64decode(event.get("entry"))
            proof = [b64decode(h) for h in event.get("inclusion_proof", [])]
            body = json.loads(entry)
        except (TypeError, ValueError, binascii.Error) as exc:
            problems.add(where, f"the entry or its proof is malformed: {exc}")
            continue
        if not isinstance(body, dict):
            problems.add(where, "the entry is not a JSON object")
            continue
        entries += 1
        # Check 4: the entry is in the log whose checkpoint was verified above.
        if checkpoint is not None:
            size, tree_root = checkpoint
            try:
                found = root_from_inclusion_proof(
                    leaf_hash(entry), int(event["ledger_index"]), size, proof
                )
            except (ValueError, KeyError, TypeError) as exc:
                problems.add(where, f"not proven to be in the log: {exc}")
            else:
                if found != tree_root:
                    problems.add(where, "not proven to be in the log: the proof misses the root")
        bodies[event.get("ledger_index")] = body
        if body.get("type") == "evidence.capture":  # check 6: about the item's group
            check_capture(problems, where, item, event, body)
            continue
        if (body.get("subject") or {}).get("id") != item_id:
            problems.add(where, "the entry is about another item")
        if (body.get("digests") or {}).get("sha256") != item.get("sha256"):
            problems.add(where, "the entry's SHA-256 is not the item's")
        if event.get("ledger_index") == item.get("ingest_index"):
            ingest_seen = True
            check_ingest(problems, where, item, body)
    if not ingest_seen:
        problems.add(f"item {item_id}", "its ingest event is not in the package")
    check_item_timestamps(problems, root, item, bodies)
    return entries


def member_key(member: Any) -> tuple[str, str, str]:
    return (str(member.get("item_id")), str(member.get("role")), str(member.get("sha256")))


def check_capture(
    problems: Problems,
    where: str,
    item: dict[str, Any],
    event: dict[str, Any],
    body: dict[str, Any],
) -> None:
    """Check 6: the capture's entry is about a group the item names, lists the item in
    its role and the group's members, and its commitments open to the group's values."""
    index = event.get("ledger_index")
    group = next((g for g in item.get("groups", []) if g.get("ledger_index") == index), None)
    if group is None or (body.get("subject") or {}).get("id") != group.get("id"):
        problems.add(where, "the capture entry is not about a group the item names")
        return
    members = [member_key(m) for m in (body.get("data") or {}).get("members", [])]
    if (str(item.get("id")), str(group.get("role")), str(item.get("sha256"))) not in members:
        problems.add(where, "the capture entry does not list the item in its role")
    if sorted(members) != sorted(member_key(m) for m in group.get("members", [])):
        problems.add(where, "the group's members are not the capture entry's")
    openings = group.get("openings") or {}
    values = openings.get("values") or {}
    expected = {"url": group.get("url"), "captured_at": group.get("captured_at")}
    if group.get("title"):
        expected["title"] = group.get("title")
    if values != expected:
        problems.add(where, "the opened values are not the group's URL, capture time and title")
    try:
        salt = b64decode(openings.get("salt"))
    except (TypeError, ValueError, binascii.Error):
        problems.add(where, "the salt of the capture's commitments is missing or malformed")
        return
    committed = body.get("commitments") or {}
    for name, value in values.items():
        if not hmac.compare_digest(commitment(salt, name, str(value)), committed.get(name, "")):
            problems.add(where, f"the commitment to {name!r} does not open to {value!r}")


# --- RFC 3161 tokens: only the message imprint is read (RFC 3161 §2.4.2, RFC 5652) ----

SHA256_OID = bytes.fromhex("608648016503040201")  # 2.16.840.1.101.3.4.2.1, DER content


def der_elements(data: bytes) -> list[tuple[int, bytes]]:
    """The DER elements that make up ``data``: (tag, content) each."""
    found, offset = [], 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise ValueError("truncated DER")
        tag, length = data[offset], data[offset + 1]
        offset += 2
        if length & 0x80:
            count = length & 0x7F
            if not 1 <= count <= 4 or offset + count > len(data):
                raise ValueError("unsupported DER length")
            length = int.from_bytes(data[offset : offset + count], "big")
            offset += count
        if offset + length > len(data):
            raise ValueError("truncated DER")
        found.append((tag, data[offset : offset + length]))
        offset += length
    return found


def der_child(content: bytes, index: int, tag: int) -> bytes:
    """The content of the ``index``-th element of ``content``, which must have ``tag``."""
    elements = der_elements(content)
    if index >= len(elements) or elements[index][0] != tag:
        raise ValueError("not an RFC 3161 time-stamp token")
    return elements[index][1]


def token_imprint(token: bytes) -> bytes:
    """The SHA-256 a time-stamp token covers: ContentInfo → SignedData →
    encapContentInfo → eContent (TSTInfo) → messageImprint."""
    [(tag, content_info)] = der_elements(token)
    if tag != 0x30:
        raise ValueError("not an RFC 3161 time-stamp token")
    signed = der_child(der_child(content_info, 1, 0xA0), 0, 0x30)
    tst_info = der_child(der_child(der_child(signed, 2, 0x30), 1, 0xA0), 0, 0x04)
    imprint = der_child(der_child(tst_info, 0, 0x30), 2, 0x30)
    if der_child(der_child(imprint, 0, 0x30), 0, 0x06) != SHA256_OID:
        raise ValueError("its imprint is not a SHA-256")
    return der_child(imprint, 1, 0x04)


def check_item_timestamps(
    problems: Problems, root: Path, item: dict[str, Any], bodies: dict[Any, dict[str, Any]]
) -> None:
    """Check 7: the item's tokens, each recorded in its chain and covering its SHA-256."""
    item_id = str(item.get("id"))
    for stamp in item.get("timestamps", []):
        where = str(stamp.get("path"))
        path = check_file(problems, root, stamp.get("path"), stamp.get("sha256"))
        if path is None:
            continue
        if not where.startswith(f"timestamps/{item_id}/"):
            problems.add(where, f"not in the time-stamp folder of item {item_id}")
        body = bodies.get(stamp.get("ledger_index")) or {}
        recorded = (body.get("digests") or {}).get("token_sha256")
        if body.get("type") != "evidence.timestamped" or recorded != stamp.get("sha256"):
            problems.add(where, "no evidence.timestamped entry of the item records this token")
        try:
            imprint = token_imprint(path.read_bytes()).hex()
        except ValueError as exc:
            problems.add(where, f"the time-stamp token cannot be read: {exc}")
            continue
        if imprint != item.get("sha256"):
            problems.add(where, f"the token is for other bytes: its imprint is {imprint}")


def check_ingest(
    problems: Problems, where: str, item: dict[str, Any], body: dict[str, Any]
) -> None:
    """Check 5: the ingest entry describes this item, and its commitments open."""
    data = body.get("data") or {}
    if body.get("type") != "evidence.ingest":
        problems.add(where, "the item's ingest entry is not an evidence.ingest event")
    if data.get("size") != item.get("size") or data.get("media_type") != item.get("media_type"):
        problems.add(where, "the entry's size or media type is not the item's")
    # A derived copy: the entry names its parent's SHA-256 and the operation, as the
    # manifest's derived_from does (an original has neither).
    parent = item.get("derived_from") or {}
    digests = body.get("digests") or {}
    if (digests.get("parent_sha256"), data.get("operation")) != (
        parent.get("sha256"),
        parent.get("operation"),
    ):
        problems.add(where, "the entry's parent and operation are not derived_from's")
    committed = body.get("commitments") or {}
    openings = item.get("openings") or {}
    values = openings.get("values") or {}
    try:
        salt = b64decode(openings.get("salt"))
    except (TypeError, ValueError, binascii.Error):
        problems.add(where, "the salt of the commitments is missing or malformed")
        return
    expected = {"original_name": item.get("name")} | dict(item.get("acquisition") or {})
    if values != expected:
        problems.add(where, "the opened values are not the item's name and acquisition details")
    for name, value in values.items():
        if name not in committed:
            problems.add(where, f"the entry has no commitment to {name!r}")
        elif not hmac.compare_digest(commitment(salt, name, str(value)), committed[name]):
            problems.add(where, f"the commitment to {name!r} does not open to {value!r}")


def check_manifest_signature(
    problems: Problems, root: Path, raw: bytes, key: tuple[str, bytes, Ed25519PublicKey]
) -> None:
    """Check 1: the node signed the SHA-256 of exactly these manifest bytes."""
    statement = f"{FORMAT}\nmanifest sha256 {hashlib.sha256(raw).hexdigest()}\n"
    try:
        signed = open_note((root / "manifest.sig").read_text("utf-8"), *key)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        problems.add("manifest.sig", f"the node's signature of the manifest: {exc}")
    else:
        if signed != statement:
            problems.add("manifest.json", "it is not the manifest the node signed")


def listed_files(manifest: dict[str, Any]) -> set[str]:
    checkpoint = manifest.get("checkpoint") or {}
    listed = {"manifest.json", "manifest.sig", str(checkpoint.get("path"))}
    listed.add(str((manifest.get("report") or {}).get("path")))
    listed.add(str((manifest.get("provenance") or {}).get("path")))
    listed.update(str(stamp.get("path")) for stamp in checkpoint.get("timestamps", []))
    listed.update(str((item.get("file") or {}).get("path")) for item in manifest.get("items", []))
    listed.update(
        str(stamp.get("path"))
        for item in manifest.get("items", [])
        for stamp in item.get("timestamps", [])
    )
    return listed


def verify(root: Path, vkey: str | None) -> tuple[Problems, list[str]]:
    problems, notes = Problems(), list[str]()
    try:
        raw = (root / "manifest.json").read_bytes()
        manifest = json.loads(raw)
    except (OSError, ValueError) as exc:
        problems.add("manifest.json", f"cannot be read: {exc}")
        return problems, notes
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        problems.add("manifest.json", f"not a {FORMAT} manifest")
        return problems, notes
    try:
        verify_contents(problems, notes, root, raw, manifest, vkey=vkey)
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        problems.add("manifest.json", f"malformed (a member has the wrong type): {exc}")
    return problems, notes


def verify_contents(
    problems: Problems,
    notes: list[str],
    root: Path,
    raw: bytes,
    manifest: dict[str, Any],
    *,
    vkey: str | None,
) -> None:
    """All the checks, once the manifest has been read as JSON."""
    log = manifest.get("log") or {}
    key: tuple[str, bytes, Ed25519PublicKey] | None = None
    try:
        key = parse_vkey(vkey if vkey is not None else str(log.get("vkey")))
    except (TypeError, ValueError, binascii.Error) as exc:
        problems.add("--key" if vkey else "manifest.json", f"not a log key: {exc}")
    if key is not None and key[0] != log.get("origin"):
        problems.add("manifest.json", f"the log {log.get('origin')!r} is not the key's")
    if key is not None:
        check_manifest_signature(problems, root, raw, key)
    checkpoint = check_checkpoint(problems, root, manifest, key)
    for stamp in (manifest.get("checkpoint") or {}).get("timestamps", []):
        if check_file(problems, root, stamp.get("path"), stamp.get("sha256")):
            notes.append(
                f"{stamp.get('path')}: RFC 3161 token by {stamp.get('authority')}; check it "
                "with 'openssl ts -verify' (see docs/formats/ledger.md)."
            )
    report = manifest.get("report") or {}
    check_file(problems, root, report.get("path"), report.get("sha256"))
    if "provenance" in manifest:  # absent from packages written before it was added
        provenance = manifest["provenance"] or {}
        check_file(problems, root, provenance.get("path"), provenance.get("sha256"))
    items = manifest.get("items", [])
    entries = sum(check_item(problems, root, item, checkpoint) for item in items)
    # Check 3, last part: nothing was slipped into the package.
    listed = listed_files(manifest)
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and relative not in listed:
            problems.add(relative, "this file is not listed in the manifest")
    if checkpoint is not None:
        notes.append(
            f"{len(items)} item(s), {entries} ledger entries checked against the checkpoint "
            f"of {checkpoint[0]} entries."
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Comity evidence package.")
    parser.add_argument("directory", type=Path, help="the package directory")
    parser.add_argument("--key", help="the node's log key, obtained out of band")
    args = parser.parse_args(argv)
    if args.key is None:
        print(
            "WARNING: no --key given. The package is checked against the key in its own "
            "manifest, which shows only that it is consistent with itself, NOT that it "
            "comes from the node you think. Obtain the key out of band and use --key.",
            file=sys.stderr,
        )
    problems, notes = verify(args.directory, args.key)
    for line in problems.found:
        print(line)
    for note in notes:
        print(f"note {note}")
    if problems.found:
        print(f"The package does not verify: {len(problems.found)} problem(s).")
        return 1
    print("OK: the package verifies.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
