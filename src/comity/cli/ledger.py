"""``comity ledger``: the node's tamper-evident ledger (status, full verification,
inclusion and consistency proofs, offline proof files, checkpoints, witnesses) and the
witnessing of other nodes' logs (follow, witness-run, alarms, followed).

A ledger that fails verification, a proof file that does not hold, and a witnessing round
that raised an alarm end the command with exit code 1 like any refusal: the answer to the
question asked is "no".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from comity.cli import witnessing as witnessing_cli
from comity.cli.common import (
    JsonOutput,
    console,
    errors,
    iso,
    opened_node,
    plural,
    print_json,
    when,
)
from comity.errors import ComityError, ValidationError
from comity.ledger import checkpoints, services
from comity.ledger.errors import NoteError
from comity.ledger.models import (
    LedgerCheckpoint,
)
from comity.ledger.note import NoteVerifier, b64encode
from comity.ledger.verify import Progress as ProgressCallback
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


class ProofRejected(ComityError):
    """An offline proof does not hold (exit 1)."""

    code = "proof_rejected"


def _label(name: str) -> Text:
    return Text(f"{name:<19}", style="bold")


def _line(name: str, value: str | Text) -> None:
    """One ``label  value`` line; long values (keys, hashes) are never broken."""
    console.print(Text.assemble(_label(name), value), soft_wrap=True)


def _hashes(name: str, values: list[bytes]) -> None:
    _line(name, plural(len(values), "hash", "hashes") + (":" if values else ""))
    for value in values:
        console.print("  " + b64encode(value), soft_wrap=True)


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
    _line("Log", found.origin)
    _line("Log key", found.vkey)
    _line("Witness key", found.witness_vkey)
    _line("Entries", str(found.size))
    _line("Root", b64encode(found.root))
    latest = found.latest_checkpoint
    if latest is None:
        _line("Latest checkpoint", "none yet: run 'comity ledger checkpoint'")
    else:
        summary = (
            f"size {latest.size}, made {when(latest.created_at, seconds=True)} UTC, "
            + plural(found.cosignatures, "cosignature")
        )
        behind = found.size - latest.size
        if behind:
            summary += f"; {plural(behind, 'newer entry', 'newer entries')} not in it yet"
        _line("Latest checkpoint", summary)
    _line("Witnesses", str(found.witnesses))
    alarms = Text(str(found.alarms), style="bold red" if found.alarms else "")
    if found.alarms:
        alarms.append(
            " — a log was seen to fork or rewrite its history: see 'comity ledger alarms'"
        )
    _line("Alarms", alarms)


# --- verify ------------------------------------------------------------------------------


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[ProgressCallback]:
    """A progress bar on standard error, gone when done; standard output stays clean."""
    bar = Progress(
        TextColumn("Checking entries"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not enabled or not errors.is_terminal,
    )
    task = bar.add_task("entries", total=None)

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield advance


def report_json(report: VerifyReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "size": report.size,
        "nodes": report.nodes,
        "checkpoints": report.checkpoints,
        "cosignatures": report.cosignatures,
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
    return (
        f"{plural(report.size, 'entry', 'entries')}, {plural(report.nodes, 'node')}, "
        f"{plural(report.checkpoints, 'checkpoint')} ({latest}), "
        f"{plural(report.cosignatures, 'cosignature')}"
    )


@app.command()
def verify(as_json: JsonOutput = False) -> None:
    """Check the whole ledger: nothing stored is trusted.

    Every leaf hash is recomputed from its entry, the tree is rebuilt from the leaves, and
    every stored node, checkpoint, signature and witness cosignature is compared with what
    the entries imply. Each problem is named with where it is; the command then exits
    with code 1. Run it after restoring a backup.

    Example: comity ledger verify
    """
    with (
        opened_node() as node,
        node.uow() as uow,
        _progress_bar(enabled=not as_json) as progress,
    ):
        report = services.verify(uow, local_operator(), node.keys, progress=progress)
    if as_json:
        print_json(report_json(report))
    elif report.ok:
        console.print(
            Text.assemble(("Ledger intact: ", "bold green"), _counts(report), " verified."),
            soft_wrap=True,
        )
        _line("Root", b64encode(report.root))
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


# --- proofs ------------------------------------------------------------------------------


def inclusion_json(proof: services.InclusionProof) -> dict[str, Any]:
    return {
        "index": proof.index,
        "tree_size": proof.tree_size,
        "leaf_hash": b64encode(proof.leaf_hash),
        "root": b64encode(proof.root),
        "proof": [b64encode(value) for value in proof.proof],
    }


def consistency_json(proof: services.ConsistencyProof) -> dict[str, Any]:
    return {
        "old_size": proof.old_size,
        "new_size": proof.new_size,
        "old_root": b64encode(proof.old_root),
        "new_root": b64encode(proof.new_root),
        "proof": [b64encode(value) for value in proof.proof],
    }


def _write_proof(out: Path, index: int, as_json: bool) -> None:
    with opened_node() as node, node.uow() as uow:
        document = services.offline_proof(uow, local_operator(), node.keys, index)
    try:
        out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
    except OSError as exc:
        raise ValidationError(f"Cannot write {out}: {exc.strerror or exc}.") from None
    if as_json:
        print_json({"file": str(out), "index": index, "tree_size": document["tree_size"]})
        return
    log = document["log"]
    console.print(
        f"Wrote the proof that entry {index} is in the log {log['origin']} at size "
        f"{document['tree_size']} to {out}.",
        soft_wrap=True,
    )
    console.print(
        f"Anyone can check it without this node: comity ledger check-proof {out} "
        f"--key '{log['vkey']}'",
        soft_wrap=True,
    )


@app.command()
def prove(
    index: Annotated[
        int, typer.Argument(help="The entry's index (0 is the genesis entry).", show_default=False)
    ],
    size: Annotated[
        int | None,
        typer.Option(help="Prove against the tree of this size (default: the current size)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            metavar="FILE",
            help="Write a self-contained offline proof (entry, proof, cosigned latest "
            "checkpoint, log key) to this file as JSON, for 'comity ledger check-proof'.",
        ),
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Prove that an entry is in the ledger (an RFC 9162 inclusion proof).

    Without --out, print the proof against the current tree (or the tree of --size).
    With --out, write a proof file against the latest checkpoint that anyone holding the
    log key can check, without access to this node.

    Example: comity ledger prove 0 --out genesis-proof.json
    """
    if out is not None:
        if size is not None:
            raise ValidationError(
                "--size does not apply with --out: a proof file is always against the "
                "latest checkpoint."
            )
        _write_proof(out, index, as_json)
        return
    with opened_node() as node, node.uow() as uow:
        proof = services.prove_inclusion(uow, local_operator(), index, size)
    if as_json:
        print_json(inclusion_json(proof))
        return
    console.print(f"Inclusion proof of entry {proof.index} in the tree of size {proof.tree_size}")
    _line("Leaf hash", b64encode(proof.leaf_hash))
    _line("Root", b64encode(proof.root))
    _hashes("Proof", proof.proof)


