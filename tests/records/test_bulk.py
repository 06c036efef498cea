"""Bulk creation: the same checks and derived rows as one by one, one ledger event a batch."""

from __future__ import annotations

import datetime as dt
import gc
import json
from typing import Any, cast

import pytest
from sqlalchemy import Table, event, func, select
from sqlalchemy.exc import IntegrityError

from comity.errors import ValidationError
from comity.identity.permissions import Actor
from comity.ledger.models import LedgerEntry
from comity.node import Node
from comity.records.bulk import BulkWriter, older_objects_set_aside
from comity.records.bulk_insert import BULK_PAGE_CACHE_KIB, insert_rows, larger_page_cache
from comity.records.editing import create_record, delete_record
from comity.records.models import Facet, Record, Revision
from comity.records.schema import Kind
from comity.records.searching import SearchQuery, search
from comity.records.viewing import get_record, history, sealer_of


def test_a_batch_is_checked_linked_indexed_and_on_the_ledger_once(
    node: Node, documenter: Actor, analyst: Actor
) -> None:
    with node.uow() as uow:
        writer = BulkWriter(uow.session, documenter, sealer_of(node))
        before = uow.session.scalar(select(func.count()).select_from(LedgerEntry))
        victim = writer.add(Kind.PERSON, {"name": "Noor", "protected": True, "age": 7})
        incident = writer.add(
            Kind.INCIDENT,
            {
                "title": "Bread queue shelling",
                "reference": "INC-1",
                "links": [{"type": "victim", "target": victim}],
            },
        )
        writer.add(Kind.ACT, {"incident": incident, "crimes": "art8.2.b.i; art8.2.b.ii"})
        with pytest.raises(ValidationError, match="INC-1"):
            writer.add(Kind.INCIDENT, {"title": "again", "reference": "INC-1"})
        with pytest.raises(ValidationError, match="rome-statute"):
            writer.add(Kind.ACT, {"incident": incident, "crimes": ["genocide"]})
        writer.flush()
        uow.commit()
        after = uow.session.scalar(select(func.count()).select_from(LedgerEntry))
        assert after == (before or 0) + 1
        entry = uow.session.scalar(select(LedgerEntry).order_by(LedgerEntry.idx.desc()))
        assert entry is not None
        body = json.loads(entry.entry)
        assert body["type"] == "records.batch"
        assert body["data"] == {"count": 3, "kinds": {"act": 1, "incident": 1, "person": 1}}
        assert "Noor" not in entry.entry.decode()
        indexes = set(uow.session.scalars(select(Revision.ledger_index)))
        assert indexes == {entry.idx}
        assert uow.session.scalar(select(func.count()).select_from(Record)) == 3
    seen = get_record(node, analyst, victim)
    assert seen.withheld == ("name",)
    assert seen.title.startswith("Person ")
    assert [r.number for r in history(node, analyst, incident)] == [1]
    hits = search(node, analyst, SearchQuery(text="bread", victim_age_band="child"))
    assert [hit.id for hit in hits.hits] == [incident]
    assert (
        search(
            node, analyst, SearchQuery(terms=("rome-statute:art8.2.b.ii",), kinds=(Kind.INCIDENT,))
        ).total
        == 1
    )


def test_nothing_is_written_without_flush_and_commit(node: Node, documenter: Actor) -> None:
    with node.uow() as uow:
        writer = BulkWriter(uow.session, documenter, sealer_of(node))
        writer.add(Kind.INCIDENT, {"title": "Unsaved"})
        writer.flush()
    with node.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Record)) == 0


def test_references_and_targets_on_the_node_are_looked_up_many_at_a_time(
    node: Node, documenter: Actor
) -> None:
    held = create_record(node, documenter, "person", {"name": "Held", "reference": "P-1"})
    gone = create_record(node, documenter, "person", {"name": "Gone", "reference": "P-2"})
    delete_record(node, documenter, gone.id, base_revision=1, note="duplicate")
    with node.uow() as uow:
        writer = BulkWriter(uow.session, documenter, sealer_of(node))
        writer.prefetch_references(Kind.PERSON, ["P-1", "P-2", "P-3"])
        writer.prefetch_targets([held.id, gone.id, "0" * 36])
        statements: list[str] = []
        event.listen(uow.session.get_bind(), "before_cursor_execute", _log(statements))
        for reference in ("P-1", "P-2"):  # a deleted record keeps its reference
            with pytest.raises(ValidationError, match=f"already has the reference '{reference}'"):
                writer.add(Kind.PERSON, {"name": "Again", "reference": reference})
        with pytest.raises(ValidationError, match="no record has the id"):
            writer.add(Kind.INCIDENT, {"title": "t", "links": [_victim(gone.id)]})
        with pytest.raises(ValidationError, match="no record has the id"):
            writer.add(Kind.INCIDENT, {"title": "t", "links": [_victim("0" * 36)]})
        writer.add(Kind.PERSON, {"name": "New", "reference": "P-3"})
        writer.add(Kind.INCIDENT, {"title": "t", "links": [_victim(held.id)]})
        # All answered by the look-ups made beforehand (vocabularies and custom fields aside).
        assert [s for s in statements if "FROM records_records" in s] == []
        with pytest.raises(ValidationError, match="already has the reference 'P-3'"):
            writer.add(Kind.PERSON, {"name": "Twice", "reference": "P-3"})
        # Not looked up beforehand: asked one at a time, with the same answers.
        with pytest.raises(ValidationError, match="already has the reference 'P-1'"):
            BulkWriter(uow.session, documenter, sealer_of(node)).add(
                Kind.PERSON, {"reference": "P-1"}
            )
        with pytest.raises(ValidationError, match="no record has the id"):
            BulkWriter(uow.session, documenter, sealer_of(node)).add(
                Kind.INCIDENT, {"title": "t", "links": [_victim(gone.id)]}
            )


