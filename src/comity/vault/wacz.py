"""What a WACZ web archive says about its capture: the pages it holds (URL, time, title)
and its main page, read with the standard library alone (``zipfile``, ``json``).

A WACZ (Web Archive Collection Zipped, specification 1.1.1) is a ZIP file holding WARC
data and two files read here: ``pages/pages.jsonl`` — JSON lines, an optional header
line (``{"format": "json-pages-1.0", …}``) then one object per page with at least
``url`` and ``ts`` (an RFC 3339 time) and often ``title`` — and ``datapackage.json``,
whose optional ``mainPageUrl``, ``mainPageDate``, ``title`` and ``created`` describe
the collection (py-wacz, the reference implementation, writes ``mainPageURL``: both are
read). Nothing else of the archive is opened.

Evidence comes from anywhere, so reading is bounded (the sizes read, the number of
pages kept) and never raises: a file that is not a ZIP, or whose members are missing,
too large, compressed in an unknown way or not JSON, gives a summary with a
:attr:`WaczSummary.problem` and what could be read. The archive is preserved either way;
only what it is trusted to say depends on this.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PAGES_FILE = "pages/pages.jsonl"
DATAPACKAGE_FILE = "datapackage.json"
MAX_DATAPACKAGE_BYTES = 1024 * 1024
MAX_PAGES_BYTES = 16 * 1024 * 1024
MAX_PAGES = 10_000
_WARC_TIME = re.compile(r"\d{14}")


@dataclass(frozen=True)
class WaczPage:
    url: str
    captured_at: dt.datetime | None
    title: str = ""


@dataclass(frozen=True)
class WaczSummary:
    """What the archive says: its pages (at most :data:`MAX_PAGES`), the main page its
    data package names, its title and creation time; ``problem`` if it could not all be
    read."""

    pages: tuple[WaczPage, ...] = ()
    main_url: str = ""
    main_time: dt.datetime | None = None
    title: str = ""
    created: dt.datetime | None = None
    problem: str | None = None

    def main_page(self) -> WaczPage | None:
        """The page a capture of this archive is of: the data package's main page (with
        its time from the page list when it is there), else the first page listed."""
        if self.main_url:
            listed = next((p for p in self.pages if same_url(p.url, self.main_url)), None)
            time = listed.captured_at if listed and listed.captured_at else self.main_time
            return WaczPage(self.main_url, time or self.created, listed.title if listed else "")
        if self.pages:
            first = self.pages[0]
            return WaczPage(first.url, first.captured_at or self.created, first.title)
        return None

    def holds(self, url: str) -> bool:
        """Whether ``url`` is one of the archive's pages (or its main page)."""
        return any(same_url(url, other) for other in [self.main_url, *(p.url for p in self.pages)])


def _normal(url: str) -> str:
    """``url`` with its scheme and host in lower case and an empty path as ``/``."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
    )


def same_url(first: str, second: str) -> bool:
    """Whether two URLs name the same page (case of scheme and host, an empty path and
    the fragment aside)."""
    return bool(first) and bool(second) and _normal(first) == _normal(second)


def parse_time(value: object) -> dt.datetime | None:
    """An RFC 3339 time (a WARC-style ``YYYYMMDDhhmmss`` too), in UTC; a time without an
    offset is taken as UTC, as web archives write them; ``None`` if there is none."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if _WARC_TIME.fullmatch(text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:8]}T{text[8:10]}:{text[10:12]}:{text[12:]}"
    if "T" not in text.upper():
        return None  # a date alone does not say when the page was captured
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _text(value: object, limit: int = 500) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _member(archive: zipfile.ZipFile, name: str, limit: int) -> tuple[bytes | None, bool]:
    """The first ``limit`` bytes of a member (``None`` if absent) and whether it was cut."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None, False
    with archive.open(info) as member:
        data = member.read(limit + 1)
    return data[:limit], len(data) > limit


def _pages(data: bytes, cut: bool) -> tuple[list[WaczPage], str | None]:
    lines = data.split(b"\n")
    if cut:
        lines = lines[:-1]  # the last line read may be incomplete
    pages: list[WaczPage] = []
    for line in lines:
        if len(pages) == MAX_PAGES:
            return pages, f"the archive lists more than {MAX_PAGES} pages; the first were read"
        if not line.strip():
            continue
        entry: Any = json.loads(line)
        if isinstance(entry, dict) and isinstance(entry.get("url"), str) and entry["url"]:
            pages.append(
                WaczPage(entry["url"], parse_time(entry.get("ts")), _text(entry.get("title")))
            )
    if cut:
        return pages, f"{PAGES_FILE} is larger than {MAX_PAGES_BYTES} bytes; its start was read"
    return pages, None


def _read(archive: zipfile.ZipFile) -> WaczSummary:
    package_bytes, package_cut = _member(archive, DATAPACKAGE_FILE, MAX_DATAPACKAGE_BYTES)
    pages_bytes, pages_cut = _member(archive, PAGES_FILE, MAX_PAGES_BYTES)
    problems: list[str] = []
    package: Any = {}
    if package_bytes is None:
        problems.append(f"it has no {DATAPACKAGE_FILE}")
    elif package_cut:
        problems.append(f"its {DATAPACKAGE_FILE} is larger than {MAX_DATAPACKAGE_BYTES} bytes")
    else:
        package = json.loads(package_bytes)
        if not isinstance(package, dict):
            problems.append(f"its {DATAPACKAGE_FILE} is not a JSON object")
            package = {}
    pages: list[WaczPage] = []
    if pages_bytes is None:
        problems.append(f"it has no {PAGES_FILE}")
    else:
        pages, problem = _pages(pages_bytes, pages_cut)
        problems += [problem] if problem else []
    return WaczSummary(
        pages=tuple(pages),
        main_url=_text(package.get("mainPageUrl") or package.get("mainPageURL"), 4096),
        main_time=parse_time(package.get("mainPageDate")),
        title=_text(package.get("title")),
        created=parse_time(package.get("created")),
        problem="; ".join(problems) or None,
    )


def read_wacz(path: Path) -> WaczSummary:
    """What the WACZ at ``path`` says (see the module docstring); never raises for what
    the file holds."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _read(archive)
    except zipfile.BadZipFile:
        return WaczSummary(problem="it is not a ZIP file")
    except (OSError, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression;
        # ValueError: JSON that does not parse, or bytes that are not UTF-8.
        return WaczSummary(problem=f"it cannot be read ({exc})")
