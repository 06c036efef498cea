"""Evidence vault benchmark: ingest speed and memory against the tools' limits, same run.

Run from the repository root (figures are appended to bench/RESULTS.md, or to the file
given with ``--results``):

    python bench/vault_bench.py                        # the issue's sizes (2 GB, 10,000 files)
    python bench/vault_bench.py --large-mb 500 --small 2000      # quicker
    python bench/vault_bench.py --repeat 5 --small 0 --results /tmp/vault.md  # speed only

On the same large file, in the same run:
* ``openssl dgst -sha256 FILE``: the hashing limit (OpenSSL's SHA instructions);
* ``sha256sum FILE``: coreutils' own SHA-256, for reference;
* ``age -r RECIPIENT -o OUT FILE``: Debian's age encrypting the same bytes to disk;
* Comity's ``add_file`` (age encryption with the plaintext SHA-256 in the same pass, the
  blob written and fsynced, the item, custody row, ledger event and audit committed),
  measured inside a fresh process that reports its own time and peak resident memory, for
  a 100 MB file and for the large one (memory must stay flat between the two).

With ``--repeat N`` the large file is ingested N times, each time into a fresh node and
right after an ``openssl`` run of its own; the table gives the medians, and a line under
it every run, with the CPU time everything else on the machine used meanwhile (on a
shared machine, a run that other work slowed down shows there). Pending write-back is
flushed (``sync``) before every timed command. The files go to ``--workdir`` (by default
the system's temporary directory): put it on the disk whose speed is to be measured.

Then ``--small`` files of 10 KB each: N times as one folder, the way ``comity evidence
add FOLDER --recursive`` takes them in (batched commits; the median and every run are
given), and once, for reference, one by one (one durable transaction each), each time
into a fresh node.
Needs ``openssl``, ``sha256sum`` and ``age`` on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from report import append_results

from comity.identity.permissions import cli_actor
from comity.node import Node, initialise
from comity.settings import load_settings
from comity.vault.ingest import AddResult, add_file, add_files

MB = 1024 * 1024
CHUNK = 4 * MB

# Peak memory is the child's VmHWM: ru_maxrss would not do, since Linux keeps it across
# execve and the child would inherit the benchmark's own peak.
_CHILD = """
import json, sys, time
from pathlib import Path
from comity.identity.permissions import cli_actor
from comity.node import Node
from comity.settings import load_settings
from comity.vault.ingest import add_file

