"""The home page tells whoever looks after the queues that messages failed for good, and
stops once they are sent anew; people who may not manage the queues are not told."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from comity.db import utcnow
from comity.exchange.outbox import resend_message
from comity.identity.permissions import Role
from comity.web.app import create_app
from exchange.network import OPERATOR, Network, network
from factories import make_user
from web.conftest import sign_in

ALERT = "Messages not delivered"


@pytest.fixture
def pair(tmp_path: Path, new_database: Callable[[str], str]) -> Iterator[Network]:
    yield from network(tmp_path, new_database, 2)


def home_of(client: TestClient) -> str:
    return client.get("/").text


def test_failed_deliveries_raise_an_alert_on_the_home_page(pair: Network) -> None:
    varesh, helgar = pair["varesh"], pair["helgar"]
    app = create_app(varesh.node)
    admin = sign_in(app, make_user(varesh.node, Role.ADMINISTRATOR))
    lawyer = sign_in(app, make_user(varesh.node, Role.LEGAL_AID_LAWYER))
    assert ALERT not in home_of(admin)

    start = utcnow()
    sent = pair.send("varesh", ["helgar"], b"Referral for a client in Helgar.", now=start)
    pair.down.add("helgar")
    pair.deliver("varesh", now=start)
    pair.deliver("varesh", now=start + dt.timedelta(hours=48, seconds=1))

    page = home_of(admin)
    assert ALERT in page
    assert "1 message to a peer node failed for good" in page
    assert ALERT not in home_of(lawyer)

    pair.down.clear()
    resend_message(varesh.node, OPERATOR, sent.message.message_id, helgar.id)
    assert ALERT not in home_of(admin)
