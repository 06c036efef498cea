"""The ledger's JSON API: the public checkpoint, status, entries, proofs that verify
against the roots returned, making checkpoints, and who may do what."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from comity.db import utcnow
from comity.identity.permissions import Role
from comity.ledger import checkpoints, merkle, proofs, rfc3161, store
from comity.ledger.checkpoint import Cosigner, verify_checkpoint, verify_cosignature
from comity.ledger.models import LedgerAlarm
from comity.ledger.note import NoteVerifier
from comity.ledger.services import add_witness
from comity.ledger.timestamping import timestamp_pending
from comity.node import Node, local_operator
from factories import append_events, audit_events, cosign_latest, make_user
from ledger.tampering import tamper
from ledger.tsa import running_authority, with_authority

Api = Callable[..., TestClient]
LEDGER = "/api/v1/ledger"


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def unb64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def hashes(values: list[str]) -> list[bytes]:
    return [unb64(value) for value in values]


def root_at(node: Node, size: int) -> bytes:
    with node.uow() as uow:
        return store.root_at(uow.session, size)


@pytest.fixture
def reader(node: Node, api: Api) -> TestClient:
    """An investigator's token: ledger:read, not ledger:manage."""
    return api(make_user(node, Role.INVESTIGATOR))


@pytest.fixture
def admin(node: Node, api: Api) -> TestClient:
    return api(make_user(node, Role.ADMINISTRATOR))


def get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(LEDGER + path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def refused(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message", "fields"}
    assert body["error"] == error
    return body


# --- the public checkpoint ---------------------------------------------------------------


def test_the_public_checkpoint_verifies_with_the_status_key(
    node: Node, client: TestClient, reader: TestClient
) -> None:
    response = client.get(LEDGER + "/checkpoint")  # no token
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    status = get(reader, "/status")
    signed = verify_checkpoint(response.text, NoteVerifier.from_vkey(status["vkey"]))
    assert signed.origin == status["origin"]
    assert signed.size == 1
    assert b64(signed.root) == status["root"]


def test_the_public_checkpoint_is_the_latest_with_its_cosignatures(
    node: Node, client: TestClient, reader: TestClient
) -> None:
    append_events(node, 4, checkpoint=True)
    witness = cosign_latest(node)
    note = client.get(LEDGER + "/checkpoint").text
    signed = verify_checkpoint(note, NoteVerifier.from_vkey(get(reader, "/status")["vkey"]))
    assert signed.size == 5
    assert signed.root == root_at(node, 5)
    assert verify_cosignature(note, witness.verifier()) > 0


def test_without_a_checkpoint_the_public_checkpoint_is_404(node: Node, client: TestClient) -> None:
    tamper(node, "ledger_checkpoints", "DELETE FROM ledger_checkpoints")
    refused(client.get(LEDGER + "/checkpoint"), 404, "not_found")


def test_the_public_checkpoint_is_only_read_anonymously(client: TestClient) -> None:
    refused(client.post(LEDGER + "/checkpoint"), 401, "authentication_required")


# --- status and entries ------------------------------------------------------------------


def test_status_matches_what_was_appended(node: Node, reader: TestClient) -> None:
    with node.uow() as uow:
        origin = checkpoints.origin(uow.session)
        vkey = checkpoints.verifier(uow.session, node.keys).vkey
        witness_vkey = checkpoints.cosigner(uow.session, node.keys).verifier().vkey
    fresh = get(reader, "/status")
    assert fresh["origin"] == origin
    assert fresh["vkey"] == vkey
    assert fresh["witness_vkey"] == witness_vkey
    assert fresh["size"] == 1
    assert fresh["latest_checkpoint"]["size"] == 1
    assert fresh["latest_checkpoint"]["cosignatures"] == 0
    assert (fresh["witnesses"], fresh["alarms"]) == (0, 0)

    append_events(node, 6, checkpoint=True)
    cosign_latest(node)
    append_events(node, 2)
    status = get(reader, "/status")
    assert status["size"] == 9
    assert status["root"] == b64(root_at(node, 9))
    latest = status["latest_checkpoint"]
    assert (latest["size"], latest["root"], latest["cosignatures"]) == (
        7,
        b64(root_at(node, 7)),
        1,
    )
    assert status["witnesses"] == 1


def test_entries_are_the_stored_bytes_with_their_leaf_hashes(
    node: Node, reader: TestClient
) -> None:
    events = append_events(node, 3)
    entries = get(reader, "/entries", start=0, end=10)
    assert [e["index"] for e in entries] == [0, 1, 2, 3]
    assert entries[0]["kind"] == "node.init"
    for entry, event in zip(entries[1:], events, strict=True):
        assert entry["kind"] == "test.event"
        assert unb64(entry["entry"]) == event.entry
        assert unb64(entry["leaf_hash"]) == event.leaf_hash
        assert unb64(entry["leaf_hash"]) == merkle.leaf_hash(unb64(entry["entry"]))
        assert entry["recorded_at"] == json.loads(event.entry)["time"]
    assert [e["index"] for e in get(reader, "/entries", start=2, end=3)] == [2]
    assert get(reader, "/entries", start=4, end=4) == []


@pytest.mark.parametrize(
    "query",
    [
        {"start": 3, "end": 1},
        {"start": -1, "end": 2},
        {"start": 0, "end": 1001},
        {"start": "zero", "end": 1},
        {"start": 0},
    ],
)
def test_bad_entry_ranges_are_422(reader: TestClient, query: dict[str, Any]) -> None:
    refused(reader.get(LEDGER + "/entries", params=query), 422, "validation_error")


# --- proofs ------------------------------------------------------------------------------


def test_inclusion_proofs_verify_against_the_returned_root(node: Node, reader: TestClient) -> None:
    events = append_events(node, 10)
    by_index = get(reader, "/proof/inclusion", index=5)
    assert (by_index["index"], by_index["tree_size"]) == (5, 11)
    assert unb64(by_index["leaf_hash"]) == events[4].leaf_hash
    assert by_index["root"] == get(reader, "/status")["root"]
    proofs.verify_inclusion(
        unb64(by_index["leaf_hash"]), 5, 11, hashes(by_index["proof"]), unb64(by_index["root"])
    )

    by_leaf = get(reader, "/proof/inclusion", leaf_hash=b64(events[4].leaf_hash))
    assert by_leaf == by_index

    older = get(reader, "/proof/inclusion", index=5, size=7)
    assert older["tree_size"] == 7
    assert unb64(older["root"]) == root_at(node, 7)
    proofs.verify_inclusion(events[4].leaf_hash, 5, 7, hashes(older["proof"]), root_at(node, 7))


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ({}, 422, "validation_error"),
        ({"index": 1, "leaf_hash": b64(bytes(32))}, 422, "validation_error"),
        ({"index": 99}, 422, "validation_error"),
        ({"index": -1}, 422, "validation_error"),
        ({"index": 1, "size": 99}, 422, "validation_error"),
        ({"index": 2, "size": 2}, 422, "validation_error"),
        ({"index": "one"}, 422, "validation_error"),
        ({"leaf_hash": "not base64!"}, 422, "validation_error"),
        ({"leaf_hash": b64(bytes(32))}, 404, "not_found"),
    ],
)
def test_bad_inclusion_requests(
    node: Node, reader: TestClient, query: dict[str, Any], status: int, error: str
) -> None:
    append_events(node, 2)
    refused(reader.get(LEDGER + "/proof/inclusion", params=query), status, error)


