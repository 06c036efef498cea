"""A local RFC 3161 time-stamping authority for tests, offline: ``openssl ts -reply``
behind a small HTTP server on a free loopback port, with a root CA and a time-stamping
certificate (critical ``extendedKeyUsage`` timeStamping) made here with ``cryptography``.

rfc3161-client refuses tokens that carry the whole chain in OpenSSL's order and accepts
tokens that carry only the signer's certificate, so the authority adds no chain (no
``-chain`` option, no ``certs =`` in its configuration).

Used by the tests of time-stamping in ``tests/ledger``, ``tests/vault`` and ``tests/cli``:
each imports the ``authority`` fixture (:func:`authority_fixture`, or makes its own with
:func:`running_authority`), points a node at it with :func:`stamping_settings` or
:func:`with_authority`, and checks tokens independently with :func:`openssl_verify`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from comity.node import Node
from comity.settings import Settings, load_settings
from conftest import TEST_SECRET

OPENSSL_TIMEOUT = 30.0
ALL_DIGESTS = "sha256, sha384, sha512"

Answer = Callable[[bytes], tuple[int, str, bytes]]
"""A test's own answer to a query: (HTTP status, Content-Type, body)."""


@dataclass(frozen=True)
class Pki:
    """A root CA and the time-stamping certificate it issued, as PEM files."""

    root_file: Path
    signer_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signer,
        content_commitment=signer,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signer,
        crl_sign=not signer,
        encipher_only=False,
        decipher_only=False,
    )


def make_pki(directory: Path, name: str) -> Pki:
    """A root CA ``name Root`` and its time-stamping certificate ``name TSA`` (P-256)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{name} Root"))
        .issuer_name(_name(f"{name} Root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(signer=False), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{name} TSA"))
        .issuer_name(root.subject)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signer=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    pki = Pki(directory / "root.pem", directory / "tsa.pem", directory / "tsa.key")
    pki.root_file.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    pki.signer_file.write_bytes(signer.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(
        signer_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki


def _config(directory: Path, digests: str) -> str:
    return f"""[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
serial = {directory / "serial"}
crypto_device = builtin
default_policy = 1.2.3.4.1
digests = {digests}
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
signer_digest = sha256
"""


class Authority:
    """The authority: ``url`` to post queries to, ``ca_file`` its root. It keeps every
    query it received (``queries``, with their Content-Type in ``content_types``), and
    answers with ``openssl ts -reply`` unless a test sets ``answer``."""

    def __init__(self, directory: Path, name: str = "Test") -> None:
        self.directory = directory
        self.pki = make_pki(directory, name)
        (directory / "serial").write_text("01\n", encoding="ascii")
        self.queries: list[bytes] = []
        self.content_types: list[str] = []
        self.answer: Answer | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/tsr"

    @property
    def ca_file(self) -> Path:
        return self.pki.root_file

    def reply(self, query: bytes, *, digests: str = ALL_DIGESTS) -> bytes:
        """What ``openssl ts -reply`` answers to ``query`` (a DER TimeStampReq)."""
        with self._lock:  # one openssl at a time: they share the serial file
            config = self.directory / "openssl-ts.cnf"
            config.write_text(_config(self.directory, digests), encoding="ascii")
            query_file = self.directory / "query.tsq"
            reply_file = self.directory / "reply.tsr"
            query_file.write_bytes(query)
            subprocess.run(  # noqa: S603 - fixed arguments, files of this test
                [  # noqa: S607 - the openssl of the machine, as an administrator would run it
                    "openssl",
                    "ts",
                    "-reply",
                    "-config",
                    str(config),
                    "-queryfile",
                    str(query_file),
                    "-inkey",
                    str(self.pki.key_file),
                    "-signer",
                    str(self.pki.signer_file),
                    "-out",
                    str(reply_file),
                ],
                check=True,
                capture_output=True,
                timeout=OPENSSL_TIMEOUT,
            )
            return reply_file.read_bytes()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                authority.queries.append(query)
                authority.content_types.append(self.headers.get("Content-Type", ""))
                if authority.answer is not None:
                    status, content_type, body = authority.answer(query)
                else:
                    status, content_type = 200, "application/timestamp-reply"
                    body = authority.reply(query)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: pytest shows what a failing test needs."""

        return Handler

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def running_authority(directory: Path, name: str = "Test") -> Iterator[Authority]:
    authority = Authority(directory, name)
    authority.start()
    try:
        yield authority
    finally:
        authority.close()


# The fixture's function has a name of its own, so that a test module imports it without
# its parameters shadowing the import.
@pytest.fixture(name="authority")
def authority_fixture(tmp_path: Path) -> Iterator[Authority]:
    """An authority of the test's own, running on loopback."""
    with running_authority(tmp_path / "tsa") as made:
        yield made


def closed_url() -> str:
    """The URL of a loopback port nothing listens on: an authority that is down."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsr"


def stamping_settings(
    settings: Settings, url: str, ca_file: Path, *, items: bool = False
) -> Settings:
    """``settings`` with time-stamping of checkpoints (and with ``items`` of evidence items
    too) by the authority at ``url``, validated as at start."""
    assert settings.secret_key is not None
    return load_settings(
        home=settings.home,
        database_url=settings.database_url,
        secret_key=TEST_SECRET,
        node_name=settings.node_name,
        tsa_url=url,
        tsa_ca_file=ca_file,
        vault_timestamps=items,
    )


def with_authority(node: Node, url: str, ca_file: Path, *, items: bool = False) -> Node:
    """The same node (database, keys) configured with another authority or roots."""
    stamping = stamping_settings(node.settings, url, ca_file, items=items)
    return dataclasses.replace(node, settings=stamping)


def openssl_verify(note: bytes, token: bytes, ca_file: Path, directory: Path) -> str:
    """``openssl ts -verify`` of a DER token over ``note``: the independent check."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "note.txt").write_bytes(note)
    return openssl_verify_file(directory / "note.txt", token, ca_file, directory)


def openssl_verify_file(data_file: Path, token: bytes, ca_file: Path, directory: Path) -> str:
    """``openssl ts -verify -data FILE`` of a DER token: the check anyone holding the
    file can make."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "token.der").write_bytes(token)
    result = subprocess.run(  # noqa: S603 - fixed arguments, files of this test
        [  # noqa: S607 - the machine's openssl
            "openssl",
            "ts",
            "-verify",
            "-data",
            str(data_file),
            "-in",
            str(directory / "token.der"),
            "-token_in",
            "-CAfile",
            str(ca_file),
        ],
        capture_output=True,
        text=True,
        timeout=OPENSSL_TIMEOUT,
        check=False,
    )
    return result.stdout + result.stderr


def openssl_query_text(query: bytes, directory: Path) -> str:
    """``openssl ts -query -text`` of a DER request: what was asked, read independently."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "asked.tsq").write_bytes(query)
    return subprocess.run(  # noqa: S603 - fixed arguments, files of this test
        ["openssl", "ts", "-query", "-in", str(directory / "asked.tsq"), "-text"],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=OPENSSL_TIMEOUT,
        check=True,
    ).stdout
