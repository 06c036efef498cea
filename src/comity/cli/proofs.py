"""``comity ledger prove | check-proof | consistency``: inclusion and consistency proofs,
and self-contained offline proof files (with the checkpoint's RFC 3161 time-stamps, if
any) that anyone holding the log key can check without the node. Registered on the
``ledger`` group by :mod:`comity.cli.ledger`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography import x509
from rich.text import Text

from comity.cli.common import (
    JsonOutput,
    console,
    field,
    hash_list,
    opened_node,
    print_json,
    when,
)
from comity.errors import ComityError, ValidationError
from comity.ledger import rfc3161, services
from comity.ledger.errors import NoteError, TimestampError
from comity.ledger.note import NoteVerifier, b64encode
from comity.node import local_operator


class ProofRejected(ComityError):
    """An offline proof does not hold (exit 1)."""

    code = "proof_rejected"


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
        uow.commit()
    if as_json:
        print_json({"file": str(out), "index": index, "tree_size": document["tree_size"]})
        return
    log = document["log"]
    stamps = len(document.get("timestamps", []))
    console.print(
        f"Wrote the proof that entry {index} is in the log {log['origin']} at size "
        f"{document['tree_size']} to {out}"
        + (f", with the checkpoint's {stamps} time-stamp(s)" if stamps else "")
        + ".",
        soft_wrap=True,
    )
    console.print(
        f"Anyone can check it without this node: comity ledger check-proof {out} "
        f"--key '{log['vkey']}'",
        soft_wrap=True,
    )


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
    field("Leaf hash", b64encode(proof.leaf_hash))
    field("Root", b64encode(proof.root))
    hash_list("Proof", proof.proof)


def _log_key(value: str) -> str:
    try:
        NoteVerifier.from_vkey(value.strip())
    except NoteError as exc:
        raise typer.BadParameter(exc.message) from None
    return value.strip()


def _tsa_roots(path: Path | None) -> list[x509.Certificate]:
    """The certificates of the --tsa-ca file (none without it); invalid input if unusable."""
    if path is None:
        return []
    try:
        return rfc3161.read_roots(path.read_bytes(), str(path))
    except OSError as exc:
        raise ValidationError(f"--tsa-ca: cannot read {path}: {exc.strerror or exc}.") from None
    except TimestampError as exc:
        raise ValidationError(f"--tsa-ca: {exc.message}") from None


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
    tsa_ca: Annotated[
        Path | None,
        typer.Option(
            "--tsa-ca",
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="FILE",
            help="A PEM file of the root certificate(s) of the time-stamping authority you "
            "trust: the checkpoint's time-stamps must then be signed by it.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check a proof file without the node: the entry is in the log the key signs for.

    Needs no data directory and no database. Checks the checkpoint's signature with the
    key, the entry's inclusion proof against the checkpoint's root and, if the file
    carries RFC 3161 time-stamps of the checkpoint, that each covers the checkpoint's
    note; with --tsa-ca, also that each is signed by that authority. Exits with code 1
    and the reason if anything fails.

    Example: comity ledger check-proof genesis-proof.json --key 'comity/6f1c…+8a41c3f0+AT…'
    --tsa-ca freetsa-root.pem
    """
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProofRejected(f"{file} is not a proof file: {exc}") from None
    if not isinstance(document, dict):
        raise ProofRejected(f"{file} is not a proof file: it holds no JSON object.")
    roots = _tsa_roots(tsa_ca)
    try:
        checked = services.check_offline_proof(document, key, tsa_roots=roots)
    except ValidationError as exc:
        raise ProofRejected(f"The proof does not hold: {exc.message}") from None
    if roots and not checked.timestamps:
        raise ProofRejected(
            "The proof holds, but --tsa-ca was given and the file carries no time-stamp of "
            "its checkpoint."
        )
    origin = NoteVerifier.from_vkey(key).name
    console.print(
        Text.assemble(
            (
                f"Entry {checked.index} is in the log {origin} at size {checked.tree_size}",
                "bold green",
            ),
            " (checkpoint signature valid).",
        ),
        soft_wrap=True,
    )
    for stamp in checked.timestamps:
        trust = (
            "signed by the authority of --tsa-ca"
            if roots
            else "not checked who signed it: give --tsa-ca"
        )
        console.print(
            Text.assemble(
                ("Checkpoint time-stamped", "bold green"),
                f" {when(stamp.gen_time, seconds=True)} UTC by {stamp.authority} "
                f"(covers the checkpoint note; {trust}).",
            ),
            soft_wrap=True,
        )


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
    field("Old root", b64encode(proof.old_root))
    field("New root", b64encode(proof.new_root))
    hash_list("Proof", proof.proof)