def _log_key(value: str) -> str:
    try:
        NoteVerifier.from_vkey(value.strip())
    except NoteError as exc:
        raise typer.BadParameter(exc.message) from None
    return value.strip()


@app.command("check-proof")
def check_proof(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="A proof file written by 'comity ledger prove INDEX --out FILE'.",
            show_default=False,
        ),
    ],
    key: Annotated[
        str,
        typer.Option(
            "--key",
            parser=_log_key,
            metavar="VKEY",
            help="The log's key ('Log key' in 'comity ledger status'), obtained from the "
            "log's operator by a channel you trust, never from the file itself.",
            show_default=False,
        ),
    ],
) -> None:
    """Check a proof file without the node: the entry is in the log the key signs for.

    Needs no data directory and no database. Checks the checkpoint's signature with the
    key and the entry's inclusion proof against the checkpoint's root; exits with code 1
    and the reason if either fails.

    Example: comity ledger check-proof genesis-proof.json --key 'comity/6f1c…+8a41c3f0+AT…'
    """
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProofRejected(f"{file} is not a proof file: {exc}") from None
    if not isinstance(document, dict):
        raise ProofRejected(f"{file} is not a proof file: it holds no JSON object.")
    try:
        index, size = services.check_offline_proof(document, key)
    except ValidationError as exc:
        raise ProofRejected(f"The proof does not hold: {exc.message}") from None
    origin = NoteVerifier.from_vkey(key).name
    console.print(
        Text.assemble(
            (f"Entry {index} is in the log {origin} at size {size}", "bold green"),
            " (checkpoint signature valid).",
        ),
        soft_wrap=True,
    )


@app.command()
def consistency(
    old: Annotated[int, typer.Argument(help="The earlier tree size.", show_default=False)],
    new: Annotated[
        int | None, typer.Argument(help="The later tree size (default: the current size).")
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Prove that the tree of size NEW extends the tree of size OLD (RFC 9162).

    Whoever saw the log at size OLD checks with this that nothing seen was changed since.

    Example: comity ledger consistency 1 12 --json
    """
    with opened_node() as node, node.uow() as uow:
        proof = services.prove_consistency(uow, old, new)
    if as_json:
        print_json(consistency_json(proof))
        return
    console.print(f"Consistency proof from size {proof.old_size} to size {proof.new_size}")
    _line("Old root", b64encode(proof.old_root))
    _line("New root", b64encode(proof.new_root))
    _hashes("Proof", proof.proof)


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
    is printed again.

    Example: comity ledger checkpoint > checkpoint.txt
    """
    with opened_node() as node, node.uow() as uow:
        row = checkpoints.make_checkpoint(uow, node.keys, local_operator())
    if as_json:
        print_json(checkpoint_json(row))
        return
    # Exactly the note's bytes: no wrapping, no colours, so it can be saved and checked.
    typer.echo(row.note, nl=False)


# Witnessing other logs and managing our witnesses: comity.cli.witnessing.
witness_app.command("add")(witnessing_cli.add_witness)
witness_app.command("list")(witnessing_cli.list_witnesses)
app.command()(witnessing_cli.follow)
app.command("witness-run")(witnessing_cli.witness_run)
app.command()(witnessing_cli.alarms)
app.command()(witnessing_cli.followed)
