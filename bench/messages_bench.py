"""Messaging benchmark: small signed, encrypted messages between two nodes on loopback,
end to end with their receipts, against the transport's limit in the same run.

Run from the repository root (figures are appended to bench/RESULTS.md, or to the file
given with ``--results``):

    python bench/messages_bench.py                    # 2,000 messages of 512 bytes
    python bench/messages_bench.py --messages 500 --profile

Two nodes are made in ``--workdir`` (by default the system's temporary directory), each
with its own home, SQLite database and keys, confirmed peers of each other:

* **queue**: the sender seals each message (Ed25519 signature, age X25519 to the
  receiver, a copy to itself) and stores it with its delivery, one commit each, as
  ``comity messages send`` does; ``--per-conversation`` messages to a conversation;
* **deliver**: the receiver runs as ``comity serve`` on a free loopback port; the sender
  runs delivery rounds back to back in this process
  (:func:`comity.exchange.schedule.delivery_round`, what the server's timer runs, with
  the same HTTP client) until every delivery holds the receiver's signed acceptance and
  delivery receipts, verified and stored. The sender runs here, not as a second server,
  so that the figure is the rounds' work alone (the timer also sleeps
  ``COMITY_EXCHANGE_DELIVERY_INTERVAL_SECONDS`` between rounds of at most 100) and so
  that ``--profile`` can profile it; the receiver, where most of the work is, is the
  real server.

Baselines in the same run: the same envelopes posted one after another by the same
transport (``HttpEnvelopeTransport``: same httpx client, timeouts, keep-alive) to a
minimal standard-library HTTP server that reads the body and answers ``{}`` (the
transport's limit), and single-row SQLite commits with ``synchronous=FULL`` in WAL mode
(a durable commit's cost; each message costs several). ``--profile`` profiles the sender
(its delivery rounds) and the receiver (its ``receive_envelope`` on the same envelopes,
in this process, on a copy of the receiver made before the run: the server takes each
envelope in a worker thread, which ``cProfile`` does not follow) and prints where the
time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nodes import SECRET, befriend, free_port, make_node, node_env, running
from report import append_results
from sqlalchemy import func, select

from comity.exchange.inbox import receive_envelope
from comity.exchange.message_models import (
    DeliveryState,
    ExchangeDelivery,
    ExchangeInboxMessage,
    ExchangeOutboxMessage,
    ExchangeReceipt,
    ReceiptDirection,
)
from comity.exchange.outbox import send_message
from comity.exchange.schedule import delivery_round
from comity.exchange.transport import HttpEnvelopeTransport
from comity.node import Node, local_operator
from comity.settings import load_settings

GOAL = 200  # signed, encrypted, receipted messages per second

_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as uvicorn (asyncio) does

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.do_GET()

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


@dataclass(frozen=True)
class Figures:
    """Seconds for ``messages`` messages: queueing, delivery end to end, the plain
    server's posts of the same envelopes, and as many durable SQLite commits."""

    messages: int
    envelope_bytes: int
    queue: float
    deliver: float
    rounds: int
    plain_posts: float
    sqlite_commits: float


def queue(sender: Node, recipient: str, count: int, per_conversation: int, size: int) -> float:
    """Seconds to seal and store ``count`` messages to ``recipient``."""
    actor = local_operator()
    conversation: str | None = None
    started = time.perf_counter()
    for number in range(count):
        body = f"Referral {number}: ".encode().ljust(size, b".")
        sent = send_message(
            sender,
            actor,
            to=[] if conversation else [recipient],
            message_type="referral.request",
            body=body,
            conversation_id=conversation,
        )
        full = (number + 1) % per_conversation == 0
        conversation = None if full else sent.message.conversation_id
    return time.perf_counter() - started


def deliver(sender: Node) -> tuple[float, int]:
    """Seconds and rounds until no delivery is due: every one holds its receipts."""
    rounds = 0
    started = time.perf_counter()
    while delivery_round(sender).attempts:
        rounds += 1
    return time.perf_counter() - started, rounds


def check(sender: Node, receiver_home: Path, count: int) -> None:
    """Every delivery delivered, with an acceptance and a delivery receipt stored; the
    receiver holds each message once."""
    with sender.uow() as uow:
        states = dict(
            uow.session.execute(
                select(ExchangeDelivery.state, func.count()).group_by(ExchangeDelivery.state)
            ).all()
        )
        kept = uow.session.scalar(
            select(func.count())
            .select_from(ExchangeReceipt)
            .where(ExchangeReceipt.direction == ReceiptDirection.RECEIVED)
        )
    if states != {DeliveryState.DELIVERED: count} or kept != 2 * count:
        raise SystemExit(f"Not all delivered with receipts: {states}, {kept} receipts.")
    receiver = Node.open(load_settings(home=receiver_home, secret_key=SECRET))
    try:
        with receiver.uow() as uow:
            held = uow.session.scalar(select(func.count(ExchangeInboxMessage.id)))
    finally:
        receiver.close()
    if held != count:
        raise SystemExit(f"The receiver holds {held} messages, not {count}.")


def envelopes(sender: Node) -> list[bytes]:
    with sender.uow() as uow:
        return list(
            uow.session.scalars(
                select(ExchangeOutboxMessage.envelope).order_by(ExchangeOutboxMessage.created_at)
            )
        )


