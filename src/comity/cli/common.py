"""What every command shares: the consoles, opening the initialised node, JSON output,
progress bars (of steps and of bytes) and the formatting of times, flags, labelled
fields and hashes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from comity import db
from comity.errors import ConfigurationError
from comity.node import Node
from comity.settings import Settings, load_settings

# Markup is off: names, messages and details are printed as given, never as Rich markup.
console = Console(highlight=False, markup=False)
errors = Console(stderr=True, highlight=False, markup=False)

NOT_INITIALISED = "Run 'comity init' first (or check COMITY_HOME and COMITY_DATABASE_URL)."


def _sqlite_file(node: Node) -> Path | None:
    url = node.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


@contextmanager
def reaching(settings: Settings) -> Iterator[None]:
    """Turn a database that cannot be reached or opened into a one-line refusal."""
    try:
        yield
    except OperationalError as exc:
        url = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
        reason = " ".join(str(exc.orig).split())
        raise ConfigurationError(f"Cannot use the database {url}: {reason}") from None


def schema_revision(node: Node) -> str | None:
    """The Alembic revision of the node's database; ``None`` if it has no schema."""
    sqlite_file = _sqlite_file(node)
    if sqlite_file is not None and not sqlite_file.exists():
        return None
    with reaching(node.settings), node.engine.connect() as connection:
        return db.current_revision(connection)


def open_node() -> Node:
    """The node of the current settings, refusing one that was never initialised."""
    settings = load_settings()
    if settings.secret_key is None:
        raise ConfigurationError(
            f"No node is initialised in {settings.home}: it has no secret key. {NOT_INITIALISED}"
        )
    node = Node.open(settings)
    try:
        revision = schema_revision(node)
    except ConfigurationError:
        node.close()
        raise
    if revision is None:
        node.close()
        raise ConfigurationError(f"The node's database has no schema yet. {NOT_INITIALISED}")
    return node


@contextmanager
def opened_node() -> Iterator[Node]:
    """:func:`open_node`, closed again when the command is done."""
    node = open_node()
    try:
        yield node
    finally:
        node.close()


@contextmanager
def progress_bar(label: str, *, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on standard error, gone when done; standard output stays clean. It
    yields the callback to report (done, total) with."""
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not enabled or not errors.is_terminal,
    )
    task = bar.add_task(label, total=None)

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield advance


def bytes_bar(label: str, *, enabled: bool) -> Progress:
    """A progress bar of bytes (so far, speed, time left) on standard error, gone when
    done; used as a context manager, advanced by the number of bytes handled."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
        disable=not enabled or not errors.is_terminal,
    )


def table(*headers: str, title: str | None = None, whole: tuple[str, ...] = ()) -> Table:
    """A table whose cells fold rather than lose characters when the terminal is narrow;
    the columns named in ``whole`` are never wrapped (ids, times, short names)."""
    made = Table(title=title)
    for header in headers:
        made.add_column(header, overflow="fold", no_wrap=header in whole)
    return made


def print_json(data: object) -> None:
    """Machine-readable output: plain JSON on stdout, without colours or wrapping."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def when(moment: dt.datetime | None, *, seconds: bool = False) -> str:
    """A time for tables: UTC to the minute (or second), or a dash."""
    if moment is None:
        return "-"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def _label(name: str) -> Text:
    return Text(f"{name:<19}", style="bold")


def field(name: str, value: str | Text) -> None:
    """One ``label  value`` line; long values (keys, hashes) are never broken."""
    console.print(Text.assemble(_label(name), value), soft_wrap=True)


def hash_list(name: str, values: list[bytes]) -> None:
    """A labelled count of hashes, then each hash in base64 on its own line."""
    field(name, plural(len(values), "hash", "hashes") + (":" if values else ""))
    for value in values:
        console.print("  " + base64.b64encode(value).decode(), soft_wrap=True)
