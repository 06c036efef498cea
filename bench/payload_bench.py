"""Large payload benchmark: a file sent between two nodes on loopback, against ``curl``
uploading the same file to a plain HTTP server on loopback (the transport limit), in the
same run.

Run from the repository root (figures are appended to bench/RESULTS.md, or to the file
given with ``--results``):

    python bench/payload_bench.py                      # the issue's size, 1 GB
    python bench/payload_bench.py --size-mb 256        # quicker

Two nodes are made in ``--workdir`` (by default the system's temporary directory), each
with its own home, SQLite database and keys, confirmed peers of each other. The
receiver runs as ``comity serve`` on a free loopback port. The sender works in a child
process of its own, which reports its times and peak resident memory:

* **prepare**: ``prepare_payload`` encrypts the file once to the receiver (age, with the
  plaintext and ciphertext SHA-256 and every chunk's Merkle leaf in the same pass) into
  the sender's outgoing directory, and signs the manifest;
* **transfer**: ``send_payload`` offers the manifest and sends every 8 MiB chunk, each
  checked by the receiver against the manifest, written at its offset and fsynced before
  it is recorded; the last one completes the payload (the whole ciphertext's SHA-256 is
  checked, the file renamed into place, the receipt recorded on the receiver's ledger).

The baseline is ``curl -T FILE`` (one ``PUT``) to a minimal standard-library HTTP server
written here, in another process, that writes the body to a file on the same disk and
fsyncs it before answering: what any receiver that keeps the file durably must do. For
reference the same upload is timed against the server discarding the body (network and
HTTP only). The transfer is compared with the baseline that writes; the goal is at least
half its throughput. Pending write-back is flushed (``sync``) before every timed step.
Needs ``curl`` on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nodes import befriend, free_port, make_node, node_env, running
from report import append_results
from vault_bench import make_file

from comity.exchange.payload_send import PARALLEL_CHUNKS

MB = 1024 * 1024

_SERVER = """
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, target, discard = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "discard"

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_PUT(self):
        left = int(self.headers["Content-Length"])
        out = None if discard else open(target, "wb")
        while left:
            block = self.rfile.read(min(left, 1 << 20))
            if not block:
                break
            left -= len(block)
            if out:
                out.write(block)
        if out:
            out.flush()
            os.fsync(out.fileno())
            out.close()
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""

# The sender's side, in a process of its own: prepare, then send, each timed. Peak memory
# is the child's VmHWM (ru_maxrss would carry the benchmark's own peak across execve).
_SENDER = """
import json, sys, time
from pathlib import Path
from comity.exchange.payload_send import send_payload
from comity.exchange.payloads import prepare_payload
from comity.ledger.transport import HttpTransport
from comity.node import Node, local_operator
from comity.settings import load_settings

home, port, source, recipient = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
parallel = int(sys.argv[5])
node = Node.open(load_settings(home=home, port=port, secret_key="b" * 48))
actor = local_operator()
started = time.perf_counter()
prepared = prepare_payload(node, actor, source, [recipient])
prepared_at = time.perf_counter()
print(json.dumps({"prepare": prepared_at - started}), flush=True)
input()  # the benchmark flushes the disk before the transfer is timed
started = time.perf_counter()
with HttpTransport(read_timeout=300) as transport:
    payload_id = prepared.manifest.manifest.payload_id
    sent = send_payload(node, actor, transport, payload_id, recipient, parallel=parallel)
transfer = time.perf_counter() - started
node.close()
status = Path("/proc/self/status").read_text().splitlines()
peak_kb = int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
print(json.dumps({
    "transfer": transfer,
    "peak_mb": peak_kb / 1024,
    "status": sent.status,
    "sha256": prepared.manifest.manifest.sha256,
    "ciphertext": prepared.manifest.manifest.size,
}), flush=True)
"""


def curl_seconds(path: Path, workdir: Path, *, discard: bool) -> float:
    """Seconds for ``curl -T`` to upload ``path`` to the plain server."""
    port = free_port()
    copy = workdir / "curl-copy"
    server = [sys.executable, "-c", _SERVER, str(port), str(copy), "discard" if discard else "keep"]
    upload = ["curl", "-sS", "--fail", "-H", "Expect:", "-T", str(path)]
    with running(server, dict(os.environ), f"http://127.0.0.1:{port}/", workdir / "server.log"):
        os.sync()
        started = time.perf_counter()
        subprocess.run(  # noqa: S603 - a fixed tool and our own arguments
            [*upload, f"http://127.0.0.1:{port}/upload"], check=True, stdout=subprocess.DEVNULL
        )
        elapsed = time.perf_counter() - started
    copy.unlink(missing_ok=True)
    return elapsed


