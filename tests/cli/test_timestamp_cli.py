"""``comity ledger timestamp``, ``checkpoint`` with time-stamping on, and time-stamps in
``check-proof``, ``verify`` and ``status``: run in-process against a real ``openssl ts``
authority on loopback (``tests/ledger/tsa.py``)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from cli.test_cli import Run, as_json, cli_env, flat, invoke, ok, refused
from comity.ledger import checkpoints
from comity.node import Node
from comity.settings import Settings
from factories import append_events, audit_events
from ledger.tampering import tamper
from ledger.tsa import (  # noqa: F401 - the fixture is used by name
    Authority,
    authority_fixture,
    closed_url,
    make_pki,
    stamping_settings,
)

NOWHERE_KEYS = ("COMITY_DATABASE_URL", "COMITY_SECRET_KEY", "COMITY_CONFIG", "COMITY_TSA_URL")


@pytest.fixture
def settings(settings: Settings, authority: Authority) -> Settings:
    """The node of these tests is time-stamped by ``authority``."""
    return stamping_settings(settings, authority.url, authority.ca_file)


@pytest.fixture
def run(settings: Settings) -> Run:
    env = cli_env(settings)
    return lambda *args: invoke(env, *args)


def log_key(node: Node) -> str:
    with node.uow() as uow:
        return checkpoints.verifier(uow.session, node.keys).vkey


def elsewhere(tmp_path: Path) -> dict[str, str | None]:
    """A machine with no Comity node and no time-stamping configured."""
    return {"COMITY_HOME": str(tmp_path / "no-node-here")} | dict.fromkeys(NOWHERE_KEYS)


# --- checkpoint and timestamp ------------------------------------------------------------


def test_checkpoint_stamps_after_signing_and_says_so_on_stderr(
    node: Node, authority: Authority, run: Run
) -> None:
    append_events(node, 2)
    result = ok(run("ledger", "checkpoint"))
    with node.uow() as uow:
        latest = checkpoints.latest(uow.session)
        assert latest is not None
    assert result.stdout == latest.note  # standard output stays the note's bytes
    assert flat(result.stderr).startswith(f"Time-stamped by {authority.url} at ")
    assert flat(result.stderr).endswith(" UTC (and 1 earlier checkpoint).")
    assert [e.target_id for e in audit_events(node, "ledger.timestamp")] == ["3", "1"]

    append_events(node, 1)
    made = as_json(run("ledger", "checkpoint", "--json"))
    assert made["size"] == 4
    stamping = made["timestamping"]
    assert stamping["authority"] == authority.url
    assert stamping["ok"] is True
    assert [stamp["size"] for stamp in stamping["stamped"]] == [4]
    assert stamping["failed"] is None
    assert stamping["pending"] == 0
    assert base64.b64decode(stamping["stamped"][0]["token"], validate=True)


def test_checkpoint_is_made_when_the_authority_is_down(
    node: Node, authority: Authority, settings: Settings
) -> None:
    down = cli_env(settings) | {"COMITY_TSA_URL": closed_url()}
    append_events(node, 2)
    result = ok(invoke(down, "ledger", "checkpoint"))
    assert result.stdout.startswith(f"{node_origin(node)}\n3\n")
    warning = flat(result.stderr)
    assert warning.startswith(
        "Warning: the checkpoint is made. The checkpoint at size 3 was not time-stamped "
        "(2 checkpoints still without a time-stamp; the next run of 'comity ledger "
        "timestamp' tries again): Cannot reach "
    )
    made = as_json(invoke(down, "ledger", "checkpoint", "--json"))
    assert made["size"] == 3
    assert made["timestamping"]["ok"] is False
    assert made["timestamping"]["failed"]["error"] == "peer_unreachable"
    assert authority.queries == []
    assert [e.outcome for e in audit_events(node, "ledger.timestamp")] == ["failure"] * 2


def test_checkpoint_also_stamps_earlier_checkpoints_left_pending(
    node: Node, authority: Authority, run: Run
) -> None:
    append_events(node, 2)
    asked: list[bytes] = []

    def busy_the_second_time(query: bytes) -> tuple[int, str, bytes]:
        asked.append(query)
        if len(asked) == 2:
            return 503, "text/plain", b"busy"
        return 200, "application/timestamp-reply", authority.reply(query)

    authority.answer = busy_the_second_time
    first = flat(ok(run("ledger", "checkpoint")).stderr)
    assert first.startswith(f"Time-stamped by {authority.url} at ")
    assert "Warning: the checkpoint is made. The checkpoint at size 1 was not time-stamped" in first
    again = ok(run("ledger", "checkpoint"))  # the ledger has not grown: the same checkpoint
    assert again.stdout.startswith(f"{node_origin(node)}\n3\n")
    assert flat(again.stderr) == f"Time-stamped 1 earlier checkpoint by {authority.url}."
    assert len(asked) == 3


def node_origin(node: Node) -> str:
    with node.uow() as uow:
        return checkpoints.origin(uow.session)


def test_timestamp_stamps_what_is_pending_and_prints_json(
    node: Node, authority: Authority, run: Run
) -> None:
    append_events(node, 2, checkpoint=True)
    report = as_json(run("ledger", "timestamp", "--json"))
    assert report["authority"] == authority.url
    assert report["ok"] is True
    assert [stamp["size"] for stamp in report["stamped"]] == [3, 1]
    assert report["failed"] is None
    assert report["pending"] == 0
    for stamp in report["stamped"]:
        assert stamp["gen_time"].endswith("+00:00")

    text = flat(ok(run("ledger", "timestamp")).output)
    assert text == "Every checkpoint is time-stamped already."

    append_events(node, 1, checkpoint=True)
    append_events(node, 1, checkpoint=True)
    text = flat(ok(run("ledger", "timestamp", "--limit", "1")).output)
    assert text.startswith("checkpoint at size 5: time-stamped ")
    assert text.endswith(
        f"1 checkpoint time-stamped by {authority.url}; 1 still without a time-stamp."
    )
    status = as_json(run("ledger", "status", "--json"))
    assert status["latest_checkpoint"]["timestamps"] == 1
    assert "1 time-stamp" in flat(ok(run("ledger", "status")).output)


def test_timestamp_exits_1_when_the_authority_fails(
    node: Node, authority: Authority, settings: Settings
) -> None:
    down = cli_env(settings) | {"COMITY_TSA_URL": closed_url()}
    result = invoke(down, "ledger", "timestamp")
    refused(result, 1, "The checkpoint at size 1 was not time-stamped (1 checkpoint still")
    assert "checkpoint at size 1: not time-stamped: Cannot reach" in flat(result.stdout)

    authority.answer = lambda _query: (500, "text/plain", b"disk full")
    result = invoke(cli_env(settings), "ledger", "timestamp", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["failed"] == {
        "size": 1,
        "error": "peer_unreachable",
        "message": f"{authority.url} answered HTTP 500: disk full",
    }
    assert report["pending"] == 1


def test_timestamp_needs_an_authority(node: Node, settings: Settings) -> None:
    off = cli_env(settings) | {"COMITY_TSA_URL": None, "COMITY_TSA_CA_FILE": None}
    refused(invoke(off, "ledger", "timestamp"), 1, "Time-stamping is off: set COMITY_TSA_URL")
    assert invoke(off, "ledger", "timestamp", "--limit", "0").exit_code == 2
    no_roots = cli_env(settings) | {"COMITY_TSA_CA_FILE": None}
    refused(invoke(no_roots, "ledger", "timestamp"), 1, "COMITY_TSA_CA_FILE is not")
    help_text = flat(ok(invoke(off, "ledger", "timestamp", "--help")).output)
    assert "Example: comity ledger timestamp --json" in help_text
    assert "COMITY_TSA_URL" in help_text


# --- proofs, verify ----------------------------------------------------------------------


def stamped_proof(node: Node, run: Run, tmp_path: Path) -> Path:
    append_events(node, 2)
    ok(run("ledger", "checkpoint"))
    out = tmp_path / "proof.json"
    written = flat(ok(run("ledger", "prove", "1", "--out", str(out))).output)
    assert "with the checkpoint's 1 time-stamp(s)." in written
    return out


def test_check_proof_reports_the_time_stamp(
    node: Node, authority: Authority, run: Run, tmp_path: Path
) -> None:
    out = stamped_proof(node, run, tmp_path)
    document = json.loads(out.read_text(encoding="utf-8"))
    assert [stamp["authority"] for stamp in document["timestamps"]] == [authority.url]
    check = ("ledger", "check-proof", str(out), "--key", log_key(node))

    plain = flat(ok(invoke(elsewhere(tmp_path), *check)).output)
    assert plain.startswith(f"Entry 1 is in the log {node_origin(node)} at size 3 ")
    assert f" UTC by {authority.url} (covers the checkpoint note; not checked who signed it: " in (
        plain
    )
    trusted = flat(
        ok(invoke(elsewhere(tmp_path), *check, "--tsa-ca", str(authority.ca_file))).output
    )
    assert "Checkpoint time-stamped " in trusted
    assert "(covers the checkpoint note; signed by the authority of --tsa-ca)." in trusted

    stranger = make_pki(tmp_path / "stranger", "Stranger")
    refused(
        invoke(elsewhere(tmp_path), *check, "--tsa-ca", str(stranger.root_file)),
        1,
        f"The proof does not hold: The time-stamp by {authority.url}: The token's signature "
        "does not verify against the trusted roots",
    )
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n", encoding="utf-8")
    refused(
        invoke(elsewhere(tmp_path), *check, "--tsa-ca", str(not_pem)),
        2,
        "holds no PEM certificate",
    )


def test_check_proof_refuses_a_tampered_token(
    node: Node, authority: Authority, run: Run, tmp_path: Path
) -> None:
    out = stamped_proof(node, run, tmp_path)
    document = json.loads(out.read_text(encoding="utf-8"))
    with node.uow() as uow:
        stamped = checkpoints.checkpoint_at(uow.session, 3)
        assert stamped is not None
    imprint = hashlib.sha256(stamped.note.encode("utf-8")).digest()
    token = base64.b64decode(document["timestamps"][0]["token"])
    assert token.count(imprint) == 1
    token = token.replace(imprint, hashlib.sha256(b"another note").digest())
    document["timestamps"][0]["token"] = base64.b64encode(token).decode()
    out.write_text(json.dumps(document), encoding="utf-8")
    refused(
        invoke(elsewhere(tmp_path), "ledger", "check-proof", str(out), "--key", log_key(node)),
        1,
        f"The proof does not hold: The time-stamp by {authority.url}: The token is for other bytes",
    )

    del document["timestamps"]
    out.write_text(json.dumps(document), encoding="utf-8")
    refused(
        invoke(
            elsewhere(tmp_path),
            "ledger",
            "check-proof",
            str(out),
            "--key",
            log_key(node),
            "--tsa-ca",
            str(authority.ca_file),
        ),
        1,
        "--tsa-ca was given and the file carries no time-stamp",
    )


def test_verify_counts_time_stamps_and_flags_one_for_other_bytes(node: Node, run: Run) -> None:
    append_events(node, 2, checkpoint=True)
    ok(run("ledger", "timestamp"))
    text = flat(ok(run("ledger", "verify")).output)
    assert "3 entries, 1 node, 2 checkpoints (latest at size 3), 0 cosignatures, " in text
    assert "2 time-stamps verified." in text
    assert as_json(run("ledger", "verify", "--json"))["timestamps"] == 2

    with node.uow() as uow:
        genesis = checkpoints.checkpoint_at(uow.session, 1)
        assert genesis is not None
    tamper(
        node,
        "ledger_timestamps",
        "UPDATE ledger_timestamps SET token = (SELECT token FROM ledger_timestamps "
        "WHERE checkpoint_id = :genesis) WHERE checkpoint_id <> :genesis",
        {"genesis": genesis.id},
    )
    result = run("ledger", "verify")
    assert result.exit_code == 1
    assert "checkpoint at size 3: time-stamp " in flat(result.stdout)
    assert "The token is for other bytes" in flat(result.stdout)
