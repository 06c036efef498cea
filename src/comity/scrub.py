"""Scrubbing the database files of what rewritten rows leave behind.

When a person is marked protected, their name leaves the full-text index (and every page,
export and snippet) at once. But databases do not erase on delete: SQLite's FTS5 keeps
the old words in index segments until they are merged, freed pages keep old bytes, the
write-ahead log keeps old page images; PostgreSQL keeps dead row versions until a vacuum
rewrites the table. Someone who seizes the disk could read a protected witness's name out
of those leftovers. Comity runs SQLite with ``secure_delete`` on (freed space is zeroed),
and :func:`scrub` removes the rest: it merges the search index into one segment (the old
entries go), rewrites the database (``VACUUM``) and empties the write-ahead log; on
PostgreSQL it rewrites the tables that hold searchable text (``VACUUM FULL``). It takes
the database for a while (minutes on millions of records), so it is a command for a quiet
moment — after protecting someone, and on a schedule the administrators choose.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from comity.audit.services import record
from comity.identity.permissions import Actor, Permission, require
from comity.migrations import SEARCH_INDEX
from comity.node import Node

# The tables whose rows carry searchable text in the clear (titles and index words).
TEXT_TABLES = (SEARCH_INDEX, "records_records")


@dataclass(frozen=True)
class ScrubReport:
    dialect: str
    seconds: float
    size_before: int | None
    size_after: int | None


def _sqlite_size(driver: Any) -> int:
    pages = driver.execute("PRAGMA page_count").fetchone()[0]
    size = driver.execute("PRAGMA page_size").fetchone()[0]
    return int(pages) * int(size)


def scrub(node: Node, actor: Actor) -> ScrubReport:
    """Remove the leftovers of rewritten rows from the database files (see the module).

    Needs ``records:configure``; audited. Other work on the node waits while it runs.
    """
    require(actor, Permission.RECORDS_CONFIGURE)
    started = time.monotonic()
    dialect = node.engine.dialect.name
    raw = node.engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        if dialect == "sqlite":
            # The connection runs without implicit transactions (db._sqlite_pragmas), as
            # VACUUM needs.
            before: int | None = _sqlite_size(driver)
            driver.execute(f"INSERT INTO {SEARCH_INDEX}({SEARCH_INDEX}) VALUES('optimize')")
            driver.execute("VACUUM")
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            after: int | None = _sqlite_size(driver)
        else:
            before = after = None
            driver.autocommit = True  # VACUUM runs outside any transaction
            try:
                with driver.cursor() as cursor:
                    for table in TEXT_TABLES:
                        cursor.execute(f"VACUUM FULL {table}")
            finally:
                driver.autocommit = False
    finally:
        raw.close()
    report = ScrubReport(dialect, time.monotonic() - started, before, after)
    with node.uow() as uow:
        record(
            uow.session,
            actor,
            "db.scrub",
            detail={
                "dialect": dialect,
                "seconds": round(report.seconds, 3),
                "size_before": before,
                "size_after": after,
            },
        )
        uow.commit()
    return report
