"""The peer pages, with a real second node's descriptor: an administrator adds the peer,
is refused a wrong fingerprint, confirms it with the right one, suspends, resumes and
revokes it; a reader sees the list but no forms; bad input changes nothing."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from comity.exchange import own_node, peers
from comity.exchange.descriptor import SignedDescriptor, parse_descriptor
from comity.exchange.models import ExchangePeer
from comity.identity.permissions import Role
from comity.node import Node, local_operator
from factories import make_user
from ledger.peers import second_node
from web.conftest import csrf_from, sign_in


@pytest.fixture
def partner(tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[SignedDescriptor]:
    other, _ = second_node(
        tmp_path / "partner", new_database("partner"), "Helgar Legal Aid Collective"
    )
    with other.uow() as uow:
        yield own_node.local_descriptor(uow.session, other.settings, other.keys)
    other.close()


def statuses(node: Node) -> list[tuple[str, str]]:
    with node.uow() as uow:
        return [(row.node_id, row.status) for row in uow.session.scalars(select(ExchangePeer))]


def test_an_administrator_adds_and_confirms_a_peer(
    app: FastAPI, node: Node, partner: SignedDescriptor
) -> None:
    browser = sign_in(app, make_user(node, Role.ADMINISTRATOR))
    page = browser.get("/peers")
    assert "No peer nodes yet." in page.text
    csrf = csrf_from(page.text)

    own = browser.get("/peers/own-descriptor")
    assert own.headers["content-disposition"] == 'attachment; filename="comity-node.json"'
    assert parse_descriptor(own.content.strip()).fingerprint in page.text

    bad = browser.post("/peers", data={"descriptor": '{"descriptor": 1}', "csrf_token": csrf})
    assert bad.status_code == 422
    assert "lacks signature" in html.unescape(bad.text)
    assert statuses(node) == []

    added = browser.post("/peers", data={"descriptor": partner.raw.decode(), "csrf_token": csrf})
    node_id = partner.descriptor.node
    assert (added.status_code, added.headers["location"]) == (303, f"/peers/{node_id}")
    detail = browser.get(f"/peers/{node_id}").text
    assert "Pending confirmation" in detail
    assert partner.fingerprint in detail

    wrong = browser.post(
        f"/peers/{node_id}/confirm", data={"fingerprint": "0000 1111", "csrf_token": csrf}
    )
    assert wrong.status_code == 422
    assert "does not match" in html.unescape(wrong.text)
    assert statuses(node) == [(node_id, "pending")]

    right = browser.post(
        f"/peers/{node_id}/confirm",
        data={"fingerprint": partner.fingerprint, "csrf_token": csrf},
    )
    assert right.status_code == 303
    assert "Confirmed" in browser.get("/peers").text

    for change, after in (("suspend", "suspended"), ("resume", "confirmed"), ("revoke", "revoked")):
        answer = browser.post(
            f"/peers/{node_id}/status",
            data={"change": change, "reason": "test", "csrf_token": csrf},
        )
        assert answer.status_code == 303
        assert statuses(node) == [(node_id, after)]
    refused = browser.post(
        f"/peers/{node_id}/status", data={"change": "resume", "csrf_token": csrf}
    )
    assert refused.status_code == 422
    assert "is revoked" in html.unescape(refused.text)
    assert "Change the status" not in browser.get(f"/peers/{node_id}").text


def test_a_reader_sees_peers_but_no_forms(
    app: FastAPI, node: Node, partner: SignedDescriptor
) -> None:
    with node.uow() as uow:
        peers.add_peer(uow, local_operator(), partner.raw)
    browser = sign_in(app, make_user(node, Role.PROSECUTOR))
    listing = browser.get("/peers").text
    assert "Helgar Legal Aid Collective" in listing
    assert "Add a peer node" not in listing
    detail = browser.get(f"/peers/{partner.descriptor.node}").text
    assert "Confirm this peer" not in detail
    denied = browser.post(
        f"/peers/{partner.descriptor.node}/confirm",
        data={"fingerprint": partner.fingerprint, "csrf_token": csrf_from(listing)},
    )
    assert denied.status_code == 403
    assert statuses(node) == [(partner.descriptor.node, "pending")]
    assert browser.get("/peers/no-such-node").status_code == 404
