"""Legal deletion on a real database and blob store: two people, a tombstone with the
hashes, the blob gone, every reader refusing the item by its tombstone; refusals audited;
an interrupted deletion finished by approving again; and a state machine of requests,
approvals and downloads by random people."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from comity.audit.models import Outcome
from comity.errors import Conflict, NotFound, PermissionDenied, ValidationError
from comity.identity.permissions import Actor, Role, cli_actor
from comity.ledger import checkpoints
from comity.ledger.models import LedgerEntry
from comity.node import Node, local_operator
from comity.vault.deletion import approve_deletion, request_deletion
from comity.vault.deletion_requests import get_deletion_request, list_deletion_requests
from comity.vault.ingest import add_file
from comity.vault.items import check_item, download, get_item, list_with_lineage
from comity.vault.models import VaultTombstone
from comity.vault.package import export_items
from factories import actor_for, audit_events, make_user
from vault.vaulting import entry_body, ledger_ok, vault_state, write

GROUNDS = "Order of the investigating judge: the image shows Leila Haddad's children."
REFERENCE = "TPI Varesh 2027/113"
ALICE = cli_actor("alice")
BOB = cli_actor("bob")


def blob_path(node: Node, blob_name: str) -> Path:
    digest = blob_name.removeprefix("sha256/")
    return node.settings.resolved_vault_dir / "sha256" / digest[:2] / digest[2:4] / digest


@pytest.fixture
def item(node: Node, tmp_path: Path) -> str:
    return add_file(node, local_operator(), write(tmp_path / "a.jpg", b"\xff\xd8 kept")).item_id


def test_two_administrators_delete_an_item_and_its_tombstone_keeps_the_hashes(
    node: Node, tmp_path: Path, item: str
) -> None:
    first = actor_for(make_user(node, Role.ADMINISTRATOR))
    second = actor_for(make_user(node, Role.ADMINISTRATOR))
    held = get_item(node, local_operator(), item).item
    assert blob_path(node, held.blob_name).exists()

    request = request_deletion(node, first, item, GROUNDS, REFERENCE)
    asked = entry_body(node, request.ledger_index)
    assert asked["type"] == "evidence.deletion_requested"
    assert asked["digests"] == {"sha256": held.sha256}
    assert set(asked["commitments"]) == {"grounds", "reference"}
    assert [r.open for r in list_deletion_requests(node, second)] == [True]

    done = approve_deletion(node, second, request.id)
    assert (done.already, done.blob_removed, done.sha256) == (False, True, held.sha256)
    assert not blob_path(node, held.blob_name).exists()
    with node.uow() as uow:
        stone = uow.session.get(VaultTombstone, item)
        assert stone is not None
    assert (stone.sha256, stone.blob_name, stone.request_id) == (
        held.sha256,
        held.blob_name,
        request.id,
    )
    assert (stone.approved_by, request.requested_by) == (second.user_id, first.user_id)
    deleted = entry_body(node, done.ledger_index)
    assert deleted["type"] == "evidence.deleted"
    assert deleted["digests"] == {
        "sha256": held.sha256,
        "blob_sha256": held.blob_name.removeprefix("sha256/"),
    }
    assert deleted["data"] == {"request": request.id, "request_index": request.ledger_index}
    with node.uow() as uow:
        entries = b"".join(uow.session.scalars(select(LedgerEntry.entry)))
    assert b"Haddad" not in entries
    assert REFERENCE.encode() not in entries
    assert ledger_ok(node)

    # What stays, and who sees the reference.
    view = get_item(node, first, item)
    assert [row.action for row in view.custody] == ["ingest", "deletion_requested", "deleted"]
    assert view.metadata is not None
    assert view.tombstone is not None
    assert (view.tombstone.reference, view.tombstone.grounds) == (REFERENCE, GROUNDS)
    analyst = actor_for(make_user(node, Role.ANALYST))
    hidden = get_item(node, analyst, item).tombstone
    assert hidden is not None
    assert (hidden.reference, hidden.grounds, hidden.sha256) == (None, None, held.sha256)
    [listed] = list_with_lineage(node, analyst)
    assert listed.deleted_at == stone.deleted_at
    assert [r.open for r in list_deletion_requests(node, first)] == [False]
    assert [e.outcome for e in audit_events(node, "evidence.deletion_approve")] == ["success"]


def test_every_reader_refuses_a_deleted_item_by_its_tombstone(
    node: Node, tmp_path: Path, item: str
) -> None:
    request = request_deletion(node, ALICE, item, GROUNDS, REFERENCE)
    approve_deletion(node, BOB, request.id)
    with node.uow() as uow:
        checkpoints.make_checkpoint(uow, node.keys, local_operator())
    before = vault_state(node)
    named = f"deleted on .* under legal process request #{request.id}"
    with pytest.raises(Conflict, match=f"{named}; it cannot be downloaded"):
        download(node, ALICE, item, tmp_path / "out.jpg")
    with pytest.raises(Conflict, match=f"{named}; it cannot be exported"):
        export_items(node, ALICE, [item], tmp_path / "case")
    with pytest.raises(Conflict, match=f"{named}; its bytes are not taken in again"):
        add_file(node, ALICE, write(tmp_path / "again.jpg", b"\xff\xd8 kept"))
    assert vault_state(node) == before
    assert not (tmp_path / "out.jpg").exists()
    assert not (tmp_path / "case").exists()

    report = check_item(node, ALICE, item)
    assert report.ok
    assert report.tombstone is not None
    assert report.tombstone.request_id == request.id


def test_the_requester_cannot_approve_and_the_refusal_is_audited(
    node: Node, tmp_path: Path, item: str
) -> None:
    admin = actor_for(make_user(node, Role.ADMINISTRATOR))
    request = request_deletion(node, admin, item, GROUNDS, REFERENCE)
    before = vault_state(node)
    same_person_by_token = Actor(
        label=admin.label,
        via="token",
        permissions=admin.permissions,
        user_id=admin.user_id,
    )
    for actor in (admin, same_person_by_token):
        with pytest.raises(PermissionDenied, match=f"You made deletion request #{request.id}"):
            approve_deletion(node, actor, request.id)
    assert vault_state(node) == before
    assert get_item(node, ALICE, item).tombstone is None

    # At the command line, a person is the operator's login name.
    other = add_file(node, local_operator(), write(tmp_path / "b.txt", b"second")).item_id
    by_alice = request_deletion(node, ALICE, other, GROUNDS, REFERENCE)
    before = vault_state(node)
    with pytest.raises(PermissionDenied, match="another person"):
        approve_deletion(node, cli_actor("alice"), by_alice.id)
    assert vault_state(node) == before
    assert approve_deletion(node, BOB, by_alice.id).blob_removed
    refusals = [
        (e.actor, e.outcome, e.detail.get("reason"))
        for e in audit_events(node, "evidence.deletion_approve")
        if e.outcome == Outcome.DENIED
    ]
    assert refusals == [
        (admin.label, "denied", "same_person"),
        (admin.label, "denied", "same_person"),
        ("cli:alice", "denied", "same_person"),
    ]


def test_people_without_evidence_delete_are_refused_and_audited(node: Node, item: str) -> None:
    documenter = actor_for(make_user(node, Role.DOCUMENTER))
    auditor = actor_for(make_user(node, Role.AUDITOR))
    before = vault_state(node)
    with pytest.raises(PermissionDenied, match="evidence:delete"):
        request_deletion(node, documenter, item, GROUNDS, REFERENCE)
    request = request_deletion(node, ALICE, item, GROUNDS, REFERENCE)
    with pytest.raises(PermissionDenied, match="evidence:delete"):
        approve_deletion(node, auditor, request.id)
    with pytest.raises(PermissionDenied, match="evidence:delete"):
        list_deletion_requests(node, documenter)
    assert get_item(node, ALICE, item).tombstone is None
    assert vault_state(node) != before  # the request (only) was recorded
    denied = [
        (e.action, e.actor, e.outcome)
        for action in (
            "evidence.deletion_request",
            "evidence.deletion_approve",
            "evidence.deletion_list",
        )
        for e in audit_events(node, action)
        if e.outcome == Outcome.DENIED
    ]
    assert denied == [
        ("evidence.deletion_request", documenter.label, "denied"),
        ("evidence.deletion_approve", auditor.label, "denied"),
        ("evidence.deletion_list", documenter.label, "denied"),
    ]


@pytest.mark.parametrize(
    ("grounds", "reference", "refusal"),
    [
        ("", REFERENCE, "Give the grounds"),
        ("  \n", REFERENCE, "Give the grounds"),
        (GROUNDS, "", "Give the reference"),
        (GROUNDS, "TPI\n2027", "control character"),
        (GROUNDS, "x" * 201, "at most 200"),
        ("a\x00b", REFERENCE, "control character"),
        ("x" * 2001, REFERENCE, "at most 2000"),
    ],
)
def test_bad_requests_are_refused_and_write_nothing(
    node: Node, item: str, grounds: str, reference: str, refusal: str
) -> None:
    before = vault_state(node)
    with pytest.raises(ValidationError, match=refusal):
        request_deletion(node, ALICE, item, grounds, reference)
    assert vault_state(node) == before


def test_unknown_items_and_requests_open_or_done_are_refused(node: Node, item: str) -> None:
    with pytest.raises(NotFound, match="No evidence item"):
        request_deletion(node, ALICE, "no-such-item", GROUNDS, REFERENCE)
    with pytest.raises(NotFound, match="No deletion request has the number 7"):
        approve_deletion(node, BOB, 7)
    request = request_deletion(node, ALICE, item, GROUNDS, REFERENCE)
    before = vault_state(node)
    with pytest.raises(Conflict, match=f"already has an open deletion request, #{request.id}"):
        request_deletion(node, BOB, item, GROUNDS, "another order")
    assert vault_state(node) == before
    approve_deletion(node, BOB, request.id)
    before = vault_state(node)
    with pytest.raises(Conflict, match="there is nothing left to delete"):
        request_deletion(node, BOB, item, GROUNDS, "another order")
    assert vault_state(node) == before
    assert get_deletion_request(node, ALICE, request.id).tombstone is not None


def test_approving_again_changes_nothing_but_removes_a_blob_left_behind(
    node: Node, tmp_path: Path, item: str
) -> None:
    blob = blob_path(node, get_item(node, ALICE, item).item.blob_name)
    kept = tmp_path / "blob-copy"
    shutil.copyfile(blob, kept)
    request = request_deletion(node, ALICE, item, GROUNDS, REFERENCE)
    first = approve_deletion(node, BOB, request.id)
    state = vault_state(node)

    again = approve_deletion(node, cli_actor("carol"), request.id)
    assert (again.already, again.blob_removed) == (True, False)
    assert (again.ledger_index, again.deleted_at) == (first.ledger_index, first.deleted_at)
    assert vault_state(node) == state

    # The process stopped after the commit, before the blob was removed.
    shutil.copyfile(kept, blob)
    report = check_item(node, ALICE, item)
    assert [damage.value for damage, _ in report.problems] == ["deleted_blob_present"]
    assert f"approve request #{request.id} again" in report.problems[0][1]
    finished = approve_deletion(node, ALICE, request.id)  # the requester may finish it
    assert (finished.already, finished.blob_removed) == (True, True)
    assert not blob.exists()
    assert check_item(node, ALICE, item).ok
    assert ledger_ok(node)


def test_concurrent_approvals_delete_once(node: Node, item: str) -> None:
    request = request_deletion(node, ALICE, item, GROUNDS, REFERENCE)
    approvers = [cli_actor(name) for name in ("bob", "carol", "dave", "erin")]
    with ThreadPoolExecutor(len(approvers)) as pool:
        results = list(pool.map(lambda a: approve_deletion(node, a, request.id), approvers))
    assert sorted(result.already for result in results) == [False, True, True, True]
    assert len({result.ledger_index for result in results}) == 1
    with node.uow() as uow:
        kinds = list(uow.session.scalars(select(LedgerEntry.kind)))
    assert kinds.count("evidence.deleted") == 1
    assert [row.action for row in get_item(node, ALICE, item).custody][-1] == "deleted"
    assert ledger_ok(node)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE vault_tombstones SET sha256 = 'changed'",
        "DELETE FROM vault_tombstones",
        "UPDATE vault_deletion_requests SET reference = 'changed'",
        "DELETE FROM vault_deletion_requests",
    ],
)
def test_requests_and_tombstones_are_append_only(node: Node, item: str, statement: str) -> None:
    request = request_deletion(node, ALICE, item, GROUNDS, REFERENCE)
    approve_deletion(node, BOB, request.id)
    with node.engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text(statement))
