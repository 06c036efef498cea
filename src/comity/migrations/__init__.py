"""Alembic migrations: the only way Comity's schema is made or changed.

:func:`modelled` tells autogenerate (and the test that models and migrations agree) which
schema objects the models describe: not the full-text index of records, which each
migration makes by hand for its database (an FTS5 virtual table and its shadow tables on
SQLite, a ``tsvector`` table on PostgreSQL).
"""

from __future__ import annotations

from typing import Any

SEARCH_INDEX = "records_search"


def modelled(
    _object: Any, name: str | None, _type: str, _reflected: bool, _compare_to: Any
) -> bool:
    """Alembic's ``include_object``: everything but the search index and its parts."""
    return not (name or "").startswith(SEARCH_INDEX)
