"""RFC 3161 time-stamps of evidence items on ingest: a real ``openssl ts`` authority on
loopback (``ledger/tsa.py``), real HTTP, the real database. A token is kept only once it
verifies, OpenSSL accepts it against the file alone, an authority that fails never fails
an ingest, and packages carry the tokens for both verifiers to check."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rfc3161_client import HashAlgorithm, TimestampRequestBuilder
from sqlalchemy import func, select

from cli.test_cli import Run, as_json, cli_env, flat, invoke, ok
from comity.audit.models import Outcome
from comity.errors import ConfigurationError, PeerAnswerInvalid, PermissionDenied
from comity.identity.permissions import Permission, Role, system_actor
from comity.ledger import checkpoints, rfc3161
from comity.ledger.errors import TimestampError
from comity.ledger.models import LedgerEntry
from comity.ledger.note import sign_note
from comity.ledger.schedule import ITEM_STAMPING_DUTY, LedgerSchedule
from comity.node import Node, local_operator
from comity.settings import Settings, load_settings
from comity.vault.ingest import add_file
from comity.vault.models import VaultCustody, VaultItemTimestamp
from comity.vault.package import export_items
from comity.vault.package_check import manifest_statement, verify_package
from comity.vault.timestamps import (
    ItemStamp,
    ItemStampFailure,
    timestamp_pending_items,
)
from conftest import TEST_SECRET
from factories import actor_for, audit_events, make_user
from ledger.test_schedule import checkpointing, run_for
from ledger.tsa import (  # noqa: F401 - the fixture is used by name
    Authority,
    authority_fixture,
    closed_url,
    openssl_query_text,
    openssl_verify_file,
    stamping_settings,
    with_authority,
)
from vault.test_package import _tool
from vault.vaulting import ledger_entries, ledger_ok, write

OPERATOR = local_operator()


@pytest.fixture
def settings(settings: Settings, authority: Authority) -> Settings:
    """The node of these tests has its evidence time-stamped by ``authority``."""
    return stamping_settings(settings, authority.url, authority.ca_file, items=True)


def tokens(node: Node) -> list[VaultItemTimestamp]:
    with node.uow() as uow:
        return list(uow.session.scalars(select(VaultItemTimestamp).order_by(VaultItemTimestamp.id)))


# --- the request -------------------------------------------------------------------------


@given(data=st.binary(min_size=1, max_size=64))
def test_a_digest_request_is_the_request_rfc3161_client_builds_for_the_bytes(data: bytes) -> None:
    built = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    assert built.nonce is not None
    ours = rfc3161.request_der(hashlib.sha256(data).digest(), built.nonce)
    assert ours == built.as_bytes()


def test_a_digest_that_is_not_sha256_is_refused() -> None:
    with pytest.raises(TimestampError, match="A SHA-256 imprint has 32 bytes, not 20"):
        rfc3161.make_digest_request(b"\x00" * 20)


# --- on ingest ---------------------------------------------------------------------------


def test_an_item_is_time_stamped_on_ingest_and_openssl_agrees(
    node: Node, authority: Authority, tmp_path: Path
) -> None:
    data = b"Statement of a witness, page 1.\n" * 100
    source = write(tmp_path / "statement.txt", data)
    added = add_file(node, OPERATOR, source)
    stamp = added.timestamp
    assert isinstance(stamp, ItemStamp)
    assert stamp.authority == authority.url

    # The authority saw the file's SHA-256, never the file.
    [query] = authority.queries
    assert hashlib.sha256(data).digest() in query
    assert data[:32] not in query
    assert "Hash Algorithm: sha256" in openssl_query_text(query, tmp_path / "q")

    [row] = tokens(node)
    assert (row.item_id, row.authority, row.token) == (added.item_id, authority.url, stamp.token)
    checked = rfc3161.check_token_digest(
        row.token,
        bytes.fromhex(added.sha256),
        rfc3161.read_roots(authority.ca_file.read_bytes(), "r"),
    )
    assert checked.gen_time == row.gen_time == stamp.gen_time
    # Independently: anyone with the file checks the token with OpenSSL alone.
    assert "Verification: OK" in openssl_verify_file(
        source, row.token, authority.ca_file, tmp_path / "v"
    )
    other = write(tmp_path / "other.txt", data + b"!")
    assert "Verification: OK" not in openssl_verify_file(
        other, row.token, authority.ca_file, tmp_path / "v2"
    )

    with node.uow() as uow:
        custody = uow.session.scalars(
            select(VaultCustody).where(VaultCustody.item_id == added.item_id)
        ).all()
    assert [row.action for row in custody] == ["ingest", "timestamped"]
    assert custody[1].ledger_index == stamp.ledger_index
    entry = json.loads(ledger_entries(node)[stamp.ledger_index].entry)
    assert entry["type"] == "evidence.timestamped"
    assert entry["subject"] == {"type": "vault_item", "id": added.item_id}
    assert entry["digests"] == {
        "sha256": added.sha256,
        "token_sha256": hashlib.sha256(row.token).hexdigest(),
    }
    assert entry["data"]["authority"] == authority.url
    [event] = audit_events(node, "evidence.timestamp")
    assert (event.outcome, event.target_id) == (Outcome.SUCCESS, added.item_id)
    assert ledger_ok(node)

    again = add_file(node, OPERATOR, source)  # held already: nothing asked, nothing added
    assert again.timestamp is None
    assert len(authority.queries) == 1


def test_an_authority_that_is_down_never_fails_an_ingest_and_the_item_waits(
    node: Node, authority: Authority, tmp_path: Path
) -> None:
    down = with_authority(node, closed_url(), authority.ca_file, items=True)
    added = add_file(down, OPERATOR, write(tmp_path / "clip.bin", os.urandom(5000)))
    assert added.created
    failure = added.timestamp
    assert isinstance(failure, ItemStampFailure)
    assert "Cannot reach" in failure.error.message
    assert tokens(node) == []
    [event] = audit_events(node, "evidence.timestamp")
    assert (event.outcome, event.target_id) == (Outcome.FAILURE, added.item_id)
    assert event.detail["error"] == "peer_unreachable"

    second = add_file(down, OPERATOR, write(tmp_path / "more.bin", os.urandom(10)), timestamp=False)
    assert second.timestamp is None  # the caller saw the authority fail: not asked again
    assert len(audit_events(node, "evidence.timestamp")) == 1

    run = timestamp_pending_items(node, OPERATOR)  # the authority is back
    assert run.ok
    assert [stamp.item_id for stamp in run.stamped] == [added.item_id, second.item_id]
    assert run.pending == 0
    assert {row.item_id for row in tokens(node)} == {added.item_id, second.item_id}
    assert timestamp_pending_items(node, OPERATOR).stamped == []
    assert ledger_ok(node)


def test_a_token_for_another_hash_is_refused_before_anything_is_stored(
    node: Node, authority: Authority, tmp_path: Path
) -> None:
    data = b"the real file\n"
    digest = hashlib.sha256(data).digest()
    forged = hashlib.sha256(b"another file\n").digest()

    def other_imprint(query: bytes) -> tuple[int, str, bytes]:
        assert query.count(digest) == 1
        return 200, "application/timestamp-reply", authority.reply(query.replace(digest, forged))

    authority.answer = other_imprint
    added = add_file(node, OPERATOR, write(tmp_path / "real.txt", data))
    failure = added.timestamp
    assert isinstance(failure, ItemStampFailure)
    assert isinstance(failure.error, PeerAnswerInvalid)
    assert "The token is for other bytes" in failure.error.message
    assert tokens(node) == []
    assert [e.kind for e in ledger_entries(node)][-1] == "evidence.ingest"
    with node.uow() as uow:
        assert (
            uow.session.scalar(select(func.count()).where(VaultCustody.action == "timestamped"))
            == 0
        )


def test_pending_runs_are_bounded_and_need_evidence_read_and_ledger_manage(
    node: Node, authority: Authority, tmp_path: Path
) -> None:
    added = [
        add_file(node, OPERATOR, write(tmp_path / f"{n}.txt", f"{n}\n".encode()), timestamp=False)
        for n in range(3)
    ]
    progress: list[tuple[int, int]] = []
    run = timestamp_pending_items(
        node, OPERATOR, limit=2, progress=lambda done, total: progress.append((done, total))
    )
    assert [s.item_id for s in run.stamped] == [a.item_id for a in added[:2]]  # oldest first
    assert (run.pending, progress) == (1, [(0, 2), (1, 2), (2, 2)])

    analyst = actor_for(make_user(node, Role.ANALYST))
    with pytest.raises(PermissionDenied):
        timestamp_pending_items(node, analyst)
    assert audit_events(node, "evidence.timestamp")[-1].outcome == Outcome.DENIED
    duty = system_actor("checkpoint", ITEM_STAMPING_DUTY)
    assert not duty.can(Permission.EVIDENCE_ADD)
    assert timestamp_pending_items(node, duty).pending == 0

    off = dataclasses.replace(
        node, settings=node.settings.model_copy(update={"vault_timestamps": False})
    )
    with pytest.raises(ConfigurationError, match="COMITY_VAULT_TIMESTAMPS=true"):
        timestamp_pending_items(off, OPERATOR)


def test_the_setting_needs_an_authority(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="COMITY_VAULT_TIMESTAMPS is on but COMITY_TSA"):
        load_settings(home=tmp_path, secret_key=TEST_SECRET, vault_timestamps=True)


def test_the_checkpoint_duty_time_stamps_waiting_items_first(
    node: Node, authority: Authority, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    added = add_file(node, OPERATOR, write(tmp_path / "a.txt", b"a\n"), timestamp=False)
    timed = checkpointing(node)
    with caplog.at_level(logging.INFO, logger="comity.ledger.schedule"):
        run_for(LedgerSchedule(timed), 0.5)
    [row] = tokens(node)
    assert row.item_id == added.item_id
    [event] = audit_events(node, "evidence.timestamp")
    assert event.actor == "system:checkpoint"
    assert "Time-stamped 1 evidence item(s) by" in " ".join(caplog.messages)
    with node.uow() as uow:  # the checkpoint made after it covers its ledger event
        latest = checkpoints.latest(uow.session)
        stamped_at = uow.session.scalar(
            select(func.max(LedgerEntry.idx)).where(LedgerEntry.kind == "evidence.timestamped")
        )
    assert latest is not None
    assert stamped_at is not None
    assert latest.size > stamped_at


# --- the command line --------------------------------------------------------------------


@pytest.fixture
def run(settings: Settings) -> Run:
    env = cli_env(settings) | {"COMITY_VAULT_TIMESTAMPS": "true"}
    return lambda *args: invoke(env, *args)


def test_cli_add_show_and_timestamp(
    node: Node, authority: Authority, run: Run, tmp_path: Path
) -> None:
    (tmp_path / "in").mkdir()
    for n in range(3):
        write(tmp_path / "in" / f"{n}.txt", f"file {n}\n".encode())
    authority.answer = lambda _query: (503, "text/plain", b"overloaded")
    added = ok(run("evidence", "add", str(tmp_path / "in"), "-r"))
    assert flat(added.stdout).count("not time-stamped yet ('comity evidence timestamp'") == 1
    assert len(authority.queries) == 1  # after one failure, the rest wait for a later run

    authority.answer = None
    stamped = ok(run("evidence", "timestamp"))
    assert "3 items time-stamped by" in flat(stamped.stdout)
    assert "Every item is time-stamped already." in ok(run("evidence", "timestamp")).stdout
    item_id = as_json(run("evidence", "list", "--json"))[0]["id"]
    shown = as_json(run("evidence", "show", item_id, "--json"))
    [token] = shown["timestamps"]
    assert token["authority"] == authority.url
    assert [c["action"] for c in shown["custody"]] == ["ingest", "timestamped"]
    assert token["ledger_index"] == shown["custody"][1]["ledger_index"]
    assert f"UTC by {authority.url} (ledger" in flat(ok(run("evidence", "show", item_id)).stdout)

    authority.answer = lambda _query: (503, "text/plain", b"overloaded")
    ok(run("evidence", "add", str(write(tmp_path / "late.txt", b"late\n"))))
    failed = run("evidence", "timestamp", "--json")
    assert failed.exit_code == 1
    body = json.loads(failed.stdout)
    assert (body["ok"], body["pending"], body["failed"]["error"]) == (
        False,
        1,
        "peer_unreachable",
    )


# --- packages ----------------------------------------------------------------------------


def resign(node: Node, package: Path, manifest: dict[str, object]) -> None:
    """Write ``manifest`` and sign it with the node's key, as a forger holding the key
    could: what is checked then is the rest of the package."""
    raw = (json.dumps(manifest, indent=2) + "\n").encode()
    (package / "manifest.json").write_bytes(raw)
    with node.uow() as uow:
        signer = checkpoints.signer(uow.session, node.keys)
    statement = manifest_statement(hashlib.sha256(raw).hexdigest())
    (package / "manifest.sig").write_text(sign_note(statement, [signer]))


def test_the_package_carries_the_item_tokens_and_both_verifiers_check_them(
    node: Node, authority: Authority, tmp_path: Path
) -> None:
    first = add_file(node, OPERATOR, write(tmp_path / "a.txt", b"first file\n"))
    second = add_file(node, OPERATOR, write(tmp_path / "b.txt", b"second file\n"))
    with node.uow() as uow:
        checkpoints.make_checkpoint(uow, node.keys, OPERATOR)
        vkey = checkpoints.verifier(uow.session, node.keys).vkey
    out = tmp_path / "case"
    export_items(node, OPERATOR, [first.item_id, second.item_id], out)
    manifest = json.loads((out / "manifest.json").read_text())
    stamps = [item["timestamps"] for item in manifest["items"]]
    assert [s["path"] for [s] in stamps] == [
        f"timestamps/{first.item_id}/1.tsr",
        f"timestamps/{second.item_id}/1.tsr",
    ]
    token_file = out / stamps[0][0]["path"]
    assert f"by {authority.url} ({stamps[0][0]['path']})" in (out / "REPORT.txt").read_text()
    assert "Verification: OK" in openssl_verify_file(
        tmp_path / "a.txt", token_file.read_bytes(), authority.ca_file, tmp_path / "v"
    )
    report = verify_package(out, vkey)
    assert report.ok, report.problems
    assert any(f"covers the SHA-256 of item {first.item_id}" in n for n in report.notes)
    assert _tool(out, "--key", vkey).returncode == 0, _tool(out, "--key", vkey).stdout

    # One changed byte of a token: both verifiers name the file.
    token = bytearray(token_file.read_bytes())
    token[len(token) // 2] ^= 0x01
    token_file.write_bytes(bytes(token))
    where = stamps[0][0]["path"]
    assert where in {p.where for p in verify_package(out, vkey).problems}
    assert f"FAIL {where}" in _tool(out, "--key", vkey).stdout

    # Another item's (genuine) token in its place, the manifest re-signed: the imprint
    # and the ledger entry give it away.
    other = (out / stamps[1][0]["path"]).read_bytes()
    token_file.write_bytes(other)
    manifest["items"][0]["timestamps"][0]["sha256"] = hashlib.sha256(other).hexdigest()
    resign(node, out, manifest)
    problems = {p.what for p in verify_package(out, vkey).problems if p.where == where}
    assert any("The token is for other bytes" in what for what in problems)
    assert "no evidence.timestamped entry of the item records this token" in problems
    tool = _tool(out, "--key", vkey).stdout
    assert f"FAIL {where}: the token is for other bytes" in tool
    assert f"FAIL {where}: no evidence.timestamped entry" in tool
