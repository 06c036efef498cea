"""``comity evidence derive`` in-process, and what ``evidence show`` and ``list`` say of
an item's lineage."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.test_cli import Run, as_json, cli_env, flat, invoke, ok, refused
from comity.node import Node
from comity.settings import Settings
from vault.vaulting import vault_state


@pytest.fixture
def run(settings: Settings) -> Run:
    env = cli_env(settings)
    return lambda *args: invoke(env, *args)


@pytest.fixture
def parent(node: Node, run: Run, tmp_path: Path) -> str:
    photo = tmp_path / "IMG_0412.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 the photograph")
    return str(as_json(run("evidence", "add", str(photo), "--json"))["added"][0]["id"])


def test_derive_show_and_list(run: Run, tmp_path: Path, parent: str) -> None:
    blurred = tmp_path / "IMG_0412-blurred.jpg"
    blurred.write_bytes(b"\xff\xd8\xff\xe0 the photograph, blurred")
    text = flat(
        ok(
            run(
                "evidence",
                "derive",
                parent,
                str(blurred),
                "--operation",
                "redact",
                "--note",
                "Faces blurred",
                "--tool",
                "GIMP",
            )
        ).stdout
    )
    assert f"(redact of {parent}; image/jpeg, " in text
    listed = as_json(run("evidence", "list", "--json"))
    child = listed[1]["id"]
    assert listed[0]["derived_from"] is None
    assert listed[1]["derived_from"] == {"item": parent, "operation": "redact"}
    assert listed[1]["acquisition"] == {"tool": "GIMP"}
    assert child in ok(run("evidence", "list")).stdout

    shown = as_json(run("evidence", "show", child, "--json"))
    assert shown["derivation"]["parent"] == parent
    assert (shown["derivation"]["operation"], shown["derivation"]["note"]) == (
        "redact",
        "Faces blurred",
    )
    assert shown["derived"] == []
    assert shown["tombstone"] is None
    original = as_json(run("evidence", "show", parent, "--json"))
    assert [row["item"] for row in original["derived"]] == [child]
    assert [row["action"] for row in original["custody"]] == ["ingest", "derive"]
    assert f"Derived copies {child} (redact)" in flat(ok(run("evidence", "show", parent)).stdout)
    assert f"Derived from {parent} (redact)" in flat(ok(run("evidence", "show", child)).stdout)

    cropped = tmp_path / "IMG_0412-cropped.jpg"
    cropped.write_bytes(b"\xff\xd8\xff\xe0 the blurred photograph, cropped")
    made = as_json(run("evidence", "derive", child, str(cropped), "--operation", "CROP", "--json"))
    assert (made["parent"], made["operation"], made["name"]) == (
        child,
        "crop",
        "IMG_0412-cropped.jpg",
    )


def test_bad_derivations_are_one_line_and_add_nothing(
    node: Node, run: Run, tmp_path: Path, parent: str
) -> None:
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(b"\xff\xd8\xff\xe0 a copy")
    held = tmp_path / "held.jpg"
    held.write_bytes(b"\xff\xd8\xff\xe0 the photograph")
    before = vault_state(node)
    refused(run("evidence", "derive", "nope", str(copy), "--operation", "crop"), 1, "No evidence")
    refused(run("evidence", "derive", parent, str(copy), "--operation", "blur"), 2, "one of redact")
    refused(run("evidence", "derive", parent, str(copy), "--operation", "other"), 2, "note")
    refused(
        run("evidence", "derive", parent, str(copy), "--operation", "crop", "--note", "a\x07"),
        2,
        "control character",
    )
    refused(
        run("evidence", "derive", parent, str(held), "--operation", "crop"),
        1,
        f"already held as item {parent}",
    )
    refused(run("evidence", "derive", parent, str(tmp_path), "--operation", "crop"), 2, "directory")
    assert vault_state(node) == before
