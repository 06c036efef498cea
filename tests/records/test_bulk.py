"""Bulk creation: the same checks and derived rows as one by one, one ledger event a batch."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from comity.errors import ValidationError
from comity.identity.permissions import Actor
from comity.ledger.models import LedgerEntry
from comity.node import Node
from comity.records.bulk import BulkWriter
from comity.records.models import Record, Revision
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
