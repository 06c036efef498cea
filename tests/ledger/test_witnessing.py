"""Witnessing between two nodes in one process: the witness's HTTP requests are routed
into the log node's real app, so both sides run their real services on their own
databases; a test replaces the log's answers to play a log that misbehaves."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from comity.db import utcnow
from comity.errors import (
    Conflict,
    NotFound,
    PeerAnswerInvalid,
    PeerUnreachable,
    PermissionDenied,
    ValidationError,
)
from comity.identity.permissions import Role
from comity.ledger import checkpoints, cosignatures, following, merkle, services, store, witnessing
from comity.ledger.checkpoint import (
    Checkpoint,
    Cosigner,
    sign_checkpoint,
    verify_checkpoint,
    verify_cosignature,
)
from comity.ledger.models import LedgerAlarm, LedgerCosignature, LedgerFollowedLog, LedgerWitness
from comity.ledger.note import NoteSigner, b64decode_strict, b64encode
from comity.ledger.transport import HttpTransport
from comity.node import Node, local_operator
from comity.web.app import create_app
from factories import actor_for, append_events, audit_events, make_user
from ledger.peers import (
    Log,
    checkpoints_verifier,
    log_key,
    origin_of,
    other_root,
    second_node,
    signed_by_log,
    stored_note,
    witness_key,
)

LOG_URL = "http://log.example"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def witness(tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[Node]:
    """A second node, on its own database and with its own keys, that witnesses ``node``."""
    made, _ = second_node(tmp_path / "witness-home", new_database("witness"), "Witness Archive")
    yield made
    made.close()


@pytest.fixture
def log(node: Node) -> Iterator[Log]:
    with TestClient(create_app(node), base_url=LOG_URL) as client:
        made = Log(client)
        with HttpTransport(transport=httpx.MockTransport(made.handle)) as made.transport:
            yield made


@pytest.fixture
def transport(log: Log) -> HttpTransport:
    """The witness's transport: a real :class:`HttpTransport`, its requests served by ``log``."""
    return log.transport


@pytest.fixture
def origin(node: Node, witness: Node) -> str:
    """Mutual set-up: the log trusts the witness's key, the witness follows the log."""
    with node.uow() as uow:
        services.add_witness(uow, local_operator(), vkey=witness_key(witness))
    with witness.uow() as uow:
        following.follow_log(uow, local_operator(), vkey=log_key(node), url=LOG_URL + "/")
    return origin_of(node)


def run_round(witness: Node, transport: HttpTransport, origin: str) -> witnessing.WitnessResult:
    with witness.uow() as uow:
        return witnessing.witness_log(uow, local_operator(), witness.keys, origin, transport)


def followed(witness: Node) -> LedgerFollowedLog:
    with witness.uow() as uow:
        return uow.session.scalars(select(LedgerFollowedLog)).one()


def alarms(witness: Node) -> list[LedgerAlarm]:
    with witness.uow() as uow:
        return list(uow.session.scalars(select(LedgerAlarm).order_by(LedgerAlarm.id)))


def cosignature_count(node: Node) -> int:
    with node.uow() as uow:
        return uow.session.scalar(select(func.count(LedgerCosignature.id))) or 0


# --- rounds that go well -----------------------------------------------------------------


def test_a_round_cosigns_and_the_log_keeps_and_verifies_the_cosignature(
    node: Node, witness: Node, log: Log, transport: HttpTransport, origin: str
) -> None:
    append_events(node, 4, checkpoint=True)
    result = run_round(witness, transport, origin)
    assert result == witnessing.WitnessResult(origin, 0, 5, cosigned=True)
    # From size 0 nothing needs proving: no consistency proof is asked for.
    assert log.paths() == [
        f"GET {witnessing.CHECKPOINT_PATH}",
        f"POST {witnessing.COSIGNATURES_PATH}",
    ]

    with node.uow() as uow:
        report = services.verify(uow, local_operator(), node.keys)
    assert report.ok, report.problems
    assert report.cosignatures == 1
    public = log.client.get(witnessing.CHECKPOINT_PATH).text
    with witness.uow() as uow:
        verifier = checkpoints.cosigner(uow.session, witness.keys).verifier()
    assert verify_cosignature(public, verifier) > 0

    state = followed(witness)
    assert (state.last_size, state.last_root, state.last_note) == (
        5,
        verify_checkpoint(public, checkpoints_verifier(node)).root,
        stored_note(node, 5),
    )
    received = audit_events(node, "ledger.cosignature")
    assert [(e.actor, e.via, e.target_id) for e in received] == [("anonymous", "anonymous", "5")]
    assert received[0].ip == "testclient"
    assert received[0].detail["witness"] == origin_of(witness)
    assert [e.detail["size"] for e in audit_events(witness, "ledger.cosign")] == [5]
    assert alarms(witness) == []


