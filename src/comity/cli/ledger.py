"""``comity ledger``: the node's tamper-evident ledger (status, full verification,
inclusion and consistency proofs, offline proof files, checkpoints and their time-stamps,
witnesses) and the witnessing of other nodes' logs (follow, witness-run, alarms,
followed).

A ledger that fails verification, a proof file that does not hold, a witnessing round
that raised an alarm, and a time-stamping run the authority did not complete end the
command with exit code 1 like any refusal: the answer to the question asked is "no".
"""

from __future__ import annotations

from typing import Any

import typer
from rich.text import Text

from comity.cli import proofs as proofs_cli
from comity.cli import timestamps as timestamps_cli
from comity.cli import witnessing as witnessing_cli
from comity.cli.common import (
    JsonOutput,
    console,
    field,
    iso,
    opened_node,
    plural,
    print_json,
    progress_bar,
    when,
)
from comity.errors import ComityError
from comity.ledger import checkpoints, services, timestamping
from comity.ledger.models import (
    LedgerCheckpoint,
)
from comity.ledger.note import b64encode
from comity.ledger.verify import VerifyReport
from comity.node import local_operator

app = typer.Typer(
    help=(
        "The node's tamper-evident ledger: status, verification, proofs, checkpoints and "
        "witnesses; and witnessing other nodes' ledgers.\n\n"
        "Example: comity ledger verify && comity ledger prove 0 --out genesis-proof.json"
    ),
    no_args_is_help=True,
)
witness_app = typer.Typer(
    help=(
        "Peers that cosign this log's checkpoints.\n\n"
        "Example: comity ledger witness add 'witness.example.org+1a2b3c4d+BPsz…' "
        "--url https://witness.example.org/"
    ),
    no_args_is_help=True,
)
app.add_typer(witness_app, name="witness")


class LedgerNotIntact(ComityError):
    """Verification found problems (exit 1; the problems are printed first)."""

    code = "ledger_not_intact"


# --- status ------------------------------------------------------------------------------


def status_json(status: services.LedgerStatus) -> dict[str, Any]:
    latest = status.latest_checkpoint
    return {
        "origin": status.origin,
        "vkey": status.vkey,
        "witness_vkey": status.witness_vkey,
        "size": status.size,
        "root": b64encode(status.root),
        "latest_checkpoint": {
            "size": latest.size,
            "root": b64encode(latest.root),
            "created_at": iso(latest.created_at),
            "cosignatures": status.cosignatures,
            "timestamps": status.timestamps,
        }
        if latest is not None
        else None,
        "witnesses": status.witnesses,
        "alarms": status.alarms,
    }


@app.command()
def status(as_json: JsonOutput = False) -> None:
    """Show the log's name and key, its size and root, its latest checkpoint and witnesses.

    The log key is what others need to check this node's checkpoints and proofs, and to
    follow this log as witnesses; the witness key is what a log needs to accept this
    node's cosignatures. Give them to partners by a channel they trust.

    Example: comity ledger status --json
    """
    with opened_node() as node, node.uow() as uow:
        found = services.status(uow, local_operator(), node.keys)
    if as_json:
        print_json(status_json(found))
        return
    field("Log", found.origin)
    field("Log key", found.vkey)
    field("Witness key", found.witness_vkey)
    field("Entries", str(found.size))
    field("Root", b64encode(found.root))
    latest = found.latest_checkpoint
    if latest is None:
        field("Latest checkpoint", "none yet: run 'comity ledger checkpoint'")
    else:
        summary = (
            f"size {latest.size}, made {when(latest.created_at, seconds=True)} UTC, "
            + plural(found.cosignatures, "cosignature")
        )
        if found.timestamps:
            summary += ", " + plural(found.timestamps, "time-stamp")
        behind = found.size - latest.size
        if behind:
            summary += f"; {plural(behind, 'newer entry', 'newer entries')} not in it yet"
        field("Latest checkpoint", summary)
    field("Witnesses", str(found.witnesses))
    alarms = Text(str(found.alarms), style="bold red" if found.alarms else "")
    if found.alarms:
        alarms.append(
            " — a log was seen to fork or rewrite its history: see 'comity ledger alarms'"
        )
    field("Alarms", alarms)


# --- verify ------------------------------------------------------------------------------


def report_json(report: VerifyReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "size": report.size,
        "nodes": report.nodes,
        "checkpoints": report.checkpoints,
        "cosignatures": report.cosignatures,
        "timestamps": report.timestamps,
        "latest_checkpoint_size": report.latest_checkpoint_size,
        "root": b64encode(report.root),
        "problems": [{"where": p.where, "what": p.what} for p in report.problems],
        "more_problems": report.more_problems,
    }


