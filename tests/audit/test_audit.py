"""The audit trail: recording, searching (itself audited), and append-only storage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from comity import db
from comity.audit.models import AuditEvent, Outcome
from comity.audit.services import MAX_PAGE, AuditFilter, AuditPage, record, record_refusal, search
from comity.db import utcnow
from comity.errors import PermissionDenied, ValidationError
from comity.identity.permissions import Actor, Permission, Role
from comity.node import Node
from factories import actor_for, audit_events, make_user

BASE = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
ALICE = Actor(label="alice", via="session", user_id="u-alice", ip="192.0.2.1", user_agent="UA")
BOB = Actor(label="bob", via="token", user_id="u-bob")
CAROL = Actor(label="carol", via="cli")
SEEDED = {
    # name: (actor, action, target_type, target_id, outcome, days after BASE)
    "e1": (ALICE, "user_x.create", "case", "t1", Outcome.SUCCESS, 1),
    "e2": (BOB, "userAx.create", "case", "t2", Outcome.FAILURE, 2),
    "e3": (ALICE, "auth.login", "case", "t1", Outcome.DENIED, 3),
    "e4": (CAROL, "organisation.update", "peer", "o1", Outcome.SUCCESS, 4),
}
AUDITOR = Actor(label="reader", via="session", permissions=frozenset({Permission.AUDIT_READ}))


def seed(node: Node) -> dict[int, str]:
    """Record the SEEDED events; their ids, mapped to their names."""
    with node.uow() as uow:
        events = {}
        for name, (actor, action, target_type, target_id, outcome, days) in SEEDED.items():
            event = record(
                uow.session,
                actor,
                action,
                target_type=target_type,
                target_id=target_id,
                outcome=outcome,
                detail={"name": name},
            )
            event.at = BASE + dt.timedelta(days=days)
            events[name] = event
        uow.commit()
    return {event.id: name for name, event in events.items()}


def run(node: Node, flt: AuditFilter, actor: Actor = AUDITOR) -> AuditPage:
    with node.uow() as uow:
        return search(uow, actor, flt)


def test_record_keeps_who_what_and_where(node: Node) -> None:
    ids = seed(node)
    with node.uow() as uow:
        first = uow.session.get(AuditEvent, min(ids))
    assert first is not None
    assert (first.actor, first.actor_user_id, first.via, first.ip, first.user_agent) == (
        "alice",
        "u-alice",
        "session",
        "192.0.2.1",
        "UA",
    )
    assert (first.action, first.target_type, first.target_id, first.outcome) == (
        "user_x.create",
        "case",
        "t1",
        "success",
    )
    assert first.detail == {"name": "e1"}
    assert first.at == BASE + dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("flt", "expected", "total"),
    [
        (AuditFilter(actor="alice"), ["e3", "e1"], 2),
        (AuditFilter(action="user_"), ["e1"], 1),
        (AuditFilter(action="auth."), ["e3"], 1),
        (AuditFilter(target_type="peer"), ["e4"], 1),
        (AuditFilter(target_type="case", target_id="t1"), ["e3", "e1"], 2),
        (AuditFilter(outcome="failure"), ["e2"], 1),
        (AuditFilter(actor="alice", outcome="denied"), ["e3"], 1),
        (
            AuditFilter(since=BASE + dt.timedelta(days=2), until=BASE + dt.timedelta(days=4)),
            ["e3", "e2"],
            2,
        ),
        (
            AuditFilter(since=BASE, until=BASE + dt.timedelta(days=5), limit=2, offset=1),
            ["e3", "e2"],
            4,
        ),
    ],
)
def test_search_filters_newest_first(
    node: Node, flt: AuditFilter, expected: list[str], total: int
) -> None:
    names = seed(node)
    page = run(node, flt)
    assert [names.get(event.id, event.action) for event in page.events] == expected
    assert page.total == total
    assert page.filter == flt


def test_reading_the_trail_is_itself_recorded(node: Node) -> None:
    seed(node)
    flt = AuditFilter(actor="alice", since=BASE)
    page = run(node, flt, AUDITOR)
    [read] = audit_events(node, "audit.read")
    assert (read.actor, read.outcome) == ("reader", "success")
    assert read.detail == {
        "filter": {"actor": "alice", "since": BASE.isoformat()},
        "rows": len(page.events),
    }
    again = run(node, AuditFilter(action="audit.read"))
    assert [event.id for event in again.events] == [read.id]


@pytest.mark.parametrize(
    ("flt", "field"),
    [
        (AuditFilter(limit=0), "limit"),
        (AuditFilter(limit=MAX_PAGE + 1), "limit"),
        (AuditFilter(offset=-1), "offset"),
        (AuditFilter(outcome="maybe"), "outcome"),
    ],
)
def test_invalid_filters_are_refused_unread(node: Node, flt: AuditFilter, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        run(node, flt)
    assert set(caught.value.fields) == {field}
    assert audit_events(node, "audit.read") == []


def test_the_largest_page_is_allowed(node: Node) -> None:
    ids = seed(node)
    page = run(node, AuditFilter(limit=MAX_PAGE))
    assert set(ids) <= {event.id for event in page.events}


def test_reading_needs_audit_read(node: Node) -> None:
    seed(node)
    documenter = actor_for(make_user(node, Role.DOCUMENTER))
    with pytest.raises(PermissionDenied):
        run(node, AuditFilter(), documenter)
    assert audit_events(node, "audit.read") == []
    auditor = actor_for(make_user(node, Role.AUDITOR))
    assert run(node, AuditFilter(actor="bob"), auditor).total == 1


def test_a_refusal_is_recorded_even_when_the_work_rolls_back(node: Node) -> None:
    with node.uow() as uow:
        record(uow.session, ALICE, "user.create", target_type="user")
        record_refusal(node.sessions, ALICE, "user.create", detail={"why": "no permission"})
    [refusal] = audit_events(node, "user.create")[-1:]
    assert (refusal.actor, refusal.outcome, refusal.detail) == (
        "alice",
        "denied",
        {"why": "no permission"},
    )
    assert [e.actor for e in audit_events(node, "user.create")].count("alice") == 1


def change_one(session: Session, event_id: int) -> None:
    event = session.get(AuditEvent, event_id)
    assert event is not None
    event.action = "forged"
    session.flush()


def delete_one(session: Session, event_id: int) -> None:
    event = session.get(AuditEvent, event_id)
    assert event is not None
    session.delete(event)
    session.flush()


def bulk_update(session: Session, event_id: int) -> None:
    session.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(outcome="denied"))


def bulk_delete(session: Session, event_id: int) -> None:
    session.execute(delete(AuditEvent).where(AuditEvent.id == event_id))


def sql_update(session: Session, event_id: int) -> None:
    session.execute(
        text("UPDATE audit_events SET actor = 'nobody' WHERE id = :id"), {"id": event_id}
    )


def sql_delete(session: Session, event_id: int) -> None:
    session.execute(text("DELETE FROM audit_events WHERE id >= :id"), {"id": event_id})


TAMPERING: dict[str, Callable[[Session, int], None]] = {
    "orm update": change_one,
    "orm delete": delete_one,
    "bulk update": bulk_update,
    "bulk delete": bulk_delete,
    "sql update": sql_update,
    "sql delete": sql_delete,
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_the_trail_is_append_only(node: Node, how: str) -> None:
    ids = seed(node)
    with node.uow() as uow:
        before = [
            (e.id, e.actor, e.action, e.outcome) for e in uow.session.scalars(select(AuditEvent))
        ]
    with node.uow() as uow, pytest.raises(DBAPIError, match="append-only"):
        TAMPERING[how](uow.session, min(ids))
    with node.uow() as uow:
        after = [
            (e.id, e.actor, e.action, e.outcome) for e in uow.session.scalars(select(AuditEvent))
        ]
    assert after == before


@pytest.mark.postgres
def test_the_trail_cannot_be_truncated_on_postgresql(postgres_database: str) -> None:
    engine = db.make_engine(postgres_database)
    db.upgrade(engine)
    try:
        with db.UnitOfWork(db.make_session_factory(engine)) as uow:
            record(uow.session, ALICE, "auth.login")
            uow.commit()
        with engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text("TRUNCATE audit_events"))
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(AuditEvent)) == 1
    finally:
        engine.dispose()


def test_events_are_stamped_in_utc(node: Node) -> None:
    before = utcnow()
    with node.uow() as uow:
        record(uow.session, CAROL, "node.check")
        uow.commit()
    [event] = audit_events(node, "node.check")
    assert event.at.tzinfo == dt.UTC
    assert before <= event.at <= utcnow()