def test_growth_is_checked_with_a_consistency_proof(
    node: Node, witness: Node, log: Log, transport: HttpTransport, origin: str
) -> None:
    append_events(node, 4, checkpoint=True)
    run_round(witness, transport, origin)
    append_events(node, 3, checkpoint=True)
    log.requests.clear()

    assert run_round(witness, transport, origin) == witnessing.WitnessResult(origin, 5, 8, True)
    assert f"GET {witnessing.CONSISTENCY_PATH}?old=5&new=8" in log.paths()
    assert followed(witness).last_size == 8
    assert cosignature_count(node) == 2
    with node.uow() as uow:
        report = services.verify(uow, local_operator(), node.keys)
    assert (report.ok, report.cosignatures) == (True, 2)

    # Unchanged log: cosigned again, no proof needed, and the log keeps its first one.
    log.requests.clear()
    assert run_round(witness, transport, origin) == witnessing.WitnessResult(origin, 8, 8, True)
    assert not any(witnessing.CONSISTENCY_PATH in path for path in log.paths())
    assert cosignature_count(node) == 2


def test_both_nodes_witness_each_other(
    node: Node, witness: Node, log: Log, transport: HttpTransport, origin: str
) -> None:
    """The same two nodes in the other direction: the witness's own log, cosigned by the log."""
    with witness.uow() as uow:
        services.add_witness(uow, local_operator(), vkey=witness_key(node))
    with node.uow() as uow:
        following.follow_log(uow, local_operator(), vkey=log_key(witness), url="http://w.example")
    append_events(witness, 2, checkpoint=True)
    with (
        TestClient(create_app(witness), base_url="http://w.example") as client,
        HttpTransport(transport=httpx.MockTransport(Log(client).handle)) as back,
    ):
        result = run_round(node, back, origin_of(witness))
    assert (result.new_size, result.cosigned) == (3, True)
    assert run_round(witness, transport, origin).cosigned
    assert (cosignature_count(node), cosignature_count(witness)) == (1, 1)


# --- a log that misbehaves ---------------------------------------------------------------

Forgery = Callable[[Node], str]


def rolled_back(node: Node) -> str:
    return stored_note(node, 1)  # genuinely signed, but older than what was cosigned


def split(node: Node) -> str:
    return signed_by_log(node, 5, other_root("another history of five entries"))


def forked(node: Node) -> str:
    append_events(node, 3)  # the real tree grows to 8, so the log can answer proofs to 8
    return signed_by_log(node, 8, other_root("a history that does not extend the first five"))


