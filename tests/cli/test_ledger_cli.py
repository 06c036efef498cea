"""``comity ledger``: status, verification, proofs, proof files, checkpoints and witnesses,
run in-process on the test database and checked against the ledger itself."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import Result

from cli.test_cli import Run, as_json, cli_env, flat, invoke, ok, refused
from comity.audit.models import AuditEvent
from comity.ledger import checkpoints, merkle, proofs, store
from comity.ledger.checkpoint import (
    CosignatureVerifier,
    Cosigner,
    verify_checkpoint,
    verify_cosignature,
)
from comity.ledger.models import LedgerCosignature
from comity.ledger.note import NoteSigner, NoteVerifier
from comity.ledger.services import add_witness
from comity.ledger.transport import HttpTransport
from comity.node import Node, local_operator
from comity.settings import Settings
from comity.web.app import create_app
from factories import append_events, audit_events, cosign_latest
from ledger.peers import (
    Log,
    origin_of,
    other_root,
    second_node,
    signed_by_log,
    stored_note,
    witness_key,
)
from ledger.tampering import tamper


@pytest.fixture
def run(settings: Settings) -> Run:
    env = cli_env(settings)
    return lambda *args: invoke(env, *args)


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def unb64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def log_key(node: Node) -> str:
    with node.uow() as uow:
        return checkpoints.verifier(uow.session, node.keys).vkey


def root_at(node: Node, size: int) -> bytes:
    with node.uow() as uow:
        return store.root_at(uow.session, size)


def failed(result: Result, message: str) -> None:
    """Exit code 1: the output (stdout) says what is wrong, the one error line too."""
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


# --- status and checkpoints --------------------------------------------------------------


def test_a_fresh_node_has_the_genesis_entry_and_a_checkpoint(node: Node, run: Run) -> None:
    status = as_json(run("ledger", "status", "--json"))
    with node.uow() as uow:
        origin = checkpoints.origin(uow.session)
    assert status["origin"] == origin
    assert status["vkey"] == log_key(node)
    assert NoteVerifier.from_vkey(status["vkey"]).name == origin
    assert status["size"] == 1
    assert status["root"] == b64(root_at(node, 1))
    assert status["latest_checkpoint"]["size"] == 1
    assert status["latest_checkpoint"]["root"] == status["root"]
    assert status["latest_checkpoint"]["cosignatures"] == 0
    assert status["witnesses"] == 0
    assert status["alarms"] == 0


def test_status_counts_what_was_appended(node: Node, run: Run) -> None:
    append_events(node, 5)
    status = as_json(run("ledger", "status", "--json"))
    assert status["size"] == 6
    assert status["root"] == b64(root_at(node, 6))
    assert status["latest_checkpoint"]["size"] == 1
    text = flat(ok(run("ledger", "status")).output)
    assert "Entries 6" in text
    assert f"Log key {status['vkey']}" in text
    assert f"Root {status['root']}" in text
    assert "size 1, made" in text
    assert "5 newer entries not in it yet" in text


def test_checkpoint_prints_a_note_signed_by_the_log_key(node: Node, run: Run) -> None:
    append_events(node, 3)
    note = ok(run("ledger", "checkpoint")).stdout
    signed = verify_checkpoint(note, NoteVerifier.from_vkey(log_key(node)))
    assert signed.size == 4
    assert signed.root == root_at(node, 4)
    status = as_json(run("ledger", "status", "--json"))
    assert status["latest_checkpoint"]["size"] == 4
    assert "newer" not in ok(run("ledger", "status")).output
    # Unchanged ledger: the same checkpoint, not a second one.
    again = as_json(run("ledger", "checkpoint", "--json"))
    assert again["note"] == note
    assert again["size"] == 4
    assert again["root"] == b64(signed.root)
    assert [e.target_id for e in audit_events(node, "ledger.checkpoint")] == ["4", "4"]


def test_status_counts_cosignatures_and_witnesses(node: Node, run: Run) -> None:
    append_events(node, 2, checkpoint=True)
    cosign_latest(node)
    status = as_json(run("ledger", "status", "--json"))
    assert status["latest_checkpoint"] == {
        "size": 3,
        "root": b64(root_at(node, 3)),
        "created_at": status["latest_checkpoint"]["created_at"],
        "cosignatures": 1,
        "timestamps": 0,
    }
    assert status["witnesses"] == 1
    assert "1 cosignature" in flat(ok(run("ledger", "status")).output)


# --- verify ------------------------------------------------------------------------------


def test_verify_passes_on_a_healthy_ledger(node: Node, run: Run) -> None:
    append_events(node, 6, checkpoint=True)
    cosign_latest(node)
    text = flat(ok(run("ledger", "verify")).output)
    assert (
        "Ledger intact: 7 entries, 4 nodes, 2 checkpoints (latest at size 7), "
        "1 cosignature verified." in text
    )
    assert f"Root {b64(root_at(node, 7))}" in text
    report = as_json(run("ledger", "verify", "--json"))
    assert report == {
        "ok": True,
        "size": 7,
        "nodes": 4,
        "checkpoints": 2,
        "cosignatures": 1,
        "timestamps": 0,
        "latest_checkpoint_size": 7,
        "root": b64(root_at(node, 7)),
        "problems": [],
        "more_problems": 0,
    }
    assert [e.detail for e in audit_events(node, "ledger.verify")] == [
        {"size": 7, "ok": True, "problems": 0},
        {"size": 7, "ok": True, "problems": 0},
    ]


def test_verify_names_a_tampered_entry_and_exits_1(node: Node, run: Run) -> None:
    append_events(node, 6, checkpoint=True)
    tamper(
        node,
        "ledger_entries",
        "UPDATE ledger_entries SET entry = :e WHERE idx = 3",
        {"e": json.dumps({"forged": True}).encode()},
    )
    result = run("ledger", "verify")
    failed(result, "The ledger is not intact: entry 3: its content does not match its stored")
    assert "The ledger is NOT intact" in result.stdout
    assert "entry 3: its content does not match its stored leaf hash" in result.stdout
    assert "checkpoint at size 7: the signed root does not match the stored entries" in (
        result.stdout
    )
    assert "Ledger intact" not in result.stdout

    as_json_result = run("ledger", "verify", "--json")
    failed(as_json_result, "The ledger is not intact")
    report = json.loads(as_json_result.stdout)
    assert report["ok"] is False
    assert report["size"] == 7
    assert {"where": "entry 3", "what": "its content does not match its stored leaf hash"} in (
        report["problems"]
    )
    assert {p["where"] for p in report["problems"]} >= {"entry 3", "checkpoint at size 7"}
    assert report["more_problems"] == 0
    assert audit_events(node, "ledger.verify")[-1].detail["ok"] is False


def test_verify_names_a_forged_cosignature(node: Node, run: Run) -> None:
    append_events(node, 1, checkpoint=True)
    cosign_latest(node)
    # One bit of the witness's signature is changed.
    with node.uow() as uow:
        cosignature = uow.session.scalars(select(LedgerCosignature)).one()
        witness = cosignature.witness
        prefix, payload = cosignature.signature_line.rsplit(" ", 1)
    forged = bytearray(unb64(payload))
    forged[-1] ^= 0x01
    tamper(
        node,
        "ledger_cosignatures",
        "UPDATE ledger_cosignatures SET signature_line = :line",
        {"line": f"{prefix} {b64(bytes(forged))}"},
    )
    result = run("ledger", "verify")
    failed(
        result,
        f"The ledger is not intact: checkpoint at size 2: cosignature by {witness}: "
        f"The cosignature by {witness} does not verify.",
    )


# --- inclusion proofs and proof files ----------------------------------------------------


def test_prove_prints_an_inclusion_proof_that_verifies(node: Node, run: Run) -> None:
    events = append_events(node, 9)
    proof = as_json(run("ledger", "prove", "4", "--json"))
    assert proof["index"] == 4
    assert proof["tree_size"] == 10
    assert proof["leaf_hash"] == b64(events[3].leaf_hash)
    assert proof["root"] == b64(root_at(node, 10))
    proofs.verify_inclusion(
        unb64(proof["leaf_hash"]), 4, 10, [unb64(h) for h in proof["proof"]], unb64(proof["root"])
    )

    older = as_json(run("ledger", "prove", "4", "--size", "6", "--json"))
    assert older["tree_size"] == 6
    assert older["root"] == b64(root_at(node, 6))
    proofs.verify_inclusion(
        unb64(older["leaf_hash"]), 4, 6, [unb64(h) for h in older["proof"]], unb64(older["root"])
    )

    text = flat(ok(run("ledger", "prove", "4")).output)
    assert "Inclusion proof of entry 4 in the tree of size 10" in text
    assert f"Leaf hash {proof['leaf_hash']}" in text
    assert f"Root {proof['root']}" in text
    assert f"Proof {len(proof['proof'])} hashes: " + " ".join(proof["proof"]) in text


def write_proof(run: Run, tmp_path: Path, index: int) -> Path:
    out = tmp_path / "proof.json"
    written = flat(ok(run("ledger", "prove", str(index), "--out", str(out))).output)
    assert f"to {out}." in written
    assert f"comity ledger check-proof {out} --key" in written
    return out


def nowhere(tmp_path: Path) -> dict[str, str | None]:
    """Settings of a machine with no Comity node at all."""
    return {
        "COMITY_HOME": str(tmp_path / "no-node-here"),
        "COMITY_DATABASE_URL": None,
        "COMITY_SECRET_KEY": None,
        "COMITY_CONFIG": None,
    }


def test_a_proof_file_checks_out_without_the_node(node: Node, run: Run, tmp_path: Path) -> None:
    events = append_events(node, 6, checkpoint=True)
    out = write_proof(run, tmp_path, 3)
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["format"] == "comity-ledger-proof/v1"
    assert document["index"] == 3
    assert document["tree_size"] == 7
    assert unb64(document["entry"]) == events[2].entry
    assert document["log"]["vkey"] == log_key(node)
    assert out.read_text(encoding="utf-8").startswith('{\n  "format"')

    result = ok(
        invoke(nowhere(tmp_path), "ledger", "check-proof", str(out), "--key", log_key(node))
    )
    with node.uow() as uow:
        origin = checkpoints.origin(uow.session)
    assert flat(result.output) == (
        f"Entry 3 is in the log {origin} at size 7 (checkpoint signature valid)."
    )
    assert not (tmp_path / "no-node-here").exists()
    proved = audit_events(node, "ledger.prove")
    assert [(e.target_type, e.target_id) for e in proved] == [("ledger_entry", "3")]


def test_a_proof_file_carries_the_cosignatures(node: Node, run: Run, tmp_path: Path) -> None:
    append_events(node, 2, checkpoint=True)
    witness = cosign_latest(node)
    document = json.loads(write_proof(run, tmp_path, 1).read_text(encoding="utf-8"))
    assert verify_cosignature(document["checkpoint"], witness.verifier()) > 0


def _flip_entry(document: dict[str, Any]) -> None:
    entry = bytearray(unb64(document["entry"]))
    entry[10] ^= 0x01
    document["entry"] = b64(bytes(entry))


def _flip_proof_hash(document: dict[str, Any]) -> None:
    value = bytearray(unb64(document["inclusion_proof"][1]))
    value[0] ^= 0x80
    document["inclusion_proof"][1] = b64(bytes(value))


def _other_tree_size(document: dict[str, Any]) -> None:
    document["tree_size"] -= 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_flip_entry, "The inclusion proof for leaf 3 does not lead to the root."),
        (_flip_proof_hash, "The inclusion proof for leaf 3 does not lead to the root."),
        (_other_tree_size, "The proof's tree size is not the checkpoint's."),
    ],
    ids=["entry byte", "proof hash", "tree size"],
)
def test_a_changed_proof_file_fails(
    node: Node, run: Run, tmp_path: Path, change: Any, reason: str
) -> None:
    append_events(node, 6, checkpoint=True)
    out = write_proof(run, tmp_path, 3)
    document = json.loads(out.read_text(encoding="utf-8"))
    assert len(document["inclusion_proof"]) == 3
    change(document)
    out.write_text(json.dumps(document), encoding="utf-8")
    result = invoke(nowhere(tmp_path), "ledger", "check-proof", str(out), "--key", log_key(node))
    failed(result, "The proof does not hold: " + reason)
    assert result.stdout == ""


def test_a_proof_file_fails_with_another_logs_key(node: Node, run: Run, tmp_path: Path) -> None:
    append_events(node, 2, checkpoint=True)
    out = write_proof(run, tmp_path, 1)
    with node.uow() as uow:
        origin = checkpoints.origin(uow.session)
    # Another node's key, and an impostor's key under this log's own name.
    for impostor in (
        NoteSigner("comity/another-node", Ed25519PrivateKey.generate()).verifier().vkey,
        NoteSigner(origin, Ed25519PrivateKey.generate()).verifier().vkey,
    ):
        result = invoke(nowhere(tmp_path), "ledger", "check-proof", str(out), "--key", impostor)
        failed(result, "The proof does not hold: ")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("not json", "is not a proof file"),
        ("[1, 2]", "it holds no JSON object"),
        ('{"format": "something/v9"}', "Not a comity-ledger-proof/v1 document."),
        ('{"format": "comity-ledger-proof/v1"}', "The proof file is malformed"),
    ],
)
def test_a_file_that_is_not_a_proof_fails(
    node: Node, tmp_path: Path, content: str, reason: str
) -> None:
    out = tmp_path / "proof.json"
    out.write_text(content, encoding="utf-8")
    failed(
        invoke(nowhere(tmp_path), "ledger", "check-proof", str(out), "--key", log_key(node)), reason
    )


def test_check_proof_rejects_a_malformed_key_and_a_missing_file(
    node: Node, run: Run, tmp_path: Path
) -> None:
    out = write_proof(run, tmp_path, 0)
    bad_key = invoke(nowhere(tmp_path), "ledger", "check-proof", str(out), "--key", "nonsense")
    assert bad_key.exit_code == 2
    assert "Invalid value for '--key'" in bad_key.output
    missing = invoke(
        nowhere(tmp_path),
        "ledger",
        "check-proof",
        str(tmp_path / "nope.json"),
        "--key",
        log_key(node),
    )
    assert missing.exit_code == 2
    assert "does not exist" in missing.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["prove", "1"], (2, "Entry 1 is not in a tree of 1 entries.")),
        (["prove", "0", "--size", "5"], (2, "a tree size must be between 0 and 1")),
        (["prove", "1", "--out", "{tmp}/p.json"], (1, "make a checkpoint")),
        (["prove", "0", "--out", "{tmp}/p.json", "--size", "1"], (2, "--size does not apply")),
        (["prove", "0", "--out", "{tmp}/missing/p.json"], (2, "Cannot write")),
        (["consistency", "2"], (2, "The old size must be between 0 and 1.")),
        (["consistency", "0", "9"], (2, "a tree size must be between 0 and 1")),
        (["witness", "add", "no-key"], (2, "Not a witness key")),
    ],
)
def test_bad_requests_are_one_line(
    node: Node, run: Run, tmp_path: Path, args: list[str], expected: tuple[int, str]
) -> None:
    refused(run("ledger", *[a.replace("{tmp}", str(tmp_path)) for a in args]), *expected)
    assert not (tmp_path / "p.json").exists()


# --- consistency and witnesses -----------------------------------------------------------


def test_consistency_proof_verifies(node: Node, run: Run) -> None:
    append_events(node, 12)
    proof = as_json(run("ledger", "consistency", "3", "--json"))
    assert (proof["old_size"], proof["new_size"]) == (3, 13)
    assert proof["old_root"] == b64(root_at(node, 3))
    assert proof["new_root"] == b64(root_at(node, 13))
    proofs.verify_consistency(
        3,
        13,
        unb64(proof["old_root"]),
        unb64(proof["new_root"]),
        [unb64(h) for h in proof["proof"]],
    )
    between = as_json(run("ledger", "consistency", "5", "8", "--json"))
    proofs.verify_consistency(
        5, 8, root_at(node, 5), root_at(node, 8), [unb64(h) for h in between["proof"]]
    )
    text = flat(ok(run("ledger", "consistency", "5", "8")).output)
    assert "Consistency proof from size 5 to size 8" in text
    assert f"Old root {b64(root_at(node, 5))}" in text
    assert f"New root {b64(root_at(node, 8))}" in text
    assert " ".join(between["proof"]) in text


def test_witnesses_are_added_and_listed(node: Node, run: Run) -> None:
    assert "No witnesses yet" in ok(run("ledger", "witness", "list")).output
    witness = Cosigner("witness.example.org", Ed25519PrivateKey.generate()).verifier().vkey
    added = ok(run("ledger", "witness", "add", witness, "--url", "https://witness.example.org/"))
    assert "Added the witness 'witness.example.org'" in added.output
    listed = as_json(run("ledger", "witness", "list", "--json"))
    assert [(w["name"], w["vkey"], w["url"], w["active"]) for w in listed] == [
        ("witness.example.org", witness, "https://witness.example.org/", True)
    ]
    assert "witness.example.org" in ok(run("ledger", "witness", "list")).output
    assert as_json(run("ledger", "status", "--json"))["witnesses"] == 1
    refused(run("ledger", "witness", "add", witness), 1, "is already known")
    with node.uow() as uow:
        assert uow.session.scalars(select(AuditEvent.action)).all().count("ledger.witness_add") == 1


def test_ledger_commands_refuse_a_node_that_was_never_initialised(tmp_path: Path) -> None:
    refused(invoke(nowhere(tmp_path), "ledger", "status"), 1, "Run 'comity init' first")
    refused(invoke(nowhere(tmp_path), "ledger", "verify"), 1, "Run 'comity init' first")
    assert not (tmp_path / "no-node-here").exists()


# --- witnessing other logs ---------------------------------------------------------------


@pytest.fixture
def log_node(tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[Node]:
    """Another node whose log the CLI's node (``node``) witnesses."""
    made, _ = second_node(tmp_path / "log-home", new_database("log"), "Partner Prosecutor")
    yield made
    made.close()


