"""The access log keeps paths, never what people searched for."""

from __future__ import annotations

import logging

from comity.web.access_log import ACCESS_LOGGER, WithoutQuery, install


def _record(path: str) -> logging.LogRecord:
    return logging.LogRecord(
        ACCESS_LOGGER,
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )


def test_query_strings_are_cut_and_paths_kept() -> None:
    searched = _record("/records?text=Karim+Haddad&kind=person")
    assert WithoutQuery().filter(searched)
    assert searched.getMessage() == '127.0.0.1:5000 - "GET /records?… HTTP/1.1" 200'
    plain = _record("/records/map")
    WithoutQuery().filter(plain)
    assert "/records/map HTTP" in plain.getMessage()


def test_install_adds_the_filter_once() -> None:
    install()
    install()
    logger = logging.getLogger(ACCESS_LOGGER)
    assert sum(isinstance(f, WithoutQuery) for f in logger.filters) == 1
