"""Time-stamping checkpoints by an RFC 3161 authority: a real ``openssl ts`` authority on
loopback (``ledger/tsa.py``), real HTTP, the real database. Every token kept must verify;
anything else is refused, recorded, and leaves the checkpoints pending for the next run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError

from comity.audit.models import Outcome
from comity.errors import (
    ConfigurationError,
    PeerAnswerInvalid,
    PeerUnreachable,
    PermissionDenied,
    ValidationError,
)
from comity.identity.permissions import Role
from comity.ledger import checkpoints, rfc3161, services, timestamping
from comity.ledger.errors import TimestampError
from comity.ledger.models import LedgerCheckpoint, LedgerTimestamp
from comity.ledger.note import b64encode
from comity.ledger.verify import VerifyReport
from comity.node import Node, local_operator
from comity.settings import Settings
from factories import actor_for, append_events, audit_events, cosign_latest, make_user
from ledger.tampering import tamper
from ledger.tsa import (  # noqa: F401 - the fixture is used by name
    Authority,
    authority_fixture,
    closed_url,
    make_pki,
    openssl_query_text,
    openssl_verify,
    stamping_settings,
    with_authority,
)

OPERATOR = local_operator()


@pytest.fixture
def settings(settings: Settings, authority: Authority) -> Settings:
    """The node of these tests is time-stamped by ``authority``."""
    return stamping_settings(settings, authority.url, authority.ca_file)


def roots(authority: Authority) -> list[x509.Certificate]:
    return rfc3161.read_roots(authority.ca_file.read_bytes(), "roots")


def kept(node: Node) -> dict[int, list[LedgerTimestamp]]:
    """The stored tokens, by the size of their checkpoint."""
    with node.uow() as uow:
        rows = uow.session.execute(
            select(LedgerCheckpoint.size, LedgerTimestamp)
            .join(LedgerCheckpoint, LedgerCheckpoint.id == LedgerTimestamp.checkpoint_id)
            .order_by(LedgerTimestamp.id)
        ).all()
    found: dict[int, list[LedgerTimestamp]] = {}
    for size, row in rows:
        found.setdefault(size, []).append(row)
    return found


def note_at(node: Node, size: int) -> str:
    with node.uow() as uow:
        row = checkpoints.checkpoint_at(uow.session, size)
        assert row is not None
        return row.note


def make_checkpoint(node: Node) -> int:
    with node.uow() as uow:
        return checkpoints.make_checkpoint(uow, node.keys, OPERATOR).size


# --- stamping ----------------------------------------------------------------------------


def test_a_checkpoint_gets_a_verified_token_over_its_exact_note(
    node: Node, authority: Authority, tmp_path: Path
) -> None:
    append_events(node, 3)
    size = make_checkpoint(node)
    run = timestamping.timestamp_pending(node, OPERATOR)

    assert run.ok
    assert run.authority == authority.url
    assert [stamp.size for stamp in run.stamped] == [4, 1]  # newest first; genesis too
    assert run.pending == 0
    note = note_at(node, size).encode("utf-8")
    [token] = kept(node)[size]
    assert token.authority == authority.url
    assert token.token == run.stamped[0].token
    assert token.gen_time == run.stamped[0].gen_time
    checked = rfc3161.check_token(token.token, note, roots(authority))
    assert checked.digest == hashlib.sha256(note).digest()
    assert checked.gen_time == token.gen_time
    # Independently: OpenSSL agrees the token covers these bytes and chains to the root.
    assert "Verification: OK" in openssl_verify(note, token.token, authority.ca_file, tmp_path)
    assert "Verification: OK" not in openssl_verify(
        note + b"x", token.token, authority.ca_file, tmp_path / "changed"
    )

    # What was asked, read by OpenSSL: SHA-256 of the note, a nonce, the certificate.
    assert authority.content_types == ["application/timestamp-query"] * 2
    asked = openssl_query_text(authority.queries[0], tmp_path)
    assert "Hash Algorithm: sha256" in asked
    assert "Certificate required: yes" in asked
    assert "Nonce: unspecified" not in asked
    digest = hashlib.sha256(note).digest()
    assert digest in authority.queries[0]

    events = audit_events(node, "ledger.timestamp")
    assert [(e.target_id, e.outcome) for e in events] == [("4", "success"), ("1", "success")]
    assert events[0].detail["authority"] == authority.url
    assert events[0].detail["gen_time"] == token.gen_time.isoformat()

    again = timestamping.timestamp_pending(node, OPERATOR)
    assert (again.stamped, again.failure, again.pending) == ([], None, 0)
    assert len(authority.queries) == 2


def test_the_newest_checkpoints_go_first_and_a_run_is_bounded(
    node: Node, authority: Authority
) -> None:
    for _ in range(3):
        append_events(node, 1, checkpoint=True)
    run = timestamping.timestamp_pending(node, OPERATOR, limit=2)
    assert [stamp.size for stamp in run.stamped] == [4, 3]
    assert run.pending == 2
    assert sorted(kept(node)) == [3, 4]
    with pytest.raises(ValidationError, match="1 to 100 checkpoints"):
        timestamping.timestamp_pending(node, OPERATOR, limit=0)
    progress: list[tuple[int, int]] = []
    rest = timestamping.timestamp_pending(
        node, OPERATOR, progress=lambda done, total: progress.append((done, total))
    )
    assert [stamp.size for stamp in rest.stamped] == [2, 1]
    assert progress == [(0, 2), (1, 2), (2, 2)]
    assert len(authority.queries) == 4


def test_tokens_are_append_only(node: Node) -> None:
    timestamping.timestamp_pending(node, OPERATOR)
    with node.engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(delete(LedgerTimestamp))
    assert list(kept(node)) == [1]


# --- what is refused ---------------------------------------------------------------------


def assert_refused(node: Node, run: timestamping.StampRun, size: int, reason: str) -> None:
    """The run failed at ``size`` with ``reason``: nothing kept, the failure audited."""
    assert not run.ok
    assert run.failure is not None
    assert run.failure.size == size
    assert reason in run.failure.error.message
    assert run.stamped == []
    assert kept(node) == {}
    [event] = audit_events(node, "ledger.timestamp")
    assert event.outcome == Outcome.FAILURE
    assert event.target_id == str(size)
    assert event.detail["error"] == run.failure.error.code
    assert event.detail["reason"] == run.failure.error.message


def test_an_authority_that_is_down_never_stops_checkpoints_and_the_next_run_retries(
    node: Node, authority: Authority
) -> None:
    down = with_authority(node, closed_url(), authority.ca_file)
    append_events(down, 2)
    assert make_checkpoint(down) == 3
    run = timestamping.timestamp_pending(down, OPERATOR)
    assert isinstance(run.failure.error if run.failure else None, PeerUnreachable)
    assert_refused(node, run, 3, f"Cannot reach {down.settings.tsa_url}")
    assert run.pending == 2
    assert note_at(node, 3)  # the checkpoint stands

    retried = timestamping.timestamp_pending(node, OPERATOR)
    assert retried.ok
    assert [stamp.size for stamp in retried.stamped] == [3, 1]
    assert sorted(kept(node)) == [1, 3]


def test_a_token_not_chaining_to_the_configured_roots_is_refused(
    node: Node, authority: Authority, tmp_path: Path
) -> None:
    stranger = make_pki(tmp_path / "stranger", "Stranger")
    distrusting = with_authority(node, authority.url, stranger.root_file)
    run = timestamping.timestamp_pending(distrusting, OPERATOR)
    assert isinstance(run.failure.error if run.failure else None, PeerAnswerInvalid)
    assert_refused(node, run, 1, "does not verify against the trusted roots")
    assert len(authority.queries) == 1  # the first failure ends the run


def other_imprint(authority: Authority, note: str) -> Any:
    """A signed answer to the same request, nonce included, for other bytes."""
    digest = hashlib.sha256(note.encode("utf-8")).digest()
    forged = hashlib.sha256(b"another note").digest()

    def answer(query: bytes) -> tuple[int, str, bytes]:
        assert query.count(digest) == 1
        return 200, "application/timestamp-reply", authority.reply(query.replace(digest, forged))

    return answer


def other_nonce(authority: Authority, note: str) -> Any:
    """A signed answer for the same bytes, but to another request (another nonce)."""
    request = rfc3161.make_request(note.encode("utf-8"))
    return lambda _query: (200, "application/timestamp-reply", authority.reply(request.der))


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (other_imprint, "The token is for other bytes"),
        (other_nonce, "The token's nonce is not the request's"),
    ],
)
def test_an_answer_for_another_request_is_refused(
    node: Node, authority: Authority, forge: Any, reason: str
) -> None:
    authority.answer = forge(authority, note_at(node, 1))
    run = timestamping.timestamp_pending(node, OPERATOR)
    assert isinstance(run.failure.error if run.failure else None, PeerAnswerInvalid)
    assert_refused(node, run, 1, reason)


@pytest.mark.parametrize(
    ("answer", "error", "reason"),
    [
        (
            lambda authority, query: (
                200,
                "application/timestamp-reply",
                authority.reply(query, digests="sha512"),
            ),
            PeerAnswerInvalid,
            "did not grant a time-stamp (status rejection: "
            "Message digest algorithm is not supported.)",
        ),
        (
            lambda _authority, _query: (200, "text/html", b"<html>maintenance</html>"),
            PeerAnswerInvalid,
            "is not an RFC 3161 time-stamp response",
        ),
        (
            lambda _authority, _query: (503, "text/plain", b"overloaded"),
            PeerUnreachable,
            "answered HTTP 503: overloaded",
        ),
    ],
)
def test_an_authority_that_refuses_or_answers_nonsense_is_recorded(
    node: Node, authority: Authority, answer: Any, error: type[Exception], reason: str
) -> None:
    authority.answer = lambda query: answer(authority, query)
    run = timestamping.timestamp_pending(node, OPERATOR)
    assert isinstance(run.failure.error if run.failure else None, error)
    assert_refused(node, run, 1, reason)


def test_only_ledger_managers_stamp_and_only_when_configured(
    node: Node, authority: Authority
) -> None:
    investigator = actor_for(make_user(node, Role.INVESTIGATOR))
    with pytest.raises(PermissionDenied):
        timestamping.timestamp_pending(node, investigator)
    unconfigured = Node(
        node.settings.model_copy(update={"tsa_url": "", "tsa_ca_file": None}),
        node.engine,
        node.sessions,
        node.keys,
    )
    with pytest.raises(ConfigurationError, match="Time-stamping is off: set COMITY_TSA_URL"):
        timestamping.timestamp_pending(unconfigured, OPERATOR)
    assert authority.queries == []
    assert kept(node) == {}


# --- proof files -------------------------------------------------------------------------


def proof_with_timestamp(node: Node) -> tuple[dict[str, Any], str]:
    """A proof file of entry 0 against a cosigned, time-stamped checkpoint; the log key."""
    append_events(node, 2, checkpoint=True)
    cosign_latest(node)  # the proof's checkpoint then carries a cosignature line
    run = timestamping.timestamp_pending(node, OPERATOR)
    assert run.ok
    with node.uow() as uow:
        document = services.offline_proof(uow, OPERATOR, node.keys, 0)
        vkey = checkpoints.verifier(uow.session, node.keys).vkey
    return document, vkey


def test_a_proof_file_carries_the_tokens_and_they_are_checked(
    node: Node, authority: Authority, tmp_path: Path
) -> None:
    document, vkey = proof_with_timestamp(node)
    [stamp] = kept(node)[3]
    assert document["timestamps"] == [{"authority": authority.url, "token": b64encode(stamp.token)}]
    assert document["checkpoint"] != note_at(node, 3)  # cosigned: more than the stamped note

    checked = services.check_offline_proof(document, vkey)
    assert (checked.index, checked.tree_size) == (0, 3)
    assert [(t.authority, t.gen_time) for t in checked.timestamps] == [
        (authority.url, stamp.gen_time)
    ]
    trusted = services.check_offline_proof(document, vkey, tsa_roots=roots(authority))
    assert trusted.timestamps == checked.timestamps

    stranger = make_pki(tmp_path / "stranger", "Stranger")
    with pytest.raises(TimestampError, match="does not verify against the trusted roots"):
        services.check_offline_proof(
            document,
            vkey,
            tsa_roots=rfc3161.read_roots(stranger.root_file.read_bytes(), "stranger"),
        )


def test_a_proof_file_with_a_tampered_token_is_refused(node: Node, authority: Authority) -> None:
    document, vkey = proof_with_timestamp(node)
    genesis_token = kept(node)[1][0].token  # a real token, of another checkpoint
    swapped = document | {
        "timestamps": [{"authority": "https://tsa.example", "token": b64encode(genesis_token)}]
    }
    with pytest.raises(TimestampError, match=r"The time-stamp by https://tsa\.example: The token"):
        services.check_offline_proof(swapped, vkey)

    token = bytearray(kept(node)[3][0].token)
    token[len(token) // 2] ^= 0x01
    flipped = document | {
        "timestamps": [{"authority": "https://tsa.example", "token": b64encode(bytes(token))}]
    }
    # Without trusted roots only the imprint is checked; with them, every signed byte is.
    with pytest.raises(TimestampError, match=r"The time-stamp by https://tsa\.example"):
        services.check_offline_proof(flipped, vkey, tsa_roots=roots(authority))

    for malformed in (
        {"timestamps": {"authority": "x"}},
        {"timestamps": [{"authority": "x"}]},
        {"timestamps": [{"authority": "x", "token": "not base64!"}]},
    ):
        with pytest.raises(ValidationError, match="The proof file is malformed"):
            services.check_offline_proof(document | malformed, vkey)


def test_a_proof_file_without_timestamps_still_checks(node: Node) -> None:
    with node.uow() as uow:
        document = services.offline_proof(uow, OPERATOR, node.keys, 0)
        vkey = checkpoints.verifier(uow.session, node.keys).vkey
    assert "timestamps" not in document
    checked = services.check_offline_proof(document, vkey)
    assert (checked.index, checked.tree_size, checked.timestamps) == (0, 1, [])


# --- verification of the stored ledger ---------------------------------------------------


def verify(node: Node, tsa_roots: Sequence[x509.Certificate] = ()) -> VerifyReport:
    with node.uow() as uow:
        return services.verify(uow, OPERATOR, node.keys, tsa_roots=tsa_roots)


def test_verify_checks_every_token(node: Node, authority: Authority, tmp_path: Path) -> None:
    append_events(node, 2, checkpoint=True)
    timestamping.timestamp_pending(node, OPERATOR)
    report = verify(node, roots(authority))
    assert report.ok, report.problems
    assert report.timestamps == 2

    stranger = make_pki(tmp_path / "stranger", "Stranger")
    distrusted = verify(node, rfc3161.read_roots(stranger.root_file.read_bytes(), "s"))
    assert [p.where for p in distrusted.problems] == [
        "checkpoint at size 1",
        "checkpoint at size 3",
    ]
    assert "does not verify against the trusted roots" in distrusted.problems[0].what


def test_verify_names_the_checkpoint_whose_token_covers_other_bytes(node: Node) -> None:
    append_events(node, 2, checkpoint=True)
    timestamping.timestamp_pending(node, OPERATOR)
    stamps = kept(node)
    genesis, latest = stamps[1][0], stamps[3][0]
    tamper(
        node,
        "ledger_timestamps",
        "UPDATE ledger_timestamps SET token = :token WHERE id = :id",
        {"token": genesis.token, "id": latest.id},
    )
    report = verify(node)
    assert not report.ok
    [problem] = report.problems
    assert problem.where == "checkpoint at size 3"
    assert problem.what.startswith(f"time-stamp {latest.id} by {latest.authority}: ")
    assert "The token is for other bytes" in problem.what

    tamper(
        node,
        "ledger_timestamps",
        "UPDATE ledger_timestamps SET token = :token WHERE id = :id",
        {"token": b"\x30\x03\x02\x01\x00", "id": genesis.id},
    )
    problems = {p.where: p.what for p in verify(node).problems}
    assert "The time-stamp token is malformed" in problems["checkpoint at size 1"]
