"""``comity node descriptor`` and ``comity peers …`` between two real nodes, in process:
what each command prints and changes, and refusals as one line that change nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cli.test_cli import Run, as_json, cli_env, flat, invoke, ok, refused
from comity.node import InitReport, Node
from comity.settings import Settings
from ledger.peers import second_node


@pytest.fixture
def run(settings: Settings) -> Run:
    env = cli_env(settings)
    return lambda *args: invoke(env, *args)


@pytest.fixture
def partner(tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[tuple[Run, InitReport]]:
    other, report = second_node(
        tmp_path / "partner", new_database("partner"), "Helgar Legal Aid Collective"
    )
    env = cli_env(other.settings) | {"COMITY_PUBLIC_URL": "https://comity.helgar.example"}
    yield (lambda *args: invoke(env, *args)), report
    other.close()


def test_a_partner_is_added_from_its_file_and_confirmed_by_fingerprint(
    node: Node, run: Run, partner: tuple[Run, InitReport], tmp_path: Path
) -> None:
    run_partner, report = partner
    path = tmp_path / "helgar.json"
    written = flat(ok(run_partner("node", "descriptor", "--out", str(path))).stdout)
    assert f"Fingerprint {report.fingerprint}" in written
    assert "Endpoint https://comity.helgar.example" in written
    printed = ok(run_partner("node", "descriptor")).stdout
    assert (
        json.loads(printed)["descriptor"]["node"]
        == json.loads(path.read_bytes())["descriptor"]["node"]
    )

    shown = flat(ok(run("peers", "add", str(path))).stdout)
    assert "Added Helgar Legal Aid Collective as a pending peer" in shown
    assert report.fingerprint in shown
    [listed] = as_json(run("peers", "list", "--json"))
    assert (listed["status"], listed["fingerprint"]) == ("pending", report.fingerprint)
    assert listed["endpoint"] == "https://comity.helgar.example"
    node_id = listed["node"]

    refused(
        run("peers", "confirm", node_id, "--fingerprint", "1111 2222"),
        2,
        "does not match the descriptor's",
    )
    assert as_json(run("peers", "show", node_id, "--json"))["status"] == "pending"
    ok(run("peers", "confirm", node_id, "--fingerprint", report.fingerprint))
    table = flat(ok(run("peers", "list")).stdout)
    assert "Helgar Legal Aid Collective" in table
    assert "confirmed" in table

    ok(run("peers", "suspend", node_id, "--reason", "checking"))
    assert "Reason checking" in flat(ok(run("peers", "show", node_id)).stdout)
    assert "confirmed again" in flat(ok(run("peers", "resume", node_id)).stdout)
    ok(run("peers", "revoke", node_id, "--reason", "partnership ended"))
    refused(run("peers", "resume", node_id), 1, "is revoked")
    assert as_json(run("peers", "show", node_id, "--json"))["status"] == "revoked"


def test_bad_sources_are_refused_in_one_line(
    node: Node, run: Run, partner: tuple[Run, InitReport], tmp_path: Path
) -> None:
    refused(run("peers", "add", str(tmp_path / "missing.json")), 2, "is not a file")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    refused(run("peers", "add", str(bad)), 2, "lacks descriptor, signature")
    refused(run("peers", "show", "nobody"), 1, "knows no peer")
    refused(run("peers", "add", "http://127.0.0.1:9"), 1, "Could not fetch")
    assert "No peers yet" in ok(run("peers", "list")).stdout