def test_consistency_proofs_verify_against_the_returned_roots(
    node: Node, reader: TestClient
) -> None:
    append_events(node, 12)
    latest = get(reader, "/proof/consistency", old=3)
    assert (latest["old_size"], latest["new_size"]) == (3, 13)
    assert latest["new_root"] == get(reader, "/status")["root"]
    proofs.verify_consistency(
        3, 13, unb64(latest["old_root"]), unb64(latest["new_root"]), hashes(latest["proof"])
    )
    between = get(reader, "/proof/consistency", old=5, new=8)
    assert (unb64(between["old_root"]), unb64(between["new_root"])) == (
        root_at(node, 5),
        root_at(node, 8),
    )
    proofs.verify_consistency(
        5, 8, unb64(between["old_root"]), unb64(between["new_root"]), hashes(between["proof"])
    )
    same = get(reader, "/proof/consistency", old=13, new=13)
    assert same["proof"] == []
    assert same["old_root"] == same["new_root"]


@pytest.mark.parametrize(
    "query", [{}, {"old": 9, "new": 4}, {"old": 2, "new": 99}, {"old": -1}, {"old": "x"}]
)
def test_bad_consistency_requests_are_422(
    node: Node, reader: TestClient, query: dict[str, Any]
) -> None:
    append_events(node, 8)
    refused(reader.get(LEDGER + "/proof/consistency", params=query), 422, "validation_error")


