"""Legal deletion as a state machine: items, deletion requests, approvals, withdrawals
and rejections by people with and without the right, and downloads, on a real database
and blob store; the model says what each must do, the invariants what must always hold."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from comity.errors import ComityError, Conflict, PermissionDenied
from comity.identity.permissions import Actor, Permission, Role, cli_actor
from comity.node import Node, local_operator
from comity.vault.access import blob_store
from comity.vault.deletion import approve_deletion, request_deletion
from comity.vault.deletion_closing import reject_deletion, withdraw_deletion
from comity.vault.ingest import add_file
from comity.vault.items import download, get_item
from comity.vault.models import VaultDeletionClosure, VaultDeletionRequest, VaultTombstone
from factories import actor_for, make_user
from vault.vaulting import blob_files, ledger_ok, write

GROUNDS = "Order of the investigating judge (a synthetic case)."
REFERENCE = "TPI Varesh 2027/113"


class DeletionProcess(RuleBasedStateMachine):
    """Items; deletion requests, approvals, withdrawals and rejections by people with and
    without the right; downloads."""

    def __init__(self, node: Node, workdir: Path, people: list[Actor]) -> None:
        super().__init__()
        self.node = node
        self.workdir = workdir
        self.people = people
        self.items: dict[str, bytes] = {}
        self.requests: dict[int, tuple[str, str]] = {}  # id → (item, requester)
        self.approved: set[int] = set()
        self.closed: dict[int, str] = {}  # id → withdrawn or rejected
        self.count = 0
        self.run = uuid.uuid4().hex  # unlike id(self), never reused by a later example

    items_made = Bundle("items")
    requests_made = Bundle("requests")

    @initialize(target=items_made)
    def first_item(self) -> str:
        return self.add_item()

    @rule(target=items_made)
    def add_item(self) -> str:
        self.count += 1
        data = f"{self.run} item {self.count}".encode()
        path = write(self.workdir / f"{self.run}-{self.count}.txt", data)
        added = add_file(self.node, local_operator(), path)
        self.items[added.item_id] = data
        return added.item_id

    def deleted(self, item_id: str) -> bool:
        return any(self.requests[r][0] == item_id for r in self.approved)

    def pending(self, item_id: str) -> bool:
        return any(
            entry[0] == item_id and number not in self.approved and number not in self.closed
            for number, entry in self.requests.items()
        )

    @rule(target=requests_made, item_id=items_made, who=st.integers(0, 3))
    def request(self, item_id: str, who: int) -> object:
        actor = self.people[who]
        if not actor.can(Permission.EVIDENCE_DELETE):
            expected: type[ComityError] | None = PermissionDenied
        elif self.deleted(item_id) or self.pending(item_id):
            expected = Conflict
        else:
            expected = None
        if expected is not None:
            with pytest.raises(expected):
                request_deletion(self.node, actor, item_id, GROUNDS, REFERENCE)
            event(f"request refused: {expected.__name__}")
            return multiple()
        made = request_deletion(self.node, actor, item_id, GROUNDS, REFERENCE)
        self.requests[made.id] = (item_id, made.requested_by)
        event("requested")
        return made.id

    @rule(number=requests_made, who=st.integers(0, 3))
    def approve(self, number: int, who: int) -> None:
        actor = self.people[who]
        requester = self.requests[number][1]
        same_person = (actor.user_id or actor.label) == requester
        if actor.can(Permission.EVIDENCE_DELETE) and number in self.closed:
            with pytest.raises(Conflict, match=f"was {self.closed[number]} by"):
                approve_deletion(self.node, actor, number)
            event("approval of a closed request refused")
            return
        if not actor.can(Permission.EVIDENCE_DELETE) or (
            same_person and number not in self.approved
        ):
            with pytest.raises(PermissionDenied):
                approve_deletion(self.node, actor, number)
            event("approval refused")
            return
        done = approve_deletion(self.node, actor, number)
        assert done.already == (number in self.approved)
        event("approved again" if done.already else "approved")
        self.approved.add(number)

    @rule(number=requests_made, who=st.integers(0, 3), withdraw=st.booleans())
    def close(self, number: int, who: int, withdraw: bool) -> None:
        actor = self.people[who]
        own = (actor.user_id or actor.label) == self.requests[number][1]
        close = withdraw_deletion if withdraw else reject_deletion
        outcome = "withdrawn" if withdraw else "rejected"
        expected: type[ComityError] | None = None
        if not actor.can(Permission.EVIDENCE_DELETE):
            expected = PermissionDenied
        elif number in self.closed:
            done = close(self.node, actor, number, "Closed again")
            assert done.already
            assert done.outcome == self.closed[number]
            event("closed again")
            return
        elif number in self.approved:
            expected = Conflict
        elif own != withdraw:
            expected = PermissionDenied
        if expected is not None:
            with pytest.raises(expected):
                close(self.node, actor, number, "The order was set aside")
            event(f"closing refused: {expected.__name__}")
            return
        done = close(self.node, actor, number, "The order was set aside")
        assert (done.outcome, done.already) == (outcome, False)
        self.closed[number] = outcome
        event(outcome)

    @rule(item_id=items_made)
    def get(self, item_id: str) -> None:
        out = self.workdir / "out.bin"
        if self.deleted(item_id):
            with pytest.raises(Conflict, match="under legal process request #"):
                download(self.node, local_operator(), item_id, out, force=True)
            event("download refused")
            return
        download(self.node, local_operator(), item_id, out, force=True)
        assert out.read_bytes() == self.items[item_id]
        event("downloaded")

    @invariant()
    def deleted_iff_tombstone_iff_approved_request(self) -> None:
        with self.node.uow() as uow:
            stones = dict(
                uow.session.execute(select(VaultTombstone.item_id, VaultTombstone.request_id)).all()
            )
            requested = set(uow.session.scalars(select(VaultDeletionRequest.id)))
            closures = dict(
                uow.session.execute(
                    select(VaultDeletionClosure.request_id, VaultDeletionClosure.outcome)
                ).all()
            )
        store = blob_store(self.node)
        for item_id in self.items:
            view = get_item(self.node, local_operator(), item_id)
            assert (item_id in stones) == self.deleted(item_id) == (view.tombstone is not None)
            if item_id in stones:
                assert stones[item_id] in self.approved
                assert not store.exists(view.item.blob_name)
            else:
                assert store.exists(view.item.blob_name)
        assert set(self.requests) <= requested
        # The node outlives each example: only this machine's requests are its to know.
        assert {n: o for n, o in closures.items() if n in self.requests} == self.closed
        assert not set(closures) & set(stones.values())  # never both closed and approved

    @invariant()
    def ledger_verifies(self) -> None:
        assert ledger_ok(self.node)


def test_the_deletion_process_as_a_state_machine(node: Node, tmp_path: Path) -> None:
    people = [
        cli_actor("alice"),
        cli_actor("bob"),
        actor_for(make_user(node, Role.ADMINISTRATOR)),
        actor_for(make_user(node, Role.DOCUMENTER)),
    ]
    run_state_machine_as_test(
        lambda: DeletionProcess(node, tmp_path, people),
        settings=settings(max_examples=30, stateful_step_count=20, deadline=None),
    )
    assert blob_files(node)  # the items never deleted are all still there
