"""Inserting many rows into a table at once, the way each database takes them fastest.

:func:`insert_rows` is how :class:`~comity.records.bulk.BulkWriter` writes a batch. On
SQLite the rows are one ``executemany`` of one prepared statement. On PostgreSQL they go
through ``COPY … FROM STDIN``, one stream for the whole batch: a multi-row ``INSERT``
of a thousand records would be a statement of some twenty thousand parameters, which
psycopg rewrites and the server parses and plans anew for every batch (several times
slower).

Values are those the ORM takes (a ``dict`` for a JSON column, an aware datetime for a
:class:`~comity.db.UTCDateTime`): each column's SQLAlchemy type converts them, as in an
``INSERT``. Database errors are raised as SQLAlchemy's
:class:`~sqlalchemy.exc.DBAPIError`, as from any other statement. Nothing commits here.

:func:`larger_page_cache` gives a bulk write's SQLite connection room for the pages it
touches, for as long as the write lasts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    import psycopg

BULK_PAGE_CACHE_KIB = 64 * 1024


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` into ``table``; each row gives the same columns (no commit)."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _copy(connection, table, rows)
    else:
        connection.execute(insert(table), list(rows))


def _copy(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    dialect = connection.dialect
    names = list(rows[0])
    converters = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    quote = dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(map(quote, names))}) FROM STDIN"
    cursor = cast("psycopg.Cursor[Any]", connection.connection.cursor())
    try:
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(
                    [
                        value if convert is None else convert(value)
                        for convert, value in zip(converters, (row[n] for n in names), strict=True)
                    ]
                )
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, [], exc, dialect.loaded_dbapi.Error, dialect=dialect
        ) from exc
    finally:
        cursor.close()


@contextmanager
def larger_page_cache(session: Session) -> Iterator[None]:
    """On SQLite, let the session's connection keep up to :data:`BULK_PAGE_CACHE_KIB` of
    database pages in memory for the block, and its own setting again after (on other
    databases, nothing).

    Each batch's rows land all over the indexes keyed by record id (random UUIDs). With
    SQLite's default cache of 2 MiB, their pages are pushed out to the WAL before the
    commit and read back for the next rows: about a tenth of an import's time."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = cast(sqlite3.Connection, connection.connection.driver_connection)
    (before,) = driver.execute("PRAGMA cache_size").fetchone()
    driver.execute(f"PRAGMA cache_size = -{BULK_PAGE_CACHE_KIB}")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA cache_size = {int(before)}")
