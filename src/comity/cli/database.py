"""``comity db``: the node's database schema."""

from __future__ import annotations

import typer

from comity import db
from comity import scrub as scrubbing
from comity.cli.common import (
    JsonOutput,
    console,
    opened_node,
    print_json,
    reaching,
    schema_revision,
)
from comity.node import Node, local_operator
from comity.settings import load_settings

app = typer.Typer(
    help="Maintain the node's database.\n\nExample: comity db upgrade",
    no_args_is_help=True,
)


@app.command()
def upgrade(as_json: JsonOutput = False) -> None:
    """Bring the database schema up to this version of Comity, or create it.

    Run it after installing a new version (comity serve and comity init also do it at
    start); back up the database first. It needs only the database, so it also prepares
    an empty one, for instance a new PostgreSQL database; 'comity init' then adds the
    organisation and the first administrator. Prints the revision before and after.

    Example: comity db upgrade
    """
    settings = load_settings()
    node = Node.open(settings)
    try:
        with reaching(settings):
            before = schema_revision(node)
            db.upgrade(node.engine)
            after = schema_revision(node)
    finally:
        node.close()
    if as_json:
        print_json({"before": before, "after": after})
    elif before is None:
        console.print(f"Created the schema at revision {after}.")
    elif before == after:
        console.print(f"The schema is up to date at revision {after}.")
    else:
        console.print(f"Upgraded the schema from revision {before} to {after}.")


@app.command()
def scrub(as_json: JsonOutput = False) -> None:
    """Remove from the database files what rewritten rows leave behind: the old words of
    the search index, freed pages, the write-ahead log (SQLite: VACUUM), dead row versions
    (PostgreSQL: VACUUM FULL of the tables with searchable text).

    Run it after marking a person protected on a node whose disk could be seized, and on a
    schedule: until then their name, gone from every page, may still be read from the raw
    files. The node's other work waits while it runs (minutes on millions of records).

    Example: comity db scrub
    """
    with opened_node() as node:
        report = scrubbing.scrub(node, local_operator())
    if as_json:
        print_json(
            {
                "dialect": report.dialect,
                "seconds": round(report.seconds, 3),
                "size_before": report.size_before,
                "size_after": report.size_after,
            }
        )
        return
    sizes = ""
    if report.size_before is not None and report.size_after is not None:
        sizes = f" The database went from {report.size_before:,} to {report.size_after:,} bytes."
    console.print(f"Scrubbed the database in {report.seconds:.1f} s.{sizes}", soft_wrap=True)
