"""Fixtures of the exchange's tests: a second real node, with its own keys and database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from comity.node import InitReport, Node
from ledger.peers import second_node


@pytest.fixture
def partner(
    tmp_path: Path, new_database: Callable[[str], str]
) -> Iterator[tuple[Node, InitReport]]:
    """A second node, the Helgar Legal Aid Collective, with its own keys and database."""
    other, report = second_node(
        tmp_path / "partner", new_database("partner"), "Helgar Legal Aid Collective"
    )
    yield other, report
    other.close()
