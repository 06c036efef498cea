"""People who work on records, as actors of the node under test."""

from __future__ import annotations

import pytest

from comity.identity.permissions import Actor, Role
from comity.node import Node
from factories import actor_for, make_user


@pytest.fixture
def documenter(node: Node) -> Actor:
    return actor_for(make_user(node, Role.DOCUMENTER, username="documenter"))


@pytest.fixture
def investigator(node: Node) -> Actor:
    """Cleared for protected records."""
    return actor_for(make_user(node, Role.INVESTIGATOR, username="investigator"))


@pytest.fixture
def analyst(node: Node) -> Actor:
    """Reads records, may not write, is not cleared for protected people."""
    return actor_for(make_user(node, Role.ANALYST, username="analyst"))
