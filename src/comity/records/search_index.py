"""The full-text index of records, one row per record, on either database.

The words are folded by :mod:`comity.records.text` before either engine sees them, and
queries are built from words folded the same way, so SQLite and PostgreSQL match the
same records: every query word must begin a word of the record (prefix match), in any
order. On SQLite the index is an FTS5 table whose rowid is the record's integer key; on
PostgreSQL a ``tsvector`` made with ``array_to_tsvector`` (no parser, no dictionary) in a
table with a GIN index.
"""

from __future__ import annotations

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import String

from comity.records.text import index_text


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


def insert_many(session: Session, rows: list[tuple[int, list[str]]]) -> None:
    """Index new records at once: ``(key, texts)`` for each (no commit)."""
    if not rows:
        return
    if _is_postgres(session):
        statement = text(
            "INSERT INTO records_search (key, words) VALUES (:key, array_to_tsvector(:words))"
        ).bindparams(bindparam("words", type_=ARRAY(String)))
        session.execute(
            statement,
            [{"key": key, "words": sorted(set(index_text(*texts).split()))} for key, texts in rows],
        )
        return
    session.execute(
        text("INSERT INTO records_search (rowid, body) VALUES (:key, :body)"),
        [{"key": key, "body": index_text(*texts)} for key, texts in rows],
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
