"""``comity db scrub``: after a person is marked protected, their old name is gone from
the search index at once, but its bytes stay in the database files until scrubbed; on
SQLite the test reads the files themselves. On PostgreSQL, the tables are rewritten and
everything still answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from comity.errors import PermissionDenied
from comity.identity.permissions import Actor, Permission
from comity.node import Node, local_operator
from comity.records.editing import change_record, create_record
from comity.records.searching import SearchQuery, search
from comity.scrub import scrub
from factories import audit_events

NAME = "Qwyxzhaven Ostrelda"
WORD = b"qwyxzhaven"  # as the index keeps it: folded to lower case
OPERATOR = local_operator()


def database_files(node: Node) -> list[Path]:
    database = Path(str(node.engine.url.database))
    return [path for path in (database, Path(f"{database}-wal")) if path.exists()]


def holds(node: Node, needle: bytes) -> bool:
    return any(needle in path.read_bytes() for path in database_files(node))


def found(node: Node, text: str) -> int:
    return search(node, OPERATOR, SearchQuery(text=text)).total


def test_a_protected_name_leaves_no_trace_in_the_files_once_scrubbed(node: Node) -> None:
    person = create_record(node, OPERATOR, "person", {"name": NAME, "protected": False})
    create_record(node, OPERATOR, "incident", {"title": "Shelling of Varesh market"})
    assert found(node, "qwyxzhaven") == 1
    change_record(node, OPERATOR, person.id, {"protected": True}, base_revision=person.revision)
    assert found(node, "qwyxzhaven") == 0
    if node.engine.dialect.name == "sqlite":
        # What the index no longer answers is still on disk: the reason for scrubbing.
        assert holds(node, WORD)

    report = scrub(node, OPERATOR)

    if node.engine.dialect.name == "sqlite":
        assert not holds(node, WORD)
        assert report.size_after is not None
        assert report.size_before is not None
    assert found(node, "qwyxzhaven") == 0
    assert found(node, "market") == 1
    [event] = audit_events(node, "db.scrub")
    assert event.detail["dialect"] == node.engine.dialect.name


def test_scrubbing_needs_the_permission_to_configure_records(node: Node) -> None:
    reader = Actor(label="reader", via="test", permissions=frozenset({Permission.RECORDS_READ}))
    with pytest.raises(PermissionDenied):
        scrub(node, reader)
    assert audit_events(node, "db.scrub") == []
