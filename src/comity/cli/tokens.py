"""``comity token``: API tokens for scripts (create, list, revoke)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from comity.cli.common import JsonOutput, console, iso, opened_node, print_json, table, when
from comity.db import utcnow
from comity.identity import tokens, users
from comity.identity.models import ApiToken
from comity.identity.permissions import Permission
from comity.node import local_operator

app = typer.Typer(
    help=(
        "Manage API tokens that scripts send as 'Authorization: Bearer <token>'.\n\n"
        "Example: comity token create --user amira --name export --scope audit:read"
    ),
    no_args_is_help=True,
)


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "user_id": token.user_id,
        "username": token.user.username,
        "name": token.name,
        "scopes": list(token.scopes),
        "created_at": iso(token.created_at),
        "expires_at": iso(token.expires_at),
        "revoked_at": iso(token.revoked_at),
        "last_used_at": iso(token.last_used_at),
    }


def _status(token: ApiToken) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at <= utcnow():
        return "expired"
    return "active"


@app.command()
def create(
    user: Annotated[
        str, typer.Option(help="User the token acts for (name or id).", show_default=False)
    ],
    name: Annotated[
        str, typer.Option(help="What the token is for, 1 to 100 characters.", show_default=False)
    ],
    scopes: Annotated[
        list[str],
        typer.Option(
            "--scope",
            "-s",
            help=f"A permission the token may use; repeat for several. One of: "
            f"{', '.join(Permission)}.",
            show_default=False,
        ),
    ],
    days: Annotated[int, typer.Option(help="Days until the token expires.")] = 90,
    as_json: JsonOutput = False,
) -> None:
    """Create an API token and print its secret, which is shown only once.

    The token can never do more than its user's roles allow, even if they change later.

    Example: comity token create --user amira --name nightly-export --scope audit:read --days 30
    """
    actor = local_operator()
    with opened_node() as node, node.uow() as uow:
        owner = users.find_user(uow, actor, user)
        created = tokens.create_token(
            uow, node.settings, actor, user_id=owner.id, name=name, scopes=scopes, days=days
        )
        if as_json:
            print_json({"token": token_json(created.token), "secret": created.secret})
            return
        token = created.token
        console.print(
            f"Created token '{token.name}' for '{owner.username}' (id {token.id}), "
            f"scopes {', '.join(token.scopes)}, valid until {when(token.expires_at)} UTC."
        )
        console.print(Text.assemble("Secret: ", (created.secret, "bold yellow")), soft_wrap=True)
        console.print("It is shown only once and cannot be recovered: store it now.")


@app.command("list")
def list_tokens(
    user: Annotated[str | None, typer.Option(help="Only this user's tokens (name or id).")] = None,
    as_json: JsonOutput = False,
) -> None:
    """List API tokens, newest first: all of them, or one user's.

    Example: comity token list --user amira
    """
    actor = local_operator()
    with opened_node() as node, node.uow() as uow:
        user_id = users.find_user(uow, actor, user).id if user is not None else None
        found = tokens.list_tokens(uow, actor, user_id=user_id)
        if as_json:
            print_json([token_json(token) for token in found])
            return
        rows = table(
            "ID",
            "User",
            "Name",
            "Scopes",
            "Status",
            "Expires (UTC)",
            "Last used (UTC)",
            whole=("ID", "Status"),
        )
        for token in found:
            rows.add_row(
                token.id,
                token.user.username,
                token.name,
                ", ".join(token.scopes),
                _status(token),
                when(token.expires_at),
                when(token.last_used_at),
            )
        console.print(rows)


@app.command()
def revoke(
    token_id: Annotated[
        str, typer.Argument(help="The token's id, from 'comity token list'.", show_default=False)
    ],
) -> None:
    """Revoke an API token; scripts using it are refused from now on.

    Example: comity token revoke 0b9e6c7e-3f51-4d0a-9a51-2f1c1e1f5a10
    """
    with opened_node() as node, node.uow() as uow:
        token = tokens.revoke_token(uow, local_operator(), token_id)
        console.print(f"Revoked token '{token.name}' of '{token.user.username}'.")
