"""What the benchmarks between nodes share: nodes made in a work directory (own home,
SQLite database and keys), made confirmed peers of each other, and servers (``comity
serve`` or a plain baseline) run on free loopback ports for the length of a ``with``."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from comity.exchange import own_node, peers
from comity.node import Node, initialise, local_operator
from comity.settings import load_settings

SECRET = "b" * 48


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def node_env(home: Path, port: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of ``comity serve`` for the node in ``home``: the ledger's timers
    off, and ``extra`` settings."""
    return os.environ | {
        "COMITY_HOME": str(home),
        "COMITY_PORT": str(port),
        "COMITY_SECRET_KEY": SECRET,
        "COMITY_CHECKPOINT_INTERVAL_SECONDS": "0",
        "COMITY_WITNESS_INTERVAL_SECONDS": "0",
        **(extra or {}),
    }


def make_node(home: Path, port: int, name: str) -> Node:
    node, _ = initialise(load_settings(home=home, port=port, secret_key=SECRET, node_name=name))
    return node


def befriend(node: Node, other: Node) -> str:
    """``node`` adds and confirms ``other``; the other's node id."""
    with other.uow() as uow:
        signed = own_node.local_descriptor(uow.session, other.settings, other.keys)
    with node.uow() as uow:
        peers.add_peer(uow, local_operator(), signed.raw)
    with node.uow() as uow:
        peers.confirm_peer(uow, local_operator(), signed.descriptor.node, signed.fingerprint)
    return signed.descriptor.node


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"The server for {url} stopped (exit {process.returncode}).")
        try:
            httpx.get(url, timeout=1)
        except httpx.HTTPError:
            time.sleep(0.1)
        else:
            return
    raise SystemExit(f"{url} did not answer within 30 s.")


@contextmanager
def running(command: list[str], env: dict[str, str], url: str, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            wait_for(url, process)
            yield
        finally:
            process.terminate()
            process.wait(timeout=30)
