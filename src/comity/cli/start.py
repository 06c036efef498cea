"""Starting a node: ``comity init`` makes what is missing, ``comity serve`` also runs the
web app. Both print the first administrator's one-time password when they create one.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
import uvicorn
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from comity.cli.common import JsonOutput, console, print_json, reaching
from comity.node import InitReport, initialise
from comity.settings import Settings, load_settings


def node_url(settings: Settings) -> str:
    return settings.listen_url + "/"


def _render_report(settings: Settings, report: InitReport) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Organisation", report.organisation)
    grid.add_row("Key fingerprint", report.fingerprint)
    grid.add_row("Open", node_url(settings))
    if report.one_time_password is None:
        console.print(Panel(grid, title="Comity node (already initialised)", expand=False))
        console.print(
            "Users exist already, so no administrator was created. "
            "To give someone a new password: comity user reset-password USERNAME"
        )
        return
    grid.add_row("Sign in as", report.admin_username or "")
    grid.add_row("One-time password", Text(report.one_time_password, style="bold yellow"))
    console.print(Panel(grid, title="Comity node initialised", expand=False))
    console.print(
        Text.assemble(
            ("The password is shown only once.", "bold"),
            " Write it down now and hand it over securely; it must be changed at the first "
            "sign-in.",
        )
    )


def _report_json(settings: Settings, report: InitReport) -> dict[str, Any]:
    return {
        "organisation": report.organisation,
        "fingerprint": report.fingerprint,
        "url": node_url(settings),
        "admin_username": report.admin_username,
        "one_time_password": report.one_time_password,
    }


def init(
    admin: Annotated[
        str, typer.Option("--admin", help="User name of the first administrator.")
    ] = "admin",
    as_json: JsonOutput = False,
) -> None:
    """Set up this node without serving it.

    Creates whatever is missing: the data directory (COMITY_HOME), the secret key, the
    node's key pairs, the database schema, the organisation and a first administrator
    with a one-time password. Running it again changes nothing that exists and never
    creates a second administrator.

    Example: comity init --admin amira
    """
    settings = load_settings()
    with reaching(settings):
        node, report = initialise(settings, admin_username=admin)
    try:
        if as_json:
            print_json(_report_json(settings, report))
        else:
            _render_report(settings, report)
    finally:
        node.close()


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: COMITY_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: COMITY_PORT).")
    ] = None,
) -> None:
    """Set up this node if needed, then serve the web app until stopped with Ctrl+C.

    On the first start this does what 'comity init' does and prints the first
    administrator's one-time password. While serving, the node signs a checkpoint of its
    ledger every COMITY_CHECKPOINT_INTERVAL_SECONDS if the ledger grew, and witnesses the
    ledgers it follows every COMITY_WITNESS_INTERVAL_SECONDS (0 turns either off).

    Example: comity serve --host 0.0.0.0 --port 8080
    """
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = load_settings(**overrides)
    with reaching(settings):
        node, report = initialise(settings)
    try:
        if report.one_time_password is not None:
            _render_report(settings, report)
        from comity.web import access_log  # noqa: PLC0415 - the web stack loads only here
        from comity.web.app import create_app  # noqa: PLC0415

        access_log.install()

        console.print(f"Serving {report.organisation} on {node_url(settings)}")
        uvicorn.run(
            create_app(node),
            host=settings.host,
            port=settings.port,
            log_level="info",
            server_header=False,
        )
    finally:
        node.close()