@pytest.fixture
def log(log_node: Node, monkeypatch: pytest.MonkeyPatch) -> Iterator[Log]:
    """``witness-run`` reaches ``log_node``'s real app, in process, instead of the network."""
    with TestClient(create_app(log_node), base_url="http://log.example") as client:
        made = Log(client)
        monkeypatch.setattr(
            "comity.cli.witnessing.HttpTransport",
            lambda: HttpTransport(transport=httpx.MockTransport(made.handle)),
        )
        yield made


def test_status_shows_the_witness_key(node: Node, run: Run) -> None:
    status = as_json(run("ledger", "status", "--json"))
    assert status["witness_vkey"] == witness_key(node)
    assert CosignatureVerifier.from_vkey(status["witness_vkey"]).name == status["origin"]
    assert f"Witness key {status['witness_vkey']}" in flat(ok(run("ledger", "status")).output)


def test_follow_and_followed(node: Node, log_node: Node, run: Run) -> None:
    assert "This node follows no log" in ok(run("ledger", "followed")).output
    followed = flat(
        ok(run("ledger", "follow", log_key(log_node), "--url", "https://log.example/")).output
    )
    origin = origin_of(log_node)
    assert f"This node now follows the log {origin} at https://log.example;" in followed
    [row] = as_json(run("ledger", "followed", "--json"))
    assert row == {
        "origin": origin,
        "vkey": log_key(log_node),
        "url": "https://log.example",
        "last_size": 0,
        "last_root": b64(merkle.EMPTY_ROOT),
        "last_checkpoint": None,
        "added_at": row["added_at"],
        "updated_at": row["updated_at"],
    }
    text = flat(ok(run("ledger", "followed")).output)
    assert f"{origin} (not witnessed yet) Key {log_key(log_node)} URL https://log.example" in text
    refused(run("ledger", "follow", log_key(log_node), "--url", "https://x.example"), 1, "already")
    refused(run("ledger", "follow", "nonsense", "--url", "https://x.example"), 2, "Not a log key")
    refused(run("ledger", "follow", log_key(node), "--url", "https://x.example"), 2, "itself")
    assert [e.detail["origin"] for e in audit_events(node, "ledger.follow")] == [origin]


