"""The ``comity`` command: assembles the command groups and turns domain errors into
exit codes, in one place (:class:`ComityGroup`).

Exit codes: 0 success; 1 refused (not initialised, invalid settings, no such object,
conflict, permission); 2 invalid input (a :class:`comity.errors.ValidationError`, or
an option the command line itself rejects).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from comity.cli import (
    audit,
    database,
    demo,
    evidence,
    ledger,
    messages,
    package,
    peers,
    records,
    roles,
    start,
    tokens,
    users,
)
from comity.cli.common import errors
from comity.errors import ComityError, ValidationError

EXIT_REFUSED = 1
EXIT_INVALID = 2


class ComityGroup(TyperGroup):
    """The root command group; a domain error in any command ends it with one red line."""

    def invoke(self, ctx: Any) -> Any:  # Any: Typer's Click Context has moved between releases
        try:
            return super().invoke(ctx)
        except ComityError as exc:
            errors.print(Text.assemble(("Error:", "red"), " ", exc.message), soft_wrap=True)
            raise typer.Exit(
                EXIT_INVALID if isinstance(exc, ValidationError) else EXIT_REFUSED
            ) from None


app = typer.Typer(
    cls=ComityGroup,
    name="comity",
    help=(
        "Run and administer a Comity node. Settings come from COMITY_* environment "
        "variables or COMITY_HOME/comity.toml.\n\n"
        "Exit codes: 0 success, 1 refused, 2 invalid input.\n\n"
        "Example: comity init && comity user list"
    ),
    no_args_is_help=True,
)
app.command()(start.init)
app.command()(start.serve)
app.command()(roles.roles)
app.command()(demo.demo)
app.add_typer(database.app, name="db")
app.add_typer(users.app, name="user")
app.add_typer(tokens.app, name="token")
app.add_typer(audit.app, name="audit")
app.add_typer(ledger.app, name="ledger")
app.add_typer(evidence.app, name="evidence")
app.add_typer(package.app, name="package")
app.add_typer(records.app, name="records")
app.add_typer(peers.node_app, name="node")
app.add_typer(peers.peers_app, name="peers")
app.add_typer(messages.app, name="messages")


def main() -> None:
    app()
