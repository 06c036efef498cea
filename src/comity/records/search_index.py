"""The full-text index of records, one row per record, on either database.

The words are folded by :mod:`comity.records.text` before either engine sees them, and
queries are built from words folded the same way, so SQLite and PostgreSQL match the
same records: every query word must begin a word of the record (prefix match), in any
order. On SQLite the index is an FTS5 table whose rowid is the record's integer key; on
PostgreSQL a ``tsvector`` made with ``array_to_tsvector`` (no parser, no dictionary) in a
table with a GIN index.
"""

from __future__ import annotations

from sqlalchemy import TextClause, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import String

from comity.records.models import Record
from comity.records.text import index_text

_CHUNK = 500  # ids in one ``IN (…)``, well under every engine's limit of parameters


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def replace(session: Session, key: int, *parts: str) -> None:
    """Index ``parts`` as the text of the record with ``key`` (no commit)."""
    body = index_text(*parts)
    if _is_postgres(session):
        statement = text(
            "INSERT INTO records_search (key, words) VALUES (:key, array_to_tsvector(:words)) "
            "ON CONFLICT (key) DO UPDATE SET words = EXCLUDED.words"
        ).bindparams(bindparam("words", type_=ARRAY(String)))
        session.execute(statement, {"key": key, "words": sorted(set(body.split()))})
        return
    session.execute(text("DELETE FROM records_search WHERE rowid = :key"), {"key": key})
    session.execute(
        text("INSERT INTO records_search (rowid, body) VALUES (:key, :body)"),
        {"key": key, "body": body},
    )


def insert_many(session: Session, rows: list[tuple[str, list[str]]]) -> None:
    """Index records just inserted, by id: ``(record id, texts)`` for each (no commit).

    The records' keys are looked up here, so that the records can be inserted without
    returning them (``COPY`` on PostgreSQL cannot)."""
    if not rows:
        return
    if _is_postgres(session):
        # One statement for the batch: the ids and texts as two arrays, joined to the
        # records (array_to_tsvector drops repeated words itself).
        statement = text(
            "INSERT INTO records_search (key, words) "
            "SELECT r.key, array_to_tsvector(string_to_array(t.body, ' ')) "
            "FROM unnest(:ids, :bodies) AS t (id, body) "
            "JOIN records_records r ON r.id = t.id"
        ).bindparams(
            bindparam("ids", type_=ARRAY(String)), bindparam("bodies", type_=ARRAY(String))
        )
        session.execute(
            statement,
            {
                "ids": [record_id for record_id, _ in rows],
                "bodies": [index_text(*texts) for _, texts in rows],
            },
        )
        return
    # Keys first, then plain inserts: an INSERT ... SELECT would make FTS5 write its
    # pending terms out at every row (it does so at each statement savepoint).
    keys: dict[str, int] = {}
    for start in range(0, len(rows), _CHUNK):
        chunk = [record_id for record_id, _ in rows[start : start + _CHUNK]]
        for record_id, key in session.execute(
            select(Record.id, Record.key).where(Record.id.in_(chunk))
        ):
            keys[record_id] = key
    session.execute(
        text("INSERT INTO records_search (rowid, body) VALUES (:key, :body)"),
        [{"key": keys[record_id], "body": index_text(*texts)} for record_id, texts in rows],
    )


def matching_keys(session: Session, words: list[str]) -> tuple[TextClause, dict[str, str]]:
    """A sub-query of the keys of records holding every one of ``words`` (as prefixes),
    and its parameters. ``words`` come from :func:`comity.records.text.query_words`, so
    they hold only letters and digits and need no quoting beyond the engine's own."""
    if _is_postgres(session):
        query = " & ".join(f"'{word}':*" for word in words)
        return (
            text("SELECT key FROM records_search WHERE words @@ CAST(:fts AS tsquery)"),
            {"fts": query},
        )
    query = " ".join(f'"{word}"*' for word in words)
    return text("SELECT rowid FROM records_search WHERE records_search MATCH :fts"), {"fts": query}
