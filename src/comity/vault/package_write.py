"""Writing the parts of an evidence package (see :mod:`comity.vault.package`): files
hashed as they are written and made durable, safe file names, the manifest's bytes and
the human-readable report."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from comity.vault.streams import Writer

Progress = Callable[[int], None]
"""Called with the number of plaintext bytes exported since the last call."""


class HashingWriter:
    """Writes through to a file, keeping the SHA-256 and size of what was written and
    reporting progress."""

    def __init__(self, target: Writer, progress: Progress | None = None) -> None:
        self._target = target
        self._progress = progress
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self._target.write(data)
        self.digest.update(data)
        self.size += len(data)
        if self._progress is not None and data:
            self._progress(len(data))
        return len(data)


def safe_name(name: str) -> str:
    """A file name that stays inside its directory on any system: no separators, no
    leading dot, at most 200 bytes (the original name is in the manifest)."""
    cleaned = "".join("_" if char in '/\\:*?"<>|' else char for char in name).strip()
    if not cleaned or cleaned.startswith("."):
        cleaned = "_" + cleaned
    while len(cleaned.encode()) > 200:
        cleaned = cleaned[:-1]
    return cleaned


def report_text(manifest: dict[str, Any]) -> str:
    lines = [
        "Comity evidence package",
        "=======================",
        "",
        f"Exported by {manifest['exported_by']} at {manifest['created']} from the node whose",
        f"ledger is {manifest['log']['origin']}.",
        f"Ledger key (check it with the sender by another channel): {manifest['log']['vkey']}",
        f"Checkpoint: {manifest['checkpoint']['size']} entries (checkpoint.txt).",
        "",
        f"{len(manifest['items'])} item(s):",
    ]
    for item in manifest["items"]:
        lines += [
            f"- {item['name']} ({item['media_type']}, {item['size']} bytes)",
            f"  id {item['id']}",
            f"  SHA-256 {item['sha256']}",
            f"  file {item['file']['path']}",
            f"  custody: {', '.join(event['action'] for event in item['custody'])}",
        ]
        if parent := item.get("derived_from"):
            lines.append(f"  derived ({parent['operation']}) from SHA-256 {parent['sha256']}")
        lines += [
            f"  {group['role']} of the web capture of {group['url']} at {group['captured_at']}"
            for group in item.get("groups", [])
        ]
        lines += [
            f"  time-stamped {stamp['gen_time']} by {stamp['authority']} ({stamp['path']})"
            for stamp in item.get("timestamps", [])
        ]
    if manifest.get("recipient"):
        lines += ["", f"The files are encrypted to the age recipient {manifest['recipient']}."]
    if manifest.get("provenance"):
        lines += [
            "",
            f"{manifest['provenance']['path']}: the items and their custody events in CASE/UCO",
            "JSON-LD, for forensic tools (informative; the checks below are what count).",
        ]
    lines += [
        "",
        "How to verify (VKEY: the ledger key, obtained from the sender out of band):",
        "  python tools/verify_package.py THIS_DIRECTORY --key VKEY",
        "  comity package verify THIS_DIRECTORY --key VKEY",
        "The format is described in docs/formats/evidence-package.md.",
        "",
    ]
    return "\n".join(lines)


def write_file(path: Path, text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return hashlib.sha256(data).hexdigest()


def fsync_tree(root: Path) -> None:
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