# --- making checkpoints, and who may ------------------------------------------------------


def test_an_administrator_makes_a_checkpoint(
    node: Node, admin: TestClient, client: TestClient
) -> None:
    append_events(node, 3)
    response = admin.post(LEDGER + "/checkpoint")
    assert response.status_code == 200, response.text
    made = response.json()
    assert made["size"] == 4
    assert made["root"] == b64(root_at(node, 4))
    assert client.get(LEDGER + "/checkpoint").text == made["note"]
    assert admin.post(LEDGER + "/checkpoint").json()["note"] == made["note"]
    assert [e.target_id for e in audit_events(node, "ledger.checkpoint")] == ["4", "4"]


def test_a_checkpoint_is_read_with_its_time_stamps(
    node: Node, reader: TestClient, tmp_path: Path
) -> None:
    with node.uow() as uow:
        genesis = checkpoints.checkpoint_at(uow.session, 1)
        assert genesis is not None
    found = get(reader, "/checkpoints/1")
    assert found["note"] == genesis.note
    assert found["root"] == b64(genesis.root)
    assert found["timestamps"] == []
    assert get(reader, "/status")["latest_checkpoint"]["timestamps"] == 0

    with running_authority(tmp_path / "tsa") as authority:
        stamping = with_authority(node, authority.url, authority.ca_file)
        assert timestamp_pending(stamping, local_operator()).ok
    [stamp] = get(reader, "/checkpoints/1")["timestamps"]
    assert stamp["authority"] == authority.url
    token = rfc3161.check_token(
        unb64(stamp["token"]),
        genesis.note.encode("utf-8"),
        rfc3161.read_roots(authority.ca_file.read_bytes(), "roots"),
    )
    assert stamp["gen_time"] == token.gen_time.isoformat().replace("+00:00", "Z")
    assert get(reader, "/status")["latest_checkpoint"]["timestamps"] == 1
    refused(reader.get(LEDGER + "/checkpoints/2"), 404, "not_found")


def test_readers_may_not_make_checkpoints(node: Node, api: Api, reader: TestClient) -> None:
    append_events(node, 1)
    auditor = api(make_user(node, Role.AUDITOR))
    assert auditor.get(LEDGER + "/status").status_code == 200
    for caller in (reader, auditor):
        refused(caller.post(LEDGER + "/checkpoint"), 403, "permission_denied")
    with node.uow() as uow:
        latest = checkpoints.latest(uow.session)
        assert latest is not None
        assert latest.size == 1


@pytest.mark.parametrize("role", [Role.DOCUMENTER, Role.ANALYST, Role.PROSECUTOR])
def test_roles_without_ledger_read_get_403(node: Node, api: Api, role: Role) -> None:
    caller = api(make_user(node, role))
    for path, params in [
        ("/status", {}),
        ("/entries", {"start": 0, "end": 1}),
        ("/proof/inclusion", {"index": 0}),
        ("/proof/inclusion", {"leaf_hash": b64(bytes(32))}),
        ("/alarms", {}),
        ("/checkpoints/1", {}),
    ]:
        refused(caller.get(LEDGER + path, params=params), 403, "permission_denied")
    assert caller.get(LEDGER + "/checkpoint").status_code == 200
    assert caller.get(LEDGER + "/proof/consistency", params={"old": 0}).status_code == 200


def test_a_token_without_the_ledger_scope_gets_403(node: Node, api: Api) -> None:
    narrow = api(make_user(node, Role.INVESTIGATOR), ["organisations:read"])
    refused(narrow.get(LEDGER + "/status"), 403, "permission_denied")


@pytest.mark.parametrize(
    "path",
    ["/status", "/entries?start=0&end=1", "/proof/inclusion?index=0", "/alarms", "/checkpoints/1"],
)
def test_anonymous_callers_get_401(client: TestClient, path: str) -> None:
    refused(client.get(LEDGER + path), 401, "authentication_required")


