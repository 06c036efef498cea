"""``comity roles``: the permission model (which role grants which permission)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from comity.cli.common import JsonOutput, console, print_json, table
from comity.errors import ValidationError
from comity.identity.permissions import (
    PERMISSION_DESCRIPTIONS,
    ROLE_LABELS,
    ROLE_PERMISSIONS,
    Permission,
    markdown_table,
)


def roles(
    as_json: JsonOutput = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the Markdown table of docs/permissions.md.")
    ] = False,
) -> None:
    """Show which permissions each role grants, and what each permission allows.

    Roles are given with 'comity user add' and 'comity user roles'; the scopes of API
    tokens are permissions.

    Example: comity roles
    """
    if as_json and markdown:
        raise ValidationError("Choose --json or --markdown, not both.")
    if markdown:
        typer.echo(markdown_table(), nl=False)
        return
    if as_json:
        print_json(
            [
                {"role": role.value, "label": ROLE_LABELS[role], "permissions": sorted(granted)}
                for role, granted in ROLE_PERMISSIONS.items()
            ]
        )
        return
    matrix = Table(title="Roles")
    matrix.add_column("Role", no_wrap=True)
    for permission in Permission:
        matrix.add_column(permission.value.replace(":", ":\n"), justify="center", overflow="fold")
    for role, granted in ROLE_PERMISSIONS.items():
        matrix.add_row(role.value, *("✓" if p in granted else "" for p in Permission))
    console.print(matrix)
    described = table("Permission", "Allows", title="Permissions")
    for permission in Permission:
        described.add_row(permission.value, PERMISSION_DESCRIPTIONS[permission])
    console.print(described)