@pytest.mark.parametrize(
    "case",
    [
        (rolled_back, witnessing.ROLLBACK),
        (split, witnessing.SPLIT_VIEW),
        (forked, witnessing.INCONSISTENT),
    ],
    ids=lambda case: case[1],
)
def test_a_misbehaving_log_raises_an_alarm_with_evidence_and_is_not_cosigned(
    node: Node, witness: Node, log: Log, origin: str, case: tuple[Forgery, str]
) -> None:
    forge, kind = case
    transport = log.transport
    append_events(node, 4, checkpoint=True)
    run_round(witness, transport, origin)
    before = followed(witness)
    cosigned = cosignature_count(node)
    note = forge(node)
    log.serve_checkpoint(note)
    log.requests.clear()

    with pytest.raises(witnessing.WitnessAlarm) as raised:
        run_round(witness, transport, origin)
    assert raised.value.kind == kind
    assert raised.value.origin == origin
    assert origin in raised.value.message
    assert "comity ledger alarms" in raised.value.message

    [alarm] = alarms(witness)
    assert (alarm.origin, alarm.kind) == (origin, kind)
    evidence = json.loads(alarm.evidence)
    assert evidence["format"] == witnessing.EVIDENCE_FORMAT
    assert evidence["log_key"] == log_key(node)
    assert evidence["previous_checkpoint"] == before.last_note
    assert evidence["checkpoint"] == note
    # Both notes are signed by the log: the evidence stands on its own.
    old = verify_checkpoint(evidence["previous_checkpoint"], checkpoints_verifier(node))
    new = verify_checkpoint(evidence["checkpoint"], checkpoints_verifier(node))
    assert (alarm.detail["old_size"], alarm.detail["new_size"]) == (old.size, new.size)
    assert alarm.detail["message"] in raised.value.message
    if kind == witnessing.INCONSISTENT:
        assert f"GET {witnessing.CONSISTENCY_PATH}?old=5&new=8" in log.paths()
        proof = [b64decode_strict(h) for h in evidence["consistency_proof"]]
        with node.uow() as uow:
            assert proof == store.consistency_proof(uow.session, 5, 8)
        assert "does not lead to the root" in alarm.detail["reason"]

    # Nothing was cosigned or handed over, and the state still holds the good checkpoint.
    assert f"POST {witnessing.COSIGNATURES_PATH}" not in log.paths()
    assert cosignature_count(node) == cosigned
    after = followed(witness)
    assert (after.last_size, after.last_root, after.last_note) == (
        before.last_size,
        before.last_root,
        before.last_note,
    )
    [recorded] = audit_events(witness, "ledger.alarm")
    assert recorded.outcome == "failure"
    assert recorded.detail["kind"] == kind

    # The next round sees the same thing: it raises again, without a second copy.
    with pytest.raises(witnessing.WitnessAlarm):
        run_round(witness, transport, origin)
    assert len(alarms(witness)) == 1


def test_a_checkpoint_not_signed_by_the_followed_key_is_refused_without_an_alarm(
    node: Node, witness: Node, log: Log, transport: HttpTransport, origin: str
) -> None:
    impostor = NoteSigner(origin, Ed25519PrivateKey.generate())
    log.serve_checkpoint(sign_checkpoint(Checkpoint(origin, 9, other_root("x")), impostor))
    with pytest.raises(PeerAnswerInvalid, match="not signed by any trusted key"):
        run_round(witness, transport, origin)
    assert alarms(witness) == []
    assert followed(witness).last_size == 0