def _counts(report: VerifyReport) -> str:
    latest = (
        f"latest at size {report.latest_checkpoint_size}"
        if report.latest_checkpoint_size is not None
        else "none yet"
    )
    counts = (
        f"{plural(report.size, 'entry', 'entries')}, {plural(report.nodes, 'node')}, "
        f"{plural(report.checkpoints, 'checkpoint')} ({latest}), "
        f"{plural(report.cosignatures, 'cosignature')}"
    )
    if report.timestamps:
        counts += f", {plural(report.timestamps, 'time-stamp')}"
    return counts


@app.command()
def verify(as_json: JsonOutput = False) -> None:
    """Check the whole ledger: nothing stored is trusted.

    Every leaf hash is recomputed from its entry, the tree is rebuilt from the leaves, and
    every stored node, checkpoint, signature and witness cosignature is compared with what
    the entries imply. Every time-stamp token must cover its checkpoint's note, and chain
    to the roots of COMITY_TSA_CA_FILE when that is set. Each problem is named with where
    it is; the command then exits with code 1. Run it after restoring a backup.

    Example: comity ledger verify
    """
    with (
        opened_node() as node,
        node.uow() as uow,
        progress_bar("Checking entries", enabled=not as_json) as progress,
    ):
        report = services.verify(
            uow,
            local_operator(),
            node.keys,
            tsa_roots=node.settings.tsa_roots(),
            progress=progress,
        )
    if as_json:
        print_json(report_json(report))
    elif report.ok:
        console.print(
            Text.assemble(("Ledger intact: ", "bold green"), _counts(report), " verified."),
            soft_wrap=True,
        )
        field("Root", b64encode(report.root))
    else:
        found = len(report.problems) + report.more_problems
        console.print(
            Text.assemble(
                ("The ledger is NOT intact", "bold red"),
                f": {plural(found, 'problem')} found checking {_counts(report)}.",
            ),
            soft_wrap=True,
        )
        for problem in report.problems:
            console.print(Text.assemble("  ", (problem.where, "bold"), ": ", problem.what))
        if report.more_problems:
            console.print(f"  … and {report.more_problems} more, not listed.")
    if not report.ok:
        first = str(report.problems[0]).rstrip(".")
        more = len(report.problems) + report.more_problems - 1
        raise LedgerNotIntact(
            f"The ledger is not intact: {first}"
            + (f" (and {plural(more, 'more problem')})" if more else "")
            + "."
        )


# --- checkpoints and witnesses -----------------------------------------------------------


def checkpoint_json(row: LedgerCheckpoint) -> dict[str, Any]:
    return {
        "size": row.size,
        "root": b64encode(row.root),
        "created_at": iso(row.created_at),
        "note": row.note,
    }


@app.command()
def checkpoint(as_json: JsonOutput = False) -> None:
    """Sign a checkpoint of the ledger as it is now and print its signed note.

    A checkpoint states the log's size and root under the node's key (C2SP signed note);
    witnesses cosign it. If the ledger has not grown since the last checkpoint, that one
    is printed again. When COMITY_TSA_URL is set, the checkpoints not yet time-stamped
    (this one first) are then time-stamped by that RFC 3161 authority, and what happened
    is said on standard error; an authority that cannot be reached leaves the checkpoint
    made, and 'comity ledger timestamp' tries again.

    Example: comity ledger checkpoint > checkpoint.txt
    """
    actor = local_operator()
    with opened_node() as node:
        with node.uow() as uow:
            row = checkpoints.make_checkpoint(uow, node.keys, actor)
        run = timestamping.timestamp_pending(node, actor) if node.settings.tsa_url else None
    if as_json:
        print_json(
            checkpoint_json(row) | {"timestamping": timestamps_cli.run_json(run) if run else None}
        )
        return
    # Exactly the note's bytes: no wrapping, no colours, so it can be saved and checked.
    typer.echo(row.note, nl=False)
    if run is not None:
        timestamps_cli.tell_after_checkpoint(run, row.size)


# Proofs: comity.cli.proofs. Witnessing other logs and managing our witnesses:
# comity.cli.witnessing. Time-stamping checkpoints: comity.cli.timestamps.
app.command()(proofs_cli.prove)
app.command("check-proof")(proofs_cli.check_proof)
app.command()(proofs_cli.consistency)
witness_app.command("add")(witnessing_cli.add_witness)
witness_app.command("list")(witnessing_cli.list_witnesses)
app.command()(witnessing_cli.follow)
app.command()(witnessing_cli.unfollow)
app.command("witness-run")(witnessing_cli.witness_run)
app.command()(witnessing_cli.alarms)
app.command()(witnessing_cli.followed)
app.command()(timestamps_cli.timestamp)
