"""Closing a deletion request without deleting: withdrawn by the requester, rejected by
someone else, each on the ledger with the reason as a commitment; the wrong person, a
closed or approved request, and bad reasons refused and audited, changing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from comity.audit.models import Outcome
from comity.errors import Conflict, PermissionDenied, ValidationError
from comity.identity.permissions import Role, cli_actor
from comity.ledger.models import LedgerEntry
from comity.node import Node, local_operator
from comity.vault.deletion import approve_deletion, request_deletion
from comity.vault.deletion_closing import reject_deletion, withdraw_deletion
from comity.vault.deletion_requests import get_deletion_request, list_deletion_requests
from comity.vault.ingest import add_file
from comity.vault.items import download, get_item
from comity.vault.models import VaultDeletionClosure
from factories import actor_for, audit_events, make_user
from vault.vaulting import entry_body, ledger_ok, vault_state, write

ALICE = cli_actor("alice")
BOB = cli_actor("bob")
GROUNDS = "Order of the investigating judge (a synthetic case)."
REASON = "Wrong item: the order names Witness W-17's other recording."


@pytest.fixture
def item(node: Node, tmp_path: Path) -> str:
    return add_file(node, local_operator(), write(tmp_path / "a.jpg", b"a photograph")).item_id


def test_the_requester_withdraws_and_the_item_stays_with_a_new_request_possible(
    node: Node, item: str, tmp_path: Path
) -> None:
    request = request_deletion(node, ALICE, item, GROUNDS, "TPI 2027/113")
    done = withdraw_deletion(node, ALICE, request.id, REASON)
    assert (done.outcome, done.closed_by, done.already) == ("withdrawn", "cli:alice", False)

    found = get_deletion_request(node, BOB, request.id)
    assert (found.open, found.status) == (False, "withdrawn")
    assert found.closure is not None
    assert found.closure.reason == REASON
    body = entry_body(node, done.ledger_index)
    assert body["type"] == "evidence.deletion_withdrawn"
    assert body["data"] == {"request": request.id, "request_index": request.ledger_index}
    assert set(body["commitments"]) == {"reason"}
    with node.uow() as uow:
        entries = b"".join(uow.session.scalars(select(LedgerEntry.entry)))
    assert b"W-17" not in entries  # the reason goes on the ledger only as a commitment
    view = get_item(node, ALICE, item)
    assert [row.action for row in view.custody] == [
        "ingest",
        "deletion_requested",
        "deletion_withdrawn",
    ]
    assert view.tombstone is None
    download(node, ALICE, item, tmp_path / "out.jpg")
    assert (tmp_path / "out.jpg").read_bytes() == b"a photograph"

    before = vault_state(node)
    with pytest.raises(Conflict, match=f"#{request.id} was withdrawn by cli:alice"):
        approve_deletion(node, BOB, request.id)
    assert vault_state(node) == before
    again = request_deletion(node, BOB, item, GROUNDS, "TPI 2027/140")
    assert [r.status for r in list_deletion_requests(node, ALICE)] == ["withdrawn", "open"]
    assert approve_deletion(node, ALICE, again.id).blob_removed
    assert [e.outcome for e in audit_events(node, "evidence.deletion_withdraw")] == ["success"]
    assert ledger_ok(node)


def test_another_person_rejects_and_closing_again_changes_nothing(node: Node, item: str) -> None:
    request = request_deletion(node, ALICE, item, GROUNDS, "TPI 2027/113")
    done = reject_deletion(node, BOB, request.id, "The order was set aside on appeal.")
    assert (done.outcome, done.closed_by) == ("rejected", "cli:bob")
    assert entry_body(node, done.ledger_index)["type"] == "evidence.deletion_rejected"
    before = vault_state(node)
    for close, who in ((reject_deletion, BOB), (withdraw_deletion, ALICE)):
        repeat = close(node, who, request.id, "once more")
        assert (repeat.already, repeat.outcome, repeat.ledger_index) == (
            True,
            "rejected",
            done.ledger_index,
        )
    assert vault_state(node) == before
    with node.uow() as uow:
        [closure] = uow.session.scalars(select(VaultDeletionClosure))
    assert closure.reason == "The order was set aside on appeal."


def test_only_the_requester_withdraws_and_only_someone_else_rejects(node: Node, item: str) -> None:
    request = request_deletion(node, ALICE, item, GROUNDS, "TPI 2027/113")
    before = vault_state(node)
    with pytest.raises(PermissionDenied, match=r"withdraw it \(comity evidence deletion withdraw"):
        reject_deletion(node, ALICE, request.id, REASON)
    with pytest.raises(PermissionDenied, match="only they can withdraw it; you can reject"):
        withdraw_deletion(node, BOB, request.id, REASON)
    documenter = actor_for(make_user(node, Role.DOCUMENTER))
    with pytest.raises(PermissionDenied, match="evidence:delete"):
        reject_deletion(node, documenter, request.id, REASON)
    assert vault_state(node) == before
    assert get_deletion_request(node, BOB, request.id).open
    denied = sorted(
        (e.action, e.actor, e.detail.get("reason"))
        for action in ("evidence.deletion_withdraw", "evidence.deletion_reject")
        for e in audit_events(node, action)
        if e.outcome == Outcome.DENIED
    )
    assert denied == [
        ("evidence.deletion_reject", "cli:alice", "own"),
        ("evidence.deletion_reject", documenter.label, None),
        ("evidence.deletion_withdraw", "cli:bob", "not_own"),
    ]


def test_an_approved_request_cannot_be_closed(node: Node, item: str) -> None:
    request = request_deletion(node, ALICE, item, GROUNDS, "TPI 2027/113")
    approve_deletion(node, BOB, request.id)
    before = vault_state(node)
    with pytest.raises(Conflict, match="is deleted, and closing the request cannot bring it"):
        reject_deletion(node, BOB, request.id, REASON)
    with pytest.raises(Conflict, match="approved on"):
        withdraw_deletion(node, ALICE, request.id, REASON)
    assert vault_state(node) == before


@pytest.mark.parametrize(
    ("reason", "refusal"),
    [("", "Give the reason"), (" \n ", "Give the reason"), ("a\x07b", "control character")],
)
def test_bad_reasons_are_refused_and_write_nothing(
    node: Node, item: str, reason: str, refusal: str
) -> None:
    request = request_deletion(node, ALICE, item, GROUNDS, "TPI 2027/113")
    before = vault_state(node)
    with pytest.raises(ValidationError, match=refusal):
        withdraw_deletion(node, ALICE, request.id, reason)
    assert vault_state(node) == before
    assert get_deletion_request(node, BOB, request.id).open
