"""Several real nodes in one test process, each with its own data directory, keys and
database, that are each other's confirmed peers, and a transport that hands each post
to the addressed node's real app (through the real httpx client of the outbox), unless
a test has taken that node down."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from comity.db import Base
from comity.exchange import own_node, peers
from comity.exchange.delivery import DeliveryRound, deliver_due
from comity.exchange.message_models import ExchangeInboxMessage, ExchangeOutboxMessage
from comity.exchange.outbox import SentMessage, send_message
from comity.exchange.transport import HttpEnvelopeTransport
from comity.ledger.models import LedgerEntry
from comity.node import Node, initialise, local_operator
from comity.settings import load_settings
from comity.web.app import create_app
from conftest import TEST_SECRET

OPERATOR = local_operator()
NAMES = ("varesh", "helgar", "ostrel")


@dataclass
class Member:
    name: str
    node: Node
    client: TestClient

    @property
    def id(self) -> str:
        with self.node.uow() as uow:
            return own_node.local_descriptor(
                uow.session, self.node.settings, self.node.keys
            ).descriptor.node

    @property
    def host(self) -> str:
        return f"{self.name}.example"


@dataclass
class Network:
    members: dict[str, Member] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    posts: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> Member:
        return self.members[name]

    def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host.removesuffix(".example")
        self.posts.append(host)
        if host in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        answer = self.members[host].client.post(
            request.url.path,
            content=request.content,
            headers={"content-type": request.headers.get("content-type", "")},
        )
        return httpx.Response(
            answer.status_code,
            headers={"content-type": answer.headers.get("content-type", "")},
            content=answer.content,
        )

    def transport(self) -> HttpEnvelopeTransport:
        return HttpEnvelopeTransport(transport=httpx.MockTransport(self.handle))

    def deliver(self, name: str, *, now: dt.datetime | None = None) -> DeliveryRound:
        with self.transport() as transport:
            return deliver_due(self[name].node, OPERATOR, transport, now=now, jitter=lambda: 1.0)

    def send(
        self,
        sender: str,
        to: Sequence[str],
        body: bytes = b"Please find the referral attached.",
        *,
        conversation_id: str | None = None,
        message_type: str = "referral.request",
        now: dt.datetime | None = None,
    ) -> SentMessage:
        return send_message(
            self[sender].node,
            OPERATOR,
            to=[self[name].id for name in to],
            message_type=message_type,
            body=body,
            conversation_id=conversation_id,
            now=now,
        )


def member(home: Path, database_url: str, name: str) -> Member:
    settings = load_settings(
        home=home / name,
        database_url=database_url,
        secret_key=TEST_SECRET,
        node_name=f"{name.capitalize()} node",
        public_url=f"https://{name}.example",
    )
    node, _ = initialise(settings)
    return Member(name, node, TestClient(create_app(node)))


def befriend(one: Member, other: Member, *, confirm: bool = True) -> None:
    """``one`` adds ``other`` as a peer, confirmed by its fingerprint."""
    with other.node.uow() as uow:
        signed = own_node.local_descriptor(uow.session, other.node.settings, other.node.keys)
    with one.node.uow() as uow:
        peers.add_peer(uow, OPERATOR, signed.raw)
    if confirm:
        with one.node.uow() as uow:
            peers.confirm_peer(uow, OPERATOR, signed.descriptor.node, signed.fingerprint)


def network(tmp_path: Path, new_database: Callable[[str], str], size: int) -> Iterator[Network]:
    made = Network()
    for name in NAMES[:size]:
        made.members[name] = member(tmp_path, new_database(name), name)
    for one in made.members.values():
        for other in made.members.values():
            if one is not other:
                befriend(one, other)
    yield made
    for each in made.members.values():
        each.client.close()
        each.node.close()


def counts(node: Node) -> dict[str, int]:
    """Rows in every table of the node's database."""
    with node.uow() as uow:
        return {
            table.name: uow.session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def ledger_kinds(node: Node) -> list[str]:
    with node.uow() as uow:
        return list(uow.session.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.idx)))


def inbox(node: Node) -> list[ExchangeInboxMessage]:
    with node.uow() as uow:
        return list(
            uow.session.scalars(select(ExchangeInboxMessage).order_by(ExchangeInboxMessage.id))
        )


def envelope_of(node: Node, message_id: str) -> bytes:
    with node.uow() as uow:
        return uow.session.get_one(ExchangeOutboxMessage, message_id).envelope
