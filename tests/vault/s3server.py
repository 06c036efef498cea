"""A real S3 endpoint for the tests: moto's standalone server, started as a process on a
free loopback port, once per test session.

Two servers can be had: ``s3_server`` refuses, as Amazon S3 does, a multipart upload whose
parts (but the last) are smaller than 5 MiB; ``s3_server_small_parts`` applies the same
rule to parts of :data:`SMALL_PART` bytes, so that uploads of many parts stay small.
``s3_credentials`` gives boto3 fake credentials and nothing else to find: no profile, no
configuration file, no instance metadata, no proxy, no endpoint from the environment.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from comity.node import Node
from comity.settings import Settings, load_settings
from comity.vault.blobs_s3 import S3BlobStore
from conftest import TEST_SECRET, cannot_run

SMALL_PART = 64 * 1024
STARTUP_SECONDS = 30
# Variables through which boto3 could find real credentials, another endpoint or a proxy.
_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
)


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def reset(self) -> None:
        """Forget every bucket and object (moto's own reset call)."""
        url = f"{self.endpoint}/moto-api/reset"
        request = urllib.request.Request(url, method="POST")  # noqa: S310 - http://127.0.0.1
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the same
            answer.read()


def unused_port() -> int:
    """A loopback port nothing listens on (as long as nobody takes it meanwhile)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1) as answer:  # noqa: S310
            answer.read()
    except (urllib.error.URLError, OSError):
        return False
    return True


@contextlib.contextmanager
def moto_server(log: Path, *, min_part_size: int | None = None) -> Iterator[S3Server]:
    """A moto server for the duration of the ``with`` block; its log goes to ``log``."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        cannot_run("moto's S3 server is not installed (pip install -e '.[test]')")
    environment = {name: value for name, value in os.environ.items() if name not in _AWS_VARIABLES}
    if min_part_size is not None:
        environment["S3_UPLOAD_PART_MIN_SIZE"] = str(min_part_size)
    port = unused_port()
    endpoint = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, running moto
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _answers(endpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"moto's S3 server did not start at {endpoint}:\n{log.read_text()}")
            time.sleep(0.1)
        yield S3Server(endpoint)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# The fixtures' functions have names of their own, so that a test module imports them
# without its parameters shadowing the import.


@pytest.fixture(scope="session", name="s3_server")
def s3_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with moto_server(tmp_path_factory.mktemp("moto") / "server.log") as server:
        yield server


@pytest.fixture(scope="session", name="s3_server_small_parts")
def s3_server_small_parts_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with moto_server(log, min_part_size=SMALL_PART) as server:
        yield server


@pytest.fixture(name="s3_credentials")
def s3_credentials_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "comity-test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "comity-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def connect(server: S3Server, bucket: str, prefix: str = "") -> S3BlobStore:
    """A store built as the node builds it."""
    return S3BlobStore.connect(bucket, prefix, endpoint_url=server.endpoint, region="us-east-1")


def new_bucket(server: S3Server) -> str:
    name = f"comity-test-{uuid.uuid4().hex[:12]}"
    connect(server, name).client.create_bucket(Bucket=name)
    return name


def s3_settings(node: Node, server: S3Server, bucket: str) -> Settings:
    return load_settings(
        home=node.settings.home,
        database_url=node.settings.database_url,
        secret_key=TEST_SECRET,
        blob_store=f"s3://{bucket}/node-a",
        s3_endpoint_url=server.endpoint,
        s3_region="us-east-1",
    )


@pytest.fixture(name="s3_node")
def s3_node_fixture(node: Node, s3_server: S3Server) -> Iterator[Node]:
    """The test's node, opened again with its blobs in a bucket of the S3 server."""
    opened = Node.open(s3_settings(node, s3_server, new_bucket(s3_server)))
    yield opened
    opened.close()
    s3_server.reset()
