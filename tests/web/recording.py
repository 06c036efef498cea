"""Helpers of the records page tests: the people who use them (fixtures, imported by
name into each test module), records made through the services, and what the database
holds."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from comity.identity.permissions import Role
from comity.node import Node, local_operator
from comity.records.editing import create_record
from comity.records.models import Record, Revision
from comity.records.viewing import RecordView
from comity.vault.ingest import add_file
from factories import MadeUser, actor_for, make_user

Browser = Callable[[MadeUser], TestClient]
MARKET = {
    "title": "Shelling of Varesh market",
    "description": "Shells hit the covered market in the morning.",
    "date": "2024-03-03T09:00/2024-03-03T10:30",
    "place": "Varesh central market",
    "admin1": "Varesh oblast",
    "country": "UA",
    "latitude": 48.5,
    "longitude": 35.1,
    "violations": ["life"],
}


# The fixtures' functions have names of their own, so that a test module imports them
# without its parameters shadowing the import.


@pytest.fixture(name="documenter")
def documenter_fixture(node: Node) -> MadeUser:
    return make_user(node, Role.DOCUMENTER, username="amira")


@pytest.fixture(name="analyst")
def analyst_fixture(node: Node) -> MadeUser:
    """Reads records, may not write them, is not cleared for protected people."""
    return make_user(node, Role.ANALYST, username="omar")


@pytest.fixture(name="investigator")
def investigator_fixture(node: Node) -> MadeUser:
    """Cleared for protected people."""
    return make_user(node, Role.INVESTIGATOR, username="lena")


@pytest.fixture(name="evidence_item")
def evidence_item_fixture(node: Node, tmp_path: Path) -> str:
    """The id of an evidence item held by the node."""
    path = tmp_path / "statement.txt"
    path.write_text("Statement of a witness to the shelling.\n", encoding="utf-8")
    return add_file(node, local_operator(), path).item_id


def make(node: Node, user: MadeUser, kind: str, **values: Any) -> RecordView:
    return create_record(node, actor_for(user), kind, values)


def counts(node: Node) -> tuple[int, int]:
    """How many records and revisions the node holds."""
    with node.uow() as uow:
        return (
            uow.session.scalar(select(func.count()).select_from(Record)) or 0,
            uow.session.scalar(select(func.count()).select_from(Revision)) or 0,
        )


def text_of(response: Any) -> str:
    """A page's text with its character references resolved (names in any script)."""
    return html.unescape(str(response.text))