settings = load_settings(home=Path(sys.argv[1]), secret_key="b" * 48)
node = Node.open(settings)
started = time.perf_counter()
result = add_file(node, cli_actor("bench"), Path(sys.argv[2]))
elapsed = time.perf_counter() - started
node.close()
status = Path("/proc/self/status").read_text().splitlines()
peak_kb = int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
print(json.dumps({"seconds": elapsed, "peak_mb": peak_kb / 1024, "new": result.created}))
"""


def make_file(path: Path, size: int) -> None:
    """``size`` bytes that do not compress: random 4 MiB blocks, each a little different."""
    block = os.urandom(CHUNK)
    with path.open("wb") as out:
        for counter, start in enumerate(range(0, size, CHUNK)):
            out.write((counter.to_bytes(8, "big") + block[8:])[: min(CHUNK, size - start)])


def busy_seconds() -> float:
    """CPU time the whole machine has spent busy since it started (Linux)."""
    ticks = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and waiting for I/O
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def timed(command: list[str]) -> float:
    os.sync()
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # noqa: S603 - fixed tools
    return time.perf_counter() - started


def fresh_home(workdir: Path, name: str) -> Path:
    home = workdir / name
    node, _ = initialise(load_settings(home=home, secret_key="b" * 48))
    node.close()
    return home


def ingest_in_child(home: Path, path: Path) -> dict[str, float]:
    """The child's figures: ``seconds`` and ``peak_mb``, and ``cpu`` (its CPU time) and
    ``others_cpu`` (the CPU time the rest of the machine used while it ran)."""
    os.sync()
    busy = busy_seconds()
    before = os.times()
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", _CHILD, str(home), str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    after = os.times()
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = after.children_user + after.children_system
    figures["cpu"] = cpu - before.children_user - before.children_system
    figures["others_cpu"] = max(0.0, busy_seconds() - busy - figures["cpu"])
    return figures


@dataclass(frozen=True)
class LargeRun:
    """One ingest of the large file, and the ``openssl`` run just before it (MB/s)."""

    openssl: float
    ingest: float
    cpu: float
    others_cpu: float
    peak_mb: float

    @property
    def ratio(self) -> float:
        return self.ingest / self.openssl


def large_runs(workdir: Path, large: Path, repeat: int) -> list[LargeRun]:
    size_mb = large.stat().st_size / 1e6
    runs = []
    for number in range(repeat):
        openssl = timed(["openssl", "dgst", "-sha256", str(large)])
        home = fresh_home(workdir, f"large-node-{number}")
        figures = ingest_in_child(home, large)
        shutil.rmtree(home)
        runs.append(
            LargeRun(
                openssl=size_mb / openssl,
                ingest=size_mb / figures["seconds"],
                cpu=figures["cpu"],
                others_cpu=figures["others_cpu"],
                peak_mb=figures["peak_mb"],
            )
        )
    return runs


def small_files(workdir: Path, count: int, repeat: int) -> tuple[list[float], float]:
    """Files per second for ``count`` files of 10 KB: as one folder (``add_files``, what
    ``comity evidence add FOLDER --recursive`` runs: batched commits), ``repeat`` times,
    then one by one (``add_file``, one durable transaction each); each into a fresh node."""
    folder = workdir / "small"
    folder.mkdir()
    for number in range(count):
        (folder / f"photo-{number:05d}.jpg").write_bytes(
            number.to_bytes(8, "big") + os.urandom(10 * 1024 - 8)
        )
    files = sorted(folder.iterdir())
    actor = cli_actor("bench")

    def rate(name: str, ingest: Callable[[Node], list[AddResult]]) -> float:
        home = fresh_home(workdir, name)
        node = Node.open(load_settings(home=home, secret_key="b" * 48))
        subprocess.run(["sync"], check=True)  # noqa: S607 - coreutils on PATH
        started = time.perf_counter()
        results = ingest(node)
        elapsed = time.perf_counter() - started
        node.close()
        if sum(result.created for result in results) != count:
            raise SystemExit(f"{name}: not every small file became a new item.")
        shutil.rmtree(home)
        return count / elapsed

    folder_rates = [
        rate(f"folder-node-{run}", lambda node: list(add_files(node, actor, files)))
        for run in range(repeat)
    ]
    single = rate("single-node", lambda node: [add_file(node, actor, path) for path in files])
    return folder_rates, single


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large-mb", type=int, default=2048, help="size of the large file")
    parser.add_argument("--small", type=int, default=10_000, help="number of 10 KB files (0: none)")
    parser.add_argument("--repeat", type=int, default=1, help="ingests of the large file")
    parser.add_argument("--workdir", type=Path, help="where the files go (default: temp dir)")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1.")
    for tool in ("openssl", "sha256sum", "age", "age-keygen"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not on PATH (Debian: apt-get install openssl age).")

    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    with tempfile.TemporaryDirectory(prefix="comity-vault-bench-", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        large = workdir / "large.bin"
        medium = workdir / "medium.bin"
        make_file(large, args.large_mb * MB)
        make_file(medium, 100 * MB)
        size_mb = args.large_mb * MB / 1e6
        keygen = subprocess.run(
            ["age-keygen"],  # noqa: S607 - a tool on PATH, checked above
            check=True,
            capture_output=True,
            text=True,
        )
        recipient = next(
            line.split(": ", 1)[1]
            for line in keygen.stderr.splitlines() + keygen.stdout.splitlines()
            if line.startswith("Public key: ") or line.startswith("# public key: ")
        )
        coreutils = timed(["sha256sum", str(large)])
        age = timed(["age", "-r", recipient, "-o", str(workdir / "large.age"), str(large)])
        (workdir / "large.age").unlink()
        medium_run = ingest_in_child(fresh_home(workdir, "medium-node"), medium)
        runs = large_runs(workdir, large, args.repeat)
        ours = statistics.median(run.ingest for run in runs)
        openssl = statistics.median(run.openssl for run in runs)
        ratio = statistics.median(run.ratio for run in runs)
        medians = f"; medians of {len(runs)} runs" if len(runs) > 1 else ""
        say(
            f"| ingest of a {args.large_mb:,} MiB file (`add_file`: age encryption, SHA-256, "
            f"blob fsync, item + custody + ledger event + audit) | {ours:,.0f} MB/s "
            f"({ratio:.2f} of openssl{medians}) "
            f"| `openssl dgst -sha256`: {openssl:,.0f} MB/s; `sha256sum`: "
            f"{size_mb / coreutils:,.0f} MB/s; `age -r` to disk: {size_mb / age:,.0f} MB/s "
            "| ≥ 0.5 of openssl |"
        )
        say(
            f"| peak resident memory of the ingesting process | {medium_run['peak_mb']:,.0f} MB "
            f"at 100 MiB, {max(run.peak_mb for run in runs):,.0f} MB at {args.large_mb:,} MiB "
            "| — | < 150 MB, flat |"
        )
        if args.small > 0:
            folder_rates, single_rate = small_files(workdir, args.small, args.repeat)
            say(
                f"| {args.small:,} files of 10 KB in one folder (`add_files`, as `evidence add "
                f"--recursive`: batched commits) | {statistics.median(folder_rates):,.0f} "
                f"files/s{medians} | the same files one by one (`add_file`, one durable "
                f"transaction each): {single_rate:,.0f} files/s | ≥ 500 files/s |"
            )
        say("")
        say(
            "Runs of the large ingest (CPU: the ingesting process's; elsewhere: everything "
            "else on the machine meanwhile, the kernel's write-back included): "
            + "; ".join(
                f"openssl {run.openssl:,.0f} MB/s, ingest {run.ingest:,.0f} MB/s "
                f"({run.ratio:.2f}), CPU {run.cpu:.1f} s, elsewhere {run.others_cpu:.1f} s"
                for run in runs
            )
            + "."
        )
        if args.small > 0 and len(folder_rates) > 1:
            say(
                "Runs of the folder of small files: "
                + ", ".join(f"{rate:,.0f}" for rate in folder_rates)
                + " files/s."
            )

    append_results(args.results, "Evidence vault", lines)


if __name__ == "__main__":
    main()