def test_references_checked_at_flush_refuse_the_whole_batch(node: Node, documenter: Actor) -> None:
    create_record(node, documenter, "incident", {"title": "Held", "reference": "INC-7"})
    with node.uow() as uow:
        writer = BulkWriter(uow.session, documenter, sealer_of(node), references_at_flush=True)
        writer.add(Kind.INCIDENT, {"title": "New", "reference": "INC-8"})
        writer.add(Kind.PERSON, {"name": "Other kind", "reference": "INC-7"})
        writer.add(Kind.INCIDENT, {"title": "Clash", "reference": "INC-7"})
        with pytest.raises(ValidationError, match="incident already has the reference 'INC-7'"):
            writer.flush()
        with pytest.raises(ValidationError, match="INC-8"):  # in the batch: refused at once
            writer.add(Kind.INCIDENT, {"title": "Again", "reference": "INC-8"})
    with node.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Record)) == 1
        entries = uow.session.scalars(select(LedgerEntry.entry)).all()
        assert not any(b"records.batch" in entry for entry in entries)


def test_bulk_inserted_values_read_back_as_the_orm_wrote_them(node: Node) -> None:
    now = dt.datetime(2026, 3, 3, 9, 30, 1, 250, tzinfo=dt.UTC)
    row = {
        "id": "00000000-0000-4000-8000-000000000001",
        "kind": "incident",
        "reference": "INC-'quoted'\\ \t tab",
        "revision": 1,
        "title": 'Café, "shelling"',
        "protected": False,
        "deleted": False,
        "earliest": "2026-03-03T00:00",
        "latest": None,
        "latitude": 48.1,
        "longitude": None,
        "public": {"title": "Café", "tags": ["a", "b"], "n": 3, "none": None},
        "sealed": b"\x00\x01\\\n\xff",
        "created_by": "cli:test",
        "created_at": now,
        "updated_by": "cli:test",
        "updated_at": now,
    }
    with node.uow() as uow:
        insert_rows(uow.session, cast(Table, Record.__table__), [row])
        uow.commit()
    with node.uow() as uow:
        record = uow.session.scalars(select(Record).where(Record.id == row["id"])).one()
        assert {name: getattr(record, name) for name in row} == row


def test_a_bulk_insert_that_breaks_a_constraint_raises_and_writes_nothing(node: Node) -> None:
    rows = [{"record_id": "no-such-record", "name": "country", "value": "UA"}]
    with node.uow() as uow, pytest.raises(IntegrityError):
        insert_rows(uow.session, cast(Table, Facet.__table__), rows)
    with node.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Facet)) == 0


def test_a_bulk_write_has_a_larger_page_cache_on_sqlite_for_its_duration(node: Node) -> None:
    with node.uow() as uow:
        sqlite = node.engine.dialect.name == "sqlite"  # elsewhere nothing is changed

        def cache_size() -> Any:
            statement = "PRAGMA cache_size" if sqlite else "SELECT NULL"
            return uow.session.connection().exec_driver_sql(statement).scalar()

        before = cache_size()
        with larger_page_cache(uow.session):
            assert cache_size() == (-BULK_PAGE_CACHE_KIB if sqlite else None)
        assert cache_size() == before


def test_objects_set_aside_come_back_even_after_an_error() -> None:
    def fail_inside() -> None:
        with older_objects_set_aside():
            assert gc.get_freeze_count() > 0
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail_inside()
    assert gc.get_freeze_count() == 0


def _victim(target: str) -> dict[str, str]:
    return {"type": "victim", "target": target}


def _log(statements: list[str]) -> Any:
    def log(*args: Any) -> None:
        statements.append(str(args[2]))

    return log
