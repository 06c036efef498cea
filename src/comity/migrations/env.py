"""Alembic environment: runs migrations on the connection Comity hands over, or on the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from comity.audit import models as _audit_models  # noqa: F401 - registers the tables
from comity.db import Base
from comity.exchange import models as _exchange_models  # noqa: F401 - registers the tables
from comity.exchange import payload_models as _payload_models  # noqa: F401 - registers the tables
from comity.identity import models as _identity_models  # noqa: F401 - registers the tables
from comity.ledger import models as _ledger_models  # noqa: F401 - registers the tables
from comity.migrations import modelled
from comity.records import models as _records_models  # noqa: F401 - registers the tables
from comity.vault import models as _vault_models  # noqa: F401 - registers the tables

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=modelled,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Comity runs migrations online only: 'comity db upgrade'.")
run_migrations_online()
