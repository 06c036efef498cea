"""The web server's access log, without query strings.

Search pages and the records map take what people look for in the query string (a name a
cleared investigator typed, a place). Uvicorn's access log would write each full URL to
the node's logs, where it outlives the search and reaches whoever reads the logs. The
filter here keeps the method, path and status and drops everything after ``?``.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"


class WithoutQuery(logging.Filter):
    """Rewrites an access record's path (its third argument) to end before ``?``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, _, query = args[2].partition("?")
            if query:
                record.args = (*args[:2], path + "?…", *args[3:])
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger (once)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, WithoutQuery) for f in logger.filters):
        logger.addFilter(WithoutQuery())