def plain_posts(workdir: Path, sealed: list[bytes]) -> float:
    """Seconds to post every envelope, one after another, to the plain server."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1/exchange/envelopes"
    server = [sys.executable, "-c", _SERVER, str(port)]
    with (
        running(server, dict(os.environ), url, workdir / "plain.log"),
        HttpEnvelopeTransport() as transport,
    ):
        started = time.perf_counter()
        for envelope in sealed:
            transport.post_envelope(url, envelope)
        return time.perf_counter() - started


def sqlite_commits(workdir: Path, count: int, size: int) -> float:
    """Seconds for ``count`` single-row commits of ``size`` bytes, WAL, synchronous=FULL."""
    connection = sqlite3.connect(workdir / "commits.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE row (id INTEGER PRIMARY KEY, data BLOB)")
    data = b"x" * size
    started = time.perf_counter()
    for _ in range(count):
        connection.execute("BEGIN")
        connection.execute("INSERT INTO row (data) VALUES (?)", (data,))
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def top(profiler: cProfile.Profile, title: str, lines: int = 35) -> None:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    print(f"--- {title} (cumulative) ---\n{out.getvalue()}", flush=True)


def profile_receiver(copy: Path, sealed: list[bytes]) -> None:
    """The receiver's work on every envelope, profiled in this process on ``copy``."""
    receiver = Node.open(load_settings(home=copy, secret_key=SECRET))
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        for envelope in sealed:
            receive_envelope(receiver, envelope)
        profiler.disable()
    finally:
        receiver.close()
    top(profiler, "receiver: receive_envelope")


def run(args: argparse.Namespace, workdir: Path) -> Figures:
    receiver_port, sender_port = free_port(), free_port()
    receiver_home, sender_home = workdir / "receiver", workdir / "sender"
    receiver = make_node(receiver_home, receiver_port, "Helgar Legal Aid Collective")
    sender = make_node(sender_home, sender_port, "Varesh Monitoring Network")
    recipient = befriend(sender, receiver)
    befriend(receiver, sender)
    receiver.close()
    copy = workdir / "receiver-copy"
    if args.profile:
        shutil.copytree(receiver_home, copy)
    queued = queue(sender, recipient, args.messages, args.per_conversation, args.size)
    print(f"queued {args.messages} messages in {queued:.1f} s", flush=True)
    serve = [sys.executable, "-m", "comity", "serve"]
    profiler = cProfile.Profile() if args.profile else None
    health = f"http://127.0.0.1:{receiver_port}/api/v1/health"
    # The receiver's own delivery timer stays off: it has nothing to send.
    env = node_env(receiver_home, receiver_port, {"COMITY_EXCHANGE_DELIVERY_INTERVAL_SECONDS": "0"})
    with running(serve, env, health, workdir / "receiver.log"):
        if profiler is not None:
            profiler.enable()
        delivered, rounds = deliver(sender)
        if profiler is not None:
            profiler.disable()
    check(sender, receiver_home, args.messages)
    sealed = envelopes(sender)
    sender.close()
    if profiler is not None:
        top(profiler, "sender: delivery rounds")
        profile_receiver(copy, sealed)
    return Figures(
        messages=args.messages,
        envelope_bytes=sum(len(envelope) for envelope in sealed) // len(sealed),
        queue=queued,
        deliver=delivered,
        rounds=rounds,
        plain_posts=plain_posts(workdir, sealed),
        sqlite_commits=sqlite_commits(workdir, args.messages, len(sealed[0])),
    )


def rows(figures: Figures) -> list[str]:
    count = figures.messages

    def rate(seconds: float) -> str:
        return f"{count / seconds:,.0f} messages/s ({seconds:.1f} s)"

    return [
        f"| {count:,} messages of ≈ {figures.envelope_bytes:,} bytes sealed, end to end: "
        "posted, checked and stored by the receiver (`comity serve`), acceptance and "
        f"delivery receipts verified and stored by the sender ({figures.rounds} rounds) | "
        f"**{rate(figures.deliver)}** | the same envelopes posted by the same client to a "
        f"plain server that only reads them: {rate(figures.plain_posts)} | ≥ {GOAL}/s |",
        f"| queue: seal (sign, encrypt to the receiver and to itself) and store, one commit "
        f"each | {rate(figures.queue)} | single-row SQLite commits, WAL, synchronous=FULL: "
        f"{rate(figures.sqlite_commits)} | — |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="how many to send")
    parser.add_argument("--size", type=int, default=512, help="each message's body (bytes)")
    parser.add_argument(
        "--per-conversation", type=int, default=10, help="messages in each conversation"
    )
    parser.add_argument("--profile", action="store_true", help="profile sender and receiver")
    parser.add_argument("--workdir", type=Path, help="where the nodes go (default: temp dir)")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    if args.messages < 1 or args.per_conversation < 1:
        raise SystemExit("--messages and --per-conversation must be at least 1.")
    workdir = Path(tempfile.mkdtemp(prefix="messages-bench-", dir=args.workdir))
    try:
        figures = run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for row in rows(figures):
        print(row, flush=True)
    append_results(args.results, f"Messages ({figures.messages:,} small messages)", rows(figures))


if __name__ == "__main__":
    main()