def comity_run(workdir: Path, source: Path, parallel: int) -> dict[str, float]:
    """Two nodes, the receiver served: the sender's times and peak memory."""
    receiver_port, sender_port = free_port(), free_port()
    receiver_home, sender_home = workdir / "receiver", workdir / "sender"
    receiver = make_node(receiver_home, receiver_port, "Helgar Legal Aid Collective")
    sender = make_node(sender_home, sender_port, "Varesh Monitoring Network")
    recipient = befriend(sender, receiver)
    befriend(receiver, sender)
    receiver.close()
    sender.close()
    serve = [sys.executable, "-m", "comity", "serve"]
    url = f"http://127.0.0.1:{receiver_port}/api/v1/health"
    with running(serve, node_env(receiver_home, receiver_port), url, workdir / "receiver.log"):
        child = subprocess.Popen(  # noqa: S603 - our own interpreter
            [
                sys.executable,
                "-c",
                _SENDER,
                str(sender_home),
                str(sender_port),
                str(source),
                recipient,
                str(parallel),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if child.stdin is None or child.stdout is None:
            raise SystemExit("The sender's pipes did not open.")
        os.sync()
        figures: dict[str, float] = json.loads(child.stdout.readline())
        os.sync()
        child.stdin.write("\n")
        child.stdin.flush()
        last = json.loads(child.stdout.readline())
        if child.wait() != 0 or last["status"] != "complete":
            raise SystemExit("The transfer did not complete.")
    received = receiver_home / "exchange" / "incoming" / last["sha256"]
    if received.stat().st_size != last["ciphertext"]:
        raise SystemExit("The received payload is not the size its manifest gives.")
    figures.update(transfer=last["transfer"], peak_mb=last["peak_mb"])
    figures["ciphertext"] = last["ciphertext"]
    return figures


@dataclass(frozen=True)
class Run:
    """One repetition, in seconds: curl to the server that keeps the file, then to the
    one that discards it, then Comity's prepare and transfer (fresh nodes)."""

    curl: float
    curl_discard: float
    prepare: float
    transfer: float
    peak_mb: float


def ratio(run: Run) -> float:
    """The transfer's throughput over curl's (that keeps the file), in the same run."""
    return run.curl / run.transfer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the file (MiB)")
    parser.add_argument("--repeat", type=int, default=3, help="runs (the median is reported)")
    parser.add_argument(
        "--parallel", type=int, default=PARALLEL_CHUNKS, help="chunks in flight at once"
    )
    parser.add_argument("--workdir", type=Path, help="where the files go (default: temp dir)")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is not on PATH (Debian: apt-get install curl).")
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1.")
    runs: list[Run] = []
    workdir = Path(tempfile.mkdtemp(prefix="payload-bench-", dir=args.workdir))
    try:
        source = workdir / "evidence.bin"
        make_file(source, args.size_mb * MB)
        size = source.stat().st_size
        print(f"{size / 1e6:.0f} MB in {workdir}", flush=True)
        for number in range(args.repeat):
            keep = curl_seconds(source, workdir, discard=False)
            discard = curl_seconds(source, workdir, discard=True)
            comity = comity_run(workdir / f"run-{number}", source, args.parallel)
            run = Run(keep, discard, comity["prepare"], comity["transfer"], comity["peak_mb"])
            runs.append(run)
            print(
                f"run {number + 1}: curl {size / keep / 1e6:.0f} MB/s, transfer "
                f"{size / run.transfer / 1e6:.0f} MB/s ({ratio(run):.2f} x curl), prepare "
                f"{size / run.prepare / 1e6:.0f} MB/s, sender peak {run.peak_mb:.0f} MB",
                flush=True,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    append_results(args.results, f"Large payloads ({size / 1e9:.2f} GB)", rows(size, runs))


def rows(size: int, runs: list[Run]) -> list[str]:
    """The table's rows: medians, then every run on a line of its own."""
    median = sorted(runs, key=ratio)[len(runs) // 2]

    def rate(seconds: float) -> str:
        return f"{size / seconds / 1e6:.0f} MB/s ({seconds:.1f} s)"

    label = f"{size / 1e9:.2f} GB"
    lines = [
        f"| transfer of {label} between two nodes on loopback, 8 MiB chunks each checked and "
        f"fsynced (median of {len(runs)} by ratio) | {rate(median.transfer)} | curl `PUT` to a "
        f"server that writes and fsyncs: {rate(median.curl)}; **{ratio(median):.2f} x** "
        "| ≥ 0.5 x curl |",
        f"| the same upload to a server that discards it (network and HTTP only) | — | "
        f"curl: {rate(median.curl_discard)} | — |",
        f"| prepare: encrypt once to the recipient, both SHA-256 and the chunk leaves in the "
        f"same pass, fsynced | {rate(median.prepare)} | — | — |",
        f"| sender's peak memory (prepare and transfer) | {median.peak_mb:.0f} MB | — | flat |",
    ]
    for number, run in enumerate(runs, 1):
        lines.append(
            f"| run {number} | transfer {rate(run.transfer)}, prepare {rate(run.prepare)} | "
            f"curl {rate(run.curl)}, discarding {rate(run.curl_discard)}; "
            f"{ratio(run):.2f} x | |"
        )
    return lines


if __name__ == "__main__":
    main()
