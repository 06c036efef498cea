"""Nodes run as their own ``comity serve`` processes, for the exchange's tests between
processes: each with its own home, keys and database (a SQLite file, or a PostgreSQL
database of its own under ``COMITY_TEST_DATABASE_URL``), on a free loopback port. A
:class:`Served` node is started, stopped, killed with SIGKILL and started again; the test
opens its database and keys beside the running server, or runs the real command line in
its operator's shell.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import pytest

from comity.node import Node, initialise
from comity.settings import Settings, load_settings
from conftest import TEST_SECRET
from exchange.payloading import befriend, node_id

START_TIMEOUT = 60.0
COMMAND_TIMEOUT = 120.0
# The node's own timers are off unless a test turns one on: only what the test does happens.
TIMERS_OFF = {
    "COMITY_CHECKPOINT_INTERVAL_SECONDS": "0",
    "COMITY_WITNESS_INTERVAL_SECONDS": "0",
    "COMITY_EXCHANGE_DELIVERY_INTERVAL_SECONDS": "0",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Served:
    """A node as a ``comity serve`` process, which the test can stop, kill and start
    again; ``env`` adds to (or overrides) :data:`TIMERS_OFF`."""

    def __init__(self, settings: Settings, env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.log = settings.home / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._env = {**TIMERS_OFF, **(env or {})}

    @property
    def url(self) -> str:
        return self.settings.base_url

    @cached_property
    def node_id(self) -> str:
        with self.opened() as node:
            return node_id(node)

    def env(self) -> dict[str, str]:
        """The server's and the operator's environment: this node's settings only."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("COMITY_")}
        env.update(
            COMITY_HOME=str(self.settings.home),
            COMITY_PORT=str(self.settings.port),
            COMITY_SECRET_KEY=TEST_SECRET,
            COMITY_NODE_NAME=self.settings.node_name,
            COMITY_DATABASE_URL=self.settings.database_url,
        )
        env.update(self._env)
        return env

    def launch(self) -> None:
        """Start the server without waiting for it (:meth:`wait_ready`)."""
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "comity", "serve"],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )

    def wait_ready(self) -> None:
        assert self.process is not None
        health = f"{self.url}/api/v1/health"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"comity serve stopped: {self.output()}")
            try:
                httpx.get(health, timeout=1).raise_for_status()
            except httpx.HTTPError:
                time.sleep(0.1)
            else:
                return
        pytest.fail(f"comity serve did not answer within {START_TIMEOUT:.0f} s: {self.output()}")

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind, as when the machine loses power."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """Stop the server as its operator would (SIGTERM), killing it if it hangs."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]

    @contextmanager
    def opened(self) -> Iterator[Node]:
        """This node's database and keys, opened beside the server (or after it)."""
        node = Node.open(self.settings)
        try:
            yield node
        finally:
            node.close()

    def comity(self, *args: str) -> str:
        """``comity ARGS`` in the operator's shell on this node's machine; its output."""
        result = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "comity", *args],
            env=self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.comity(*args, "--json"))


def new_node(
    home: Path, database_url: str, name: str, env: Mapping[str, str] | None = None
) -> Served:
    """A node set up as ``comity init`` would (keys, schema, organisation) on a free
    loopback port, not yet started."""
    settings = load_settings(
        home=home,
        port=free_port(),
        database_url=database_url,
        secret_key=TEST_SECRET,
        node_name=name,
    )
    node, _ = initialise(settings)
    node.close()
    return Served(settings, env)


def befriend_all(nodes: Sequence[Served]) -> None:
    """Every node adds every other as a peer and confirms it by its fingerprint, as their
    administrators would with each other's descriptors."""
    for one in nodes:
        for other in nodes:
            if one is not other:
                with one.opened() as adding, other.opened() as added:
                    befriend(adding, added)


def start_all(nodes: Sequence[Served]) -> None:
    """Start the servers side by side, then wait until each answers."""
    for each in nodes:
        each.launch()
    for each in nodes:
        each.wait_ready()


def eventually(check: Callable[[], bool], what: str, *, within: float = 30.0) -> None:
    """Wait until ``check()`` holds, or fail naming ``what`` did not happen."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {within:.0f} s")
        time.sleep(0.1)