def test_unfollow_forgets_the_state_and_the_audit_keeps_it(
    node: Node, log_node: Node, log: Log, run: Run
) -> None:
    with log_node.uow() as uow:
        add_witness(uow, local_operator(), vkey=witness_key(node))
    ok(run("ledger", "follow", log_key(log_node), "--url", "http://log.example"))
    append_events(log_node, 1, checkpoint=True)
    ok(run("ledger", "witness-run"))
    origin = origin_of(log_node)

    refused(run("ledger", "unfollow", "comity/nobody"), 1, "follows no log named")
    text = flat(ok(run("ledger", "unfollow", origin)).output)
    assert text == f"This node no longer follows the log {origin} (last cosigned size 2)."
    assert "This node follows no log" in ok(run("ledger", "followed")).output
    [event] = audit_events(node, "ledger.unfollow")
    assert (event.detail["origin"], event.detail["last_size"]) == (origin, 2)
    assert event.detail["last_checkpoint"] == stored_note(log_node, 2)
    refused(run("ledger", "unfollow", origin), 1, "follows no log named")

    followed_again = as_json(
        run("ledger", "follow", log_key(log_node), "--url", "http://log.example", "--json")
    )
    assert followed_again["last_size"] == 0


def test_witness_run_cosigns_then_raises_an_alarm(
    node: Node, log_node: Node, log: Log, run: Run
) -> None:
    with log_node.uow() as uow:
        add_witness(uow, local_operator(), vkey=witness_key(node))
    ok(run("ledger", "follow", log_key(log_node), "--url", "http://log.example"))
    append_events(log_node, 2, checkpoint=True)
    origin = origin_of(log_node)

    text = flat(ok(run("ledger", "witness-run")).output)
    assert text == f"{origin}: cosigned size 3 (+3 since size 0)"
    [round_two] = as_json(run("ledger", "witness-run", origin, "--json"))
    assert round_two == {"origin": origin, "ok": True, "old_size": 3, "size": 3, "cosigned": True}
    assert "No alarms" in ok(run("ledger", "alarms")).output

    forged = signed_by_log(log_node, 3, other_root("another history"))
    log.serve_checkpoint(forged)
    result = run("ledger", "witness-run")
    failed(result, "1 log of 1 not cosigned; 1 alarm: see 'comity ledger alarms'.")
    assert f"{origin}: ALARM split_view: The log {origin} showed a split view" in flat(
        result.stdout
    )
    [as_data] = json.loads(run("ledger", "witness-run", "--json").stdout)
    assert (as_data["ok"], as_data["alarm"], as_data["error"]) == (
        False,
        "split_view",
        "witness_alarm",
    )

    [alarm] = as_json(run("ledger", "alarms", "--json"))
    assert (alarm["origin"], alarm["kind"]) == (origin, "split_view")
    # As served at the second round: with this node's cosignature of the first.
    previous = alarm["evidence"]["previous_checkpoint"]
    assert previous.startswith(stored_note(log_node, 3))
    assert verify_cosignature(previous, CosignatureVerifier.from_vkey(witness_key(node))) > 0
    assert alarm["evidence"]["checkpoint"] == forged
    assert alarm["detail"]["old_size"] == alarm["detail"]["new_size"] == 3
    listed = flat(ok(run("ledger", "alarms")).output)
    assert f"#{alarm['id']} split_view {origin}" in listed
    assert "Checkpoint verified before:" in listed
    assert "Conflicting checkpoint:" in listed
    status = flat(ok(run("ledger", "status")).output)
    assert "Alarms 1 — a log was seen to fork or rewrite its history" in status
    with log_node.uow() as uow:
        cosigned = uow.session.scalar(select(func.count(LedgerCosignature.id)))
    assert cosigned == 1


def test_witness_run_without_logs_and_with_an_unknown_one(node: Node, run: Run) -> None:
    assert "This node follows no log yet" in ok(run("ledger", "witness-run")).output
    assert as_json(run("ledger", "witness-run", "--json")) == []
    result = run("ledger", "witness-run", "comity/nobody")
    failed(result, "1 log of 1 not cosigned.")
    assert "comity/nobody: not cosigned: This node follows no log named" in flat(result.stdout)


def test_witness_run_reports_an_unreachable_log(node: Node, log_node: Node, run: Run) -> None:
    """No monkeypatching: the real transport, and nothing listening at the URL."""
    ok(run("ledger", "follow", log_key(log_node), "--url", "http://127.0.0.1:9"))
    result = run("ledger", "witness-run")
    failed(result, "1 log of 1 not cosigned.")
    assert "not cosigned: Cannot reach http://127.0.0.1:9/api/v1/ledger/checkpoint" in flat(
        result.stdout
    )
