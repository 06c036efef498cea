"""``comity evidence deletion`` in-process: two operators (two login names) request and
approve; the confirmation; what ``show``, ``list``, ``get`` and ``export`` say afterwards."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from cli.test_cli import as_json, cli_env, flat, invoke, ok, refused
from comity.cli.main import app
from comity.node import Node
from comity.settings import Settings
from factories import audit_events
from vault.vaulting import blob_files, ledger_ok, vault_state

As = Callable[..., Result]
REFERENCE = "TPI Varesh 2027/113"


@pytest.fixture
def as_operator(settings: Settings) -> As:
    """Run a command as the operator with the login name given first."""

    def run(login: str, *args: str) -> Result:
        env = cli_env(settings) | {"LOGNAME": login, "USER": login}
        return invoke(env, *args)

    return run


@pytest.fixture
def item(node: Node, as_operator: As, tmp_path: Path) -> str:
    photo = tmp_path / "IMG_0412.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 the photograph")
    added = as_json(as_operator("amira", "evidence", "add", str(photo), "--json"))
    return str(added["added"][0]["id"])


def _request(as_operator: As, item: str) -> int:
    made = as_json(
        as_operator(
            "amira",
            "evidence",
            "deletion",
            "request",
            item,
            "--grounds",
            "Order of the investigating judge",
            "--reference",
            REFERENCE,
            "--json",
        )
    )
    assert made["requested_by"] == "cli:amira"
    return int(made["id"])


def test_request_by_one_operator_approved_by_another(
    node: Node, as_operator: As, item: str, tmp_path: Path
) -> None:
    number = _request(as_operator, item)
    listed = as_json(as_operator("jonas", "evidence", "deletion", "list", "--json"))
    assert [(r["id"], r["item"], r["status"], r["reference"]) for r in listed] == [
        (number, item, "open", REFERENCE)
    ]

    refused(
        as_operator("amira", "evidence", "deletion", "approve", str(number), "--yes"),
        1,
        f"You made deletion request #{number}",
    )
    # The requester is refused without being asked to confirm.
    refused(
        as_operator("amira", "evidence", "deletion", "approve", str(number)),
        1,
        "another person",
    )
    assert [e.actor for e in audit_events(node, "evidence.deletion_approve")] == ["cli:amira"] * 2

    before = vault_state(node)
    declined = CliRunner().invoke(
        app,
        ["evidence", "deletion", "approve", str(number)],
        env=cli_env(node.settings) | {"LOGNAME": "jonas", "USER": "jonas"},
        input="n\n",
    )
    assert declined.exit_code == 1
    assert "IMG_0412.jpg" in flat(declined.stderr)
    assert "was not approved; nothing was done" in declined.stderr
    assert vault_state(node) == before

    blobs = blob_files(node)
    approved = CliRunner().invoke(
        app,
        ["evidence", "deletion", "approve", str(number)],
        env=cli_env(node.settings) | {"LOGNAME": "jonas", "USER": "jonas"},
        input="y\n",
    )
    assert approved.exit_code == 0, approved.output
    assert f"Deleted item {item} under request #{number}" in flat(approved.stdout)
    assert len(blob_files(node)) == len(blobs) - 1
    again = as_json(as_operator("jonas", "evidence", "deletion", "approve", str(number), "--json"))
    assert (again["already"], again["blob_removed"]) == (True, False)
    assert "nothing is left to remove" in flat(
        ok(as_operator("jonas", "evidence", "deletion", "approve", str(number))).stdout
    )

    shown = as_json(as_operator("jonas", "evidence", "show", item, "--check", "--json"))
    assert shown["tombstone"]["request"] == number
    assert shown["tombstone"]["approved_by"] == "cli:jonas"
    assert shown["tombstone"]["reference"] == REFERENCE
    assert shown["check"] == {"ok": True, "problems": []}
    assert [row["action"] for row in shown["custody"]] == [
        "ingest",
        "deletion_requested",
        "deleted",
    ]
    text = flat(ok(as_operator("jonas", "evidence", "show", item, "--check")).stdout)
    assert f"under legal process request #{number}, approved by cli:jonas" in text
    assert f"deleted under request #{number}: the blob is gone" in text
    assert as_json(as_operator("jonas", "evidence", "list", "--json"))[0]["deleted_at"]

    refused(
        as_operator("jonas", "evidence", "get", item, "--out", str(tmp_path / "x.jpg")),
        1,
        f"under legal process request #{number}; it cannot be downloaded",
    )
    ok(as_operator("jonas", "ledger", "checkpoint"))
    refused(
        as_operator("jonas", "evidence", "export", item, "--out", str(tmp_path / "case")),
        1,
        f"under legal process request #{number}; it cannot be exported",
    )
    assert ledger_ok(node)


def test_bad_requests_are_one_line_and_change_nothing(
    node: Node, as_operator: As, item: str
) -> None:
    before = vault_state(node)
    base = ("evidence", "deletion", "request")
    refused(
        as_operator("amira", *base, item, "--grounds", " ", "--reference", REFERENCE),
        2,
        "Give the grounds",
    )
    refused(
        as_operator("amira", *base, item, "--grounds", "x", "--reference", "a\x1bb"),
        2,
        "control character",
    )
    refused(
        as_operator("amira", *base, "nope", "--grounds", "x", "--reference", "y"),
        1,
        "No evidence item",
    )
    refused(as_operator("jonas", "evidence", "deletion", "approve", "9", "--yes"), 1, "number 9")
    assert vault_state(node) == before
    assert (
        "There are no deletion requests."
        in ok(as_operator("amira", "evidence", "deletion", "list")).stdout
    )


def test_a_request_withdrawn_or_rejected_at_the_command_line(
    node: Node, as_operator: As, item: str
) -> None:
    number = _request(as_operator, item)
    refused(
        as_operator("jonas", "evidence", "deletion", "withdraw", str(number), "--reason", "x"),
        1,
        "only they can withdraw it; you can reject it",
    )
    withdrawn = ok(
        as_operator(
            "amira", "evidence", "deletion", "withdraw", str(number), "--reason", "Wrong item"
        )
    )
    assert f"Request #{number} is withdrawn; recorded as ledger entry" in flat(withdrawn.stdout)
    again = as_json(
        as_operator(
            "amira", "evidence", "deletion", "withdraw", str(number), "--reason", "x", "--json"
        )
    )
    assert (again["status"], again["already"], again["closed_by"]) == (
        "withdrawn",
        True,
        "cli:amira",
    )
    refused(
        as_operator("jonas", "evidence", "deletion", "approve", str(number), "--yes"),
        1,
        f"#{number} was withdrawn by cli:amira",
    )

    second = _request(as_operator, item)
    refused(
        as_operator("jonas", "evidence", "deletion", "reject", str(second), "--reason", " "),
        2,
        "Give the reason",
    )
    rejected = as_json(
        as_operator(
            "jonas",
            "evidence",
            "deletion",
            "reject",
            str(second),
            "--reason",
            "Set aside",
            "--json",
        )
    )
    assert (rejected["status"], rejected["already"]) == ("rejected", False)
    listed = as_json(as_operator("jonas", "evidence", "deletion", "list", "--json"))
    assert [(r["status"], r["closed_by"], r["reason"]) for r in listed] == [
        ("withdrawn", "cli:amira", "Wrong item"),
        ("rejected", "cli:jonas", "Set aside"),
    ]
    table = flat(ok(as_operator("jonas", "evidence", "deletion", "list")).stdout)
    assert "withdrawn" in table
    assert "rejected" in table
    assert ledger_ok(node)