def test_the_openapi_document_describes_the_ledger(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {p for p in paths if p.startswith(LEDGER)} == {
        f"{LEDGER}/checkpoint",
        f"{LEDGER}/checkpoints/{{size}}",
        f"{LEDGER}/status",
        f"{LEDGER}/entries",
        f"{LEDGER}/proof/inclusion",
        f"{LEDGER}/proof/consistency",
        f"{LEDGER}/cosignatures",
        f"{LEDGER}/alarms",
    }
    checkpoint = paths[f"{LEDGER}/checkpoint"]
    assert "text/plain; charset=utf-8" in checkpoint["get"]["responses"]["200"]["content"]
    assert checkpoint["post"]["x-comity-permission"] == "ledger:manage"
    assert paths[f"{LEDGER}/status"]["get"]["x-comity-permission"] == "ledger:read"
    assert paths[f"{LEDGER}/alarms"]["get"]["x-comity-permission"] == "ledger:read"
    assert paths[f"{LEDGER}/checkpoints/{{size}}"]["get"]["x-comity-permission"] == "ledger:read"
    for public in (
        paths[f"{LEDGER}/proof/consistency"]["get"],
        paths[f"{LEDGER}/cosignatures"]["post"],
    ):
        assert "x-comity-permission" not in public


# --- witnessing: public consistency proofs, cosignatures, alarms --------------------------


def test_consistency_proofs_are_public(node: Node, client: TestClient) -> None:
    append_events(node, 5)
    proof = get(client, "/proof/consistency", old=2, new=6)  # no token
    proofs.verify_consistency(2, 6, root_at(node, 2), root_at(node, 6), hashes(proof["proof"]))
    refused(client.get(LEDGER + "/proof/consistency", params={"old": 9}), 422, "validation_error")


@pytest.fixture
def cosigner(node: Node) -> Cosigner:
    made = Cosigner("witness.example.org", Ed25519PrivateKey.generate())
    with node.uow() as uow:
        add_witness(uow, local_operator(), vkey=made.verifier().vkey)
    return made


def cosignature_body(node: Node, cosigner: Cosigner, **changes: str) -> dict[str, str]:
    note = get_public_note(node)
    with node.uow() as uow:
        signed = verify_checkpoint(note, checkpoints.verifier(uow.session, node.keys))
    line = cosigner.cosign(signed, int(utcnow().timestamp())).rstrip("\n")
    return {"checkpoint": note, "cosignature": line, **changes}


def get_public_note(node: Node) -> str:
    with node.uow() as uow:
        latest = checkpoints.latest(uow.session)
        assert latest is not None
        return latest.note


def test_a_witness_posts_its_cosignature_without_a_token(
    node: Node, client: TestClient, cosigner: Cosigner
) -> None:
    append_events(node, 2, checkpoint=True)
    body = cosignature_body(node, cosigner)
    created = client.post(LEDGER + "/cosignatures", json=body)
    assert created.status_code == 201, created.text
    answer = created.json()
    assert (answer["witness"], answer["size"]) == ("witness.example.org", 3)
    assert verify_cosignature(client.get(LEDGER + "/checkpoint").text, cosigner.verifier()) > 0

    again = client.post(LEDGER + "/cosignatures", json=cosignature_body(node, cosigner))
    assert again.status_code == 200, again.text
    assert again.json() == answer
    [event] = audit_events(node, "ledger.cosignature")
    assert (event.actor, event.via, event.ip) == ("anonymous", "anonymous", "testclient")


def test_refused_cosignatures(node: Node, client: TestClient, cosigner: Cosigner) -> None:
    stranger = Cosigner("stranger.example.org", Ed25519PrivateKey.generate())
    for body, status, error in [
        (cosignature_body(node, stranger), 422, "validation_error"),
        (
            cosignature_body(
                node, cosigner, checkpoint=get_public_note(node).replace("\n1\n", "\n2\n")
            ),
            404,
            "not_found",
        ),
        ({"checkpoint": get_public_note(node)}, 422, "validation_error"),
        (cosignature_body(node, cosigner, cosignature="x" * 1001), 422, "validation_error"),
    ]:
        refused(client.post(LEDGER + "/cosignatures", json=body), status, error)
    assert audit_events(node, "ledger.cosignature") == []
    assert client.get(LEDGER + "/checkpoint").text == get_public_note(node)


def test_alarms_are_listed_to_readers(node: Node, reader: TestClient) -> None:
    assert get(reader, "/alarms") == []
    with node.uow() as uow:
        uow.session.add(
            LedgerAlarm(
                origin="comity/other",
                kind="split_view",
                detail={"message": "two roots"},
                evidence='{"format": "comity-ledger-alarm/v1"}',
            )
        )
        uow.commit()
    [alarm] = get(reader, "/alarms")
    assert (alarm["origin"], alarm["kind"], alarm["detail"]) == (
        "comity/other",
        "split_view",
        {"message": "two roots"},
    )
    assert json.loads(alarm["evidence"])["format"] == "comity-ledger-alarm/v1"
    assert get(reader, "/status")["alarms"] == 1
