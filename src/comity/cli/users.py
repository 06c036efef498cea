"""``comity user``: the node's user accounts (create, list, roles, disable and enable,
password and second-factor resets)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from comity.cli.common import (
    JsonOutput,
    console,
    iso,
    opened_node,
    print_json,
    table,
    when,
    yes_no,
)
from comity.identity import users
from comity.identity.models import User
from comity.identity.permissions import Role
from comity.node import local_operator

app = typer.Typer(
    help=(
        "Manage the node's user accounts.\n\n"
        "Example: comity user add amira --role investigator --name 'Amira Haddad'"
    ),
    no_args_is_help=True,
)

Username = Annotated[str, typer.Argument(help="The user's name (or id).", show_default=False)]
Roles = Annotated[
    list[str],
    typer.Option(
        "--role",
        "-r",
        help=f"A role to give; repeat for several. One of: {', '.join(Role)}.",
        show_default=False,
    ),
]


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "roles": user.role_names,
        "is_active": user.is_active,
        "totp_enabled": user.totp_enabled,
        "must_change_password": user.must_change_password,
        "created_at": iso(user.created_at),
        "disabled_at": iso(user.disabled_at),
    }


def _show_password(created: users.NewUser, as_json: bool) -> None:
    if as_json:
        print_json(
            {"user": user_json(created.user), "one_time_password": created.one_time_password}
        )
        return
    console.print(
        Text.assemble("One-time password: ", (created.one_time_password, "bold yellow")),
        soft_wrap=True,
    )
    console.print(
        "It is shown only once: hand it over securely. "
        f"'{created.user.username}' must change it at the first sign-in."
    )


@app.command()
def add(
    username: Annotated[str, typer.Argument(help="User name: 3 to 64 of a-z, 0-9, '.', '_', '-'.")],
    roles: Roles,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    email: Annotated[str, typer.Option(help="E-mail address.")] = "",
    as_json: JsonOutput = False,
) -> None:
    """Create a user of this node's organisation and print a one-time password.

    Example: comity user add amira --role investigator --role prosecutor --name 'Amira Haddad'
    """
    with opened_node() as node, node.uow() as uow:
        created = users.create_user(
            uow, local_operator(), username=username, roles=roles, display_name=name, email=email
        )
        if not as_json:
            user = created.user
            console.print(f"Created user '{user.username}' ({', '.join(user.role_names)}).")
        _show_password(created, as_json)


@app.command("list")
def list_users(as_json: JsonOutput = False) -> None:
    """List every user account, disabled ones included.

    Example: comity user list --json
    """
    with opened_node() as node, node.uow() as uow:
        found = users.list_users(uow, local_operator())
        if as_json:
            print_json([user_json(user) for user in found])
            return
        rows = table(
            "Username", "Name", "Roles", "Active", "2FA", "Created (UTC)", whole=("Username",)
        )
        for user in found:
            rows.add_row(
                user.username,
                user.display_name,
                ", ".join(user.role_names),
                yes_no(user.is_active),
                yes_no(user.totp_enabled),
                when(user.created_at),
            )
        console.print(rows)


@app.command()
def disable(username: Username) -> None:
    """Disable an account: its sessions and API tokens stop working at once.

    Example: comity user disable amira
    """
    actor = local_operator()
    with opened_node() as node, node.uow() as uow:
        user = users.disable_user(uow, actor, users.find_user(uow, actor, username).id)
        console.print(f"Disabled '{user.username}'; their sessions and API tokens no longer work.")


@app.command()
def enable(username: Username) -> None:
    """Enable a disabled account again (and lift any sign-in lock-out).

    Example: comity user enable amira
    """
    actor = local_operator()
    with opened_node() as node, node.uow() as uow:
        user = users.enable_user(uow, actor, users.find_user(uow, actor, username).id)
        console.print(f"Enabled '{user.username}'.")


@app.command("reset-password")
def reset_password(username: Username, as_json: JsonOutput = False) -> None:
    """Give a user a new one-time password; their sessions end and any lock-out is lifted.

    Example: comity user reset-password amira
    """
    actor = local_operator()
    with opened_node() as node, node.uow() as uow:
        reset = users.reset_password(uow, actor, users.find_user(uow, actor, username).id)
        if not as_json:
            console.print(f"Reset the password of '{reset.user.username}'.")
        _show_password(reset, as_json)


@app.command("reset-2fa")
def reset_second_factor(username: Username) -> None:
    """Remove a user's lost authenticator; they enrol a new one at the next sign-in.

    Their recovery codes are deleted and their sessions end.

    Example: comity user reset-2fa amira
    """
    actor = local_operator()
    with opened_node() as node, node.uow() as uow:
        user = users.reset_second_factor(uow, actor, users.find_user(uow, actor, username).id)
        console.print(
            f"Removed the second factor of '{user.username}'; they enrol again next time."
        )


@app.command("roles")
def set_roles(username: Username, roles: Roles) -> None:
    """Replace a user's roles with the ones given; their sessions end.

    Example: comity user roles amira --role investigator --role analyst
    """
    actor = local_operator()
    with opened_node() as node, node.uow() as uow:
        user = users.set_roles(uow, actor, users.find_user(uow, actor, username).id, roles)
        console.print(f"'{user.username}' now has the roles: {', '.join(user.role_names)}.")
