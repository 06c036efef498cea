"""Fixtures for browser tests: the real app served by uvicorn on a loopback port, and
Debian's headless Chromium driven through Playwright's sync API.

The server keeps the default ``cookie_secure=True``: Chromium treats http://127.0.0.1 as
potentially trustworthy and keeps (and sends back) ``Secure`` cookies there, so these
tests also prove that secure session and CSRF cookies work on a local node.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn

from comity.node import InitReport, Node
from comity.web.app import create_app
from conftest import cannot_run

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
STARTUP_SECONDS = 15.0
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def live_url(initialised: tuple[Node, InitReport]) -> Iterator[str]:
    """The base URL of the node's web app, served by uvicorn in a background thread."""
    node, _ = initialised
    assert node.settings.cookie_secure, "browser tests run with secure cookies on purpose"
    port = _free_port()
    config = uvicorn.Config(create_app(node), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=STARTUP_SECONDS)
            pytest.fail(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_SECONDS)
        assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium; never a downloaded browser."""
    executable = shutil.which("chromium")
    if executable is None:
        cannot_run("Debian's chromium is not on PATH")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        cannot_run(f"Playwright's Python client cannot be imported: {exc}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    yield ctx
    ctx.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors and uncaught exceptions of :func:`page`: CSP violations, missing
    static files and script errors all land here. Tests assert it stays empty."""
    return []


@pytest.fixture
def page(context: BrowserContext, console_errors: list[str]) -> Iterator[Page]:
    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        console_errors.append(f"console: {message.text} ({url})")

    def on_page_error(error: Error) -> None:
        console_errors.append(f"pageerror: {error}")

    opened = context.new_page()
    opened.on("console", on_console)
    opened.on("pageerror", on_page_error)
    yield opened
    opened.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: ``docs/images`` with ``COMITY_SCREENSHOTS=1``, else tmp_path."""
    if os.environ.get("COMITY_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        return DOCS_IMAGES
    return tmp_path
