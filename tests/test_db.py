"""The unit of work, UTC timestamps and the SQLite connection settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError

from comity import db
from comity.identity.models import Organisation, User
from comity.node import Node


def names(node: Node) -> list[str]:
    with node.uow() as uow:
        return list(uow.session.scalars(select(Organisation.name).order_by(Organisation.name)))


def test_work_is_kept_only_when_committed(node: Node) -> None:
    before = names(node)
    with node.uow() as uow:
        uow.session.add(Organisation(name="Uncommitted"))
        uow.session.flush()
    assert names(node) == before
    with node.uow() as uow:
        uow.session.add(Organisation(name="Committed"))
        uow.commit()
    assert names(node) == sorted([*before, "Committed"])


def fail_half_way(node: Node) -> None:
    with node.uow() as uow:
        uow.session.add(Organisation(name="Half done"))
        uow.session.flush()
        raise RuntimeError("boom")


def test_an_error_inside_the_block_rolls_back(node: Node) -> None:
    before = names(node)
    with pytest.raises(RuntimeError, match="boom"):
        fail_half_way(node)
    assert names(node) == before


def test_the_session_exists_only_inside_the_block(node: Node) -> None:
    uow = node.uow()
    with pytest.raises(RuntimeError):
        _ = uow.session
    with uow:
        assert uow.session is not None
    with pytest.raises(RuntimeError):
        _ = uow.session


def test_timestamps_are_stored_and_read_as_utc(node: Node) -> None:
    moment = dt.datetime(2026, 6, 1, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    with node.uow() as uow:
        org = Organisation(name="Timed", created_at=moment)
        uow.session.add(org)
        uow.commit()
    with node.uow() as uow:
        stored = uow.session.get(Organisation, org.id)
    assert stored is not None
    assert stored.created_at == moment
    assert stored.created_at.tzinfo == dt.UTC
    assert stored.created_at.hour == 11


def test_naive_timestamps_are_refused(node: Node) -> None:
    with node.uow() as uow:
        uow.session.add(Organisation(name="Naive", created_at=dt.datetime(2026, 1, 1)))  # noqa: DTZ001
        with pytest.raises(StatementError, match="naive datetime"):
            uow.session.flush()
    assert "Naive" not in names(node)


def test_foreign_keys_are_enforced(node: Node) -> None:
    with node.uow() as uow:
        uow.session.add(User(organisation_id="missing", username="orphan", password_hash="x"))
        with pytest.raises(IntegrityError):
            uow.session.flush()


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys")
            }
    finally:
        engine.dispose()
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}
