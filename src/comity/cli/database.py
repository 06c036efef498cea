"""``comity db``: the node's database schema."""

from __future__ import annotations

import typer

from comity import db
from comity.cli.common import JsonOutput, console, print_json, reaching, schema_revision
from comity.node import Node
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