def test_an_unreachable_log_changes_nothing(
    node: Node, witness: Node, log: Log, transport: HttpTransport, origin: str
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    log.overrides[("GET", witnessing.CHECKPOINT_PATH)] = refuse
    with pytest.raises(PeerUnreachable, match=r"Cannot reach http://log\.example/.*refused"):
        run_round(witness, transport, origin)
    assert followed(witness).last_size == 0
    assert alarms(witness) == []


def test_a_refused_cosignature_is_reported_and_made_again_next_time(
    node: Node, witness: Node, log: Log, transport: HttpTransport, origin: str
) -> None:
    """The log does not know the witness yet: the round says so; once it does, the next
    round hands the cosignature over."""
    with node.uow() as uow:
        row = uow.session.scalars(select(LedgerWitness)).one()
        witness_vkey = row.vkey
        uow.session.delete(row)
        uow.commit()
    with pytest.raises(PeerUnreachable) as raised:
        run_round(witness, transport, origin)
    assert "could not hand the cosignature over" in raised.value.message
    assert "HTTP 422" in raised.value.message
    assert "is not an active witness of this log" in raised.value.message
    assert followed(witness).last_size == 1  # verified and cosigned: the state moved on
    assert cosignature_count(node) == 0

    with node.uow() as uow:
        services.add_witness(uow, local_operator(), vkey=witness_vkey)
    assert run_round(witness, transport, origin) == witnessing.WitnessResult(origin, 1, 1, True)
    assert cosignature_count(node) == 1


def test_an_unknown_origin_is_not_found(witness: Node, transport: HttpTransport) -> None:
    with pytest.raises(NotFound, match="follows no log named 'comity/nobody'"):
        run_round(witness, transport, "comity/nobody")


# --- receiving cosignatures (the log side) -----------------------------------------------


@pytest.fixture
def cosigner(node: Node) -> Cosigner:
    made = Cosigner("witness.example.org", Ed25519PrivateKey.generate())
    with node.uow() as uow:
        services.add_witness(uow, local_operator(), vkey=made.verifier().vkey)
    return made


def latest(node: Node) -> tuple[str, Checkpoint]:
    note = stored_note(node, 1)
    return note, verify_checkpoint(note, checkpoints_verifier(node))


def receive(node: Node, note: str, line: str) -> cosignatures.ReceivedCosignature:
    with node.uow() as uow:
        return cosignatures.receive_cosignature(
            uow, local_operator(), checkpoint_note=note, cosignature_line=line
        )


def now() -> int:
    return int(utcnow().timestamp())


def test_a_cosignature_is_kept_once(node: Node, cosigner: Cosigner) -> None:
    note, checkpoint = latest(node)
    first = receive(node, note, cosigner.cosign(checkpoint, now()))
    assert (first.created, first.size, first.cosignature.witness) == (
        True,
        1,
        "witness.example.org",
    )
    again = receive(node, note, cosigner.cosign(checkpoint, now() + 1))
    assert again.created is False
    assert again.cosignature.id == first.cosignature.id
    assert cosignature_count(node) == 1
    assert len(audit_events(node, "ledger.cosignature")) == 1


def test_a_cosignature_a_few_minutes_ahead_is_accepted(node: Node, cosigner: Cosigner) -> None:
    note, checkpoint = latest(node)
    received = receive(node, note, cosigner.cosign(checkpoint, now() + 9 * 60))
    assert received.created


def refused_cosignature(
    node: Node, note: str, line: str, error: type[Exception], message: str
) -> None:
    before = cosignature_count(node), len(audit_events(node, "ledger.cosignature"))
    with pytest.raises(error) as raised:
        receive(node, note, line)
    assert message in str(raised.value)
    assert (cosignature_count(node), len(audit_events(node, "ledger.cosignature"))) == before


def test_an_unknown_witness_is_refused(node: Node, cosigner: Cosigner) -> None:
    note, checkpoint = latest(node)
    stranger = Cosigner("stranger.example.org", Ed25519PrivateKey.generate())
    refused_cosignature(
        node,
        note,
        stranger.cosign(checkpoint, now()),
        ValidationError,
        "'stranger.example.org' is not an active witness of this log",
    )


def test_an_inactive_witness_is_refused(node: Node, cosigner: Cosigner) -> None:
    note, checkpoint = latest(node)
    with node.uow() as uow:
        uow.session.scalars(select(LedgerWitness)).one().active = False
        uow.commit()
    refused_cosignature(
        node, note, cosigner.cosign(checkpoint, now()), ValidationError, "not an active witness"
    )


def test_a_forged_cosignature_is_refused(node: Node, cosigner: Cosigner) -> None:
    note, checkpoint = latest(node)
    line = cosigner.cosign(checkpoint, now()).rstrip("\n")
    prefix, payload = line.rsplit(" ", 1)
    forged = bytearray(b64decode_strict(payload) or b"")
    forged[-1] ^= 0x01
    refused_cosignature(
        node,
        note,
        f"{prefix} {b64encode(bytes(forged))}",
        ValidationError,
        "The cosignature by witness.example.org does not verify.",
    )
    # A cosignature of another checkpoint does not verify on this one either.
    elsewhere = cosigner.cosign(Checkpoint(checkpoint.origin, 1, other_root("x")), now())
    refused_cosignature(node, note, elsewhere, ValidationError, "does not verify")


def test_a_cosignature_by_another_key_under_the_witness_name_is_refused(
    node: Node, cosigner: Cosigner
) -> None:
    note, checkpoint = latest(node)
    namesake = Cosigner("witness.example.org", Ed25519PrivateKey.generate())
    refused_cosignature(
        node,
        note,
        namesake.cosign(checkpoint, now()),
        ValidationError,
        "not with the witness's known key",
    )


def test_a_cosignature_from_the_future_is_refused(node: Node, cosigner: Cosigner) -> None:
    note, checkpoint = latest(node)
    refused_cosignature(
        node,
        note,
        cosigner.cosign(checkpoint, now() + 11 * 60),
        ValidationError,
        "more than 10 minutes ahead of this node's clock",
    )
    refused_cosignature(
        node,
        note,
        cosigner.cosign(checkpoint, 2**63 - 1),
        ValidationError,
        "check the clocks of both nodes",
    )


def test_a_cosignature_of_a_checkpoint_the_log_never_made_is_refused(
    node: Node, cosigner: Cosigner
) -> None:
    _, checkpoint = latest(node)
    for made_up in (
        Checkpoint(checkpoint.origin, 1, other_root("not our root")),
        Checkpoint(checkpoint.origin, 7, checkpoint.root),
    ):
        note = signed_by_log(node, made_up.size, made_up.root)
        refused_cosignature(
            node,
            note,
            cosigner.cosign(made_up, now()),
            NotFound,
            f"This log has no checkpoint of size {made_up.size}",
        )
    other_log = NoteSigner("comity/elsewhere", Ed25519PrivateKey.generate())
    theirs = Checkpoint("comity/elsewhere", 1, checkpoint.root)
    refused_cosignature(
        node,
        sign_checkpoint(theirs, other_log),
        cosigner.cosign(theirs, now()),
        NotFound,
        "it keeps no checkpoint of comity/elsewhere",
    )


@pytest.mark.parametrize(
    ("note", "line", "message"),
    [
        ("not a note", "— witness.example.org AAAA", "not a signed checkpoint note"),
        (None, "", "A cosignature is one signature line"),
        (None, "— a AAAA\n— b AAAA", "A cosignature is one signature line"),
        (None, "witness.example.org AAAAAAAAAAAA", "The cosignature line is malformed"),
        (None, "— witness.example.org !!!", "The cosignature line is malformed"),
    ],
)
def test_malformed_input_is_refused(
    node: Node, cosigner: Cosigner, note: str | None, line: str, message: str
) -> None:
    refused_cosignature(node, note or latest(node)[0], line, ValidationError, message)


# --- following ---------------------------------------------------------------------------


def follow(node: Node, vkey: str, url: str = "https://log.example") -> LedgerFollowedLog:
    with node.uow() as uow:
        return following.follow_log(uow, local_operator(), vkey=vkey, url=url)


def test_follow_starts_from_the_empty_tree(node: Node, witness: Node) -> None:
    row = follow(witness, f"  {log_key(node)}\n", "https://log.example/comity/")
    assert (row.origin, row.vkey, row.url) == (
        origin_of(node),
        log_key(node),
        "https://log.example/comity",
    )
    assert (row.last_size, row.last_root, row.last_note) == (0, merkle.EMPTY_ROOT, "")
    assert [e.detail for e in audit_events(witness, "ledger.follow")] == [
        {"origin": row.origin, "url": row.url}
    ]
    with pytest.raises(Conflict, match="already follows the log"):
        follow(witness, log_key(node))


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        ("not a key", re.escape("Not a log key: A key string has the form name+hexid+base64")),
        ("comity/x+00000000+AQ==", "Not a log key"),
        ("", "Not a log key"),
    ],
)
def test_follow_refuses_a_malformed_key(witness: Node, vkey: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        follow(witness, vkey)
    assert raised.value.fields == {"vkey": "invalid"}
    assert audit_events(witness, "ledger.follow") == []


def test_follow_refuses_a_witness_key_and_its_own_log(node: Node, witness: Node) -> None:
    with pytest.raises(ValidationError, match="not of signature type 0x01"):
        follow(witness, witness_key(node))
    with pytest.raises(ValidationError, match="a node cannot witness itself"):
        follow(witness, log_key(witness))


@pytest.mark.parametrize(
    "url",
    [
        "",
        "log.example",
        "ftp://log.example",
        "https://",
        "https://log.example/?x=1",
        "https://log.example/#top",
        "https://user:pw@log.example",
        "https://log.example/" + "a" * 500,
    ],
)
def test_follow_refuses_a_url_that_is_not_a_base(node: Node, witness: Node, url: str) -> None:
    with pytest.raises(ValidationError, match="is not a node's base URL") as raised:
        follow(witness, log_key(node), url)
    assert raised.value.fields == {"url": "invalid"}


def test_witnessing_needs_its_permissions(
    node: Node, witness: Node, transport: HttpTransport, origin: str
) -> None:
    auditor = actor_for(make_user(witness, Role.AUDITOR))
    documenter = actor_for(make_user(witness, Role.DOCUMENTER))
    with witness.uow() as uow:
        with pytest.raises(PermissionDenied):
            following.follow_log(uow, auditor, vkey=log_key(node), url=LOG_URL)
        with pytest.raises(PermissionDenied):
            witnessing.witness_log(uow, auditor, witness.keys, origin, transport)
        assert len(following.list_followed(uow, auditor)) == 1
        assert following.list_alarms(uow, auditor) == []
        for read in (following.list_followed, following.list_alarms):
            with pytest.raises(PermissionDenied):
                read(uow, documenter)
