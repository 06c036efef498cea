"""Shared fixtures: a real database per test (SQLite, or PostgreSQL when
``COMITY_TEST_DATABASE_URL`` names a server), a node initialised on it, and users.

``COMITY_TEST_REQUIRE_ALL=1`` (set by ``.ci/run``) turns every "cannot run here" skip
(no PostgreSQL, no Chromium) into a failure, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from comity import db
from comity.node import InitReport, Node, initialise
from comity.records.vocabularies import ensure_shipped
from comity.settings import Settings, load_settings

TEST_SECRET = "test-secret-" + "x" * 40
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# No example database in the work tree, and no deadline a slow CI machine could miss.
hypothesis_settings.register_profile("comity", database=None, deadline=None)
hypothesis_settings.load_profile("comity")


def cannot_run(reason: str) -> None:
    """Skip with ``reason``, or fail when CI demands that everything runs."""
    if os.environ.get("COMITY_TEST_REQUIRE_ALL") == "1":
        pytest.fail(f"required test could not run: {reason}")
    pytest.skip(reason)


def postgres_server_url() -> str:
    return os.environ.get("COMITY_TEST_POSTGRES_URL", DEFAULT_POSTGRES)


def postgres_reachable(url: str) -> str | None:
    """``None`` if a server answers at ``url``, else why not."""
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"PostgreSQL not reachable at {make_url(url).render_as_string()}: {exc}"[:300]
    return None


class PostgresDatabases:
    """Creates and drops throw-away databases on a PostgreSQL server."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def url_for(self, name: str) -> str:
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def create(self, *, template: str | None = None) -> str:
        name = f"comity_test_{uuid.uuid4().hex[:16]}"
        clause = f" TEMPLATE {template}" if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}{clause}"))
        self.created.append(name)
        return name

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in reversed(self.created):
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        self.admin.dispose()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """The URL of an empty throw-away PostgreSQL database, whatever the test database is."""
    server = postgres_server_url()
    problem = postgres_reachable(server)
    if problem:
        cannot_run(problem)
    pg = PostgresDatabases(server)
    yield pg.url_for(pg.create())
    pg.drop_all()


def _load_vocabularies(engine: Engine) -> None:
    """The shipped vocabularies, loaded once into the template (as ``initialise`` would in
    every test otherwise)."""
    with db.UnitOfWork(db.make_session_factory(engine)) as uow:
        ensure_shipped(uow.session)
        uow.commit()


@pytest.fixture(scope="session")
def _database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    """A migrated database to copy for each test: ``("sqlite", path)`` or ``("pg", ...)``."""
    target = os.environ.get("COMITY_TEST_DATABASE_URL", "")
    if target.startswith("postgresql"):
        problem = postgres_reachable(target)
        if problem:
            pytest.fail(f"COMITY_TEST_DATABASE_URL is set but {problem}")
        pg = PostgresDatabases(target)
        template = pg.create()
        engine = db.make_engine(pg.url_for(template))
        db.upgrade(engine)
        _load_vocabularies(engine)
        engine.dispose()
        yield ("pg", (pg, template))
        pg.drop_all()
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    _load_vocabularies(engine)
    raw = engine.raw_connection()  # outside any transaction, which a checkpoint needs
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    finally:
        raw.close()
    engine.dispose()
    yield ("sqlite", path)


@pytest.fixture
def new_database(_database_template: tuple[str, object], tmp_path: Path) -> Callable[[str], str]:
    """Makes fresh, migrated, empty databases of the kind under test (for tests with
    more than one node); ``name`` names the SQLite file in ``tmp_path``."""
    kind, value = _database_template

    def make(name: str) -> str:
        if kind == "pg":
            pg, template = value  # type: ignore[misc]
            return str(pg.url_for(pg.create(template=template)))
        copy = tmp_path / f"{name}.db"
        shutil.copyfile(value, copy)  # type: ignore[arg-type]
        return f"sqlite:///{copy}"

    return make


@pytest.fixture
def database_url(new_database: Callable[[str], str]) -> str:
    """A fresh, migrated, empty database for this test."""
    return new_database("comity")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        home=tmp_path / "home",
        database_url=database_url,
        secret_key=TEST_SECRET,
        node_name="Varesh Monitoring Network",
    )


@pytest.fixture
def initialised(settings: Settings) -> Iterator[tuple[Node, InitReport]]:
    node, report = initialise(settings)
    yield node, report
    node.close()


@pytest.fixture
def node(initialised: tuple[Node, InitReport]) -> Node:
    return initialised[0]
