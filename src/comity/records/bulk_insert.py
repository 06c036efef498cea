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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    import psycopg


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
