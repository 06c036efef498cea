"""``comity package verify``: check an evidence package (written by ``comity evidence
export``) without the node: file hashes, the node's signature of the manifest, inclusion
proofs of the custody events against the signed checkpoint, the entries' digests and
the commitments to names and acquisition details. Every problem is named; exit 1 if any.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from comity.cli.common import JsonOutput, console, errors, print_json
from comity.errors import ComityError, ValidationError
from comity.ledger.rfc3161 import read_roots
from comity.vault.package_check import verify_package

app = typer.Typer(
    help=(
        "Evidence packages: check one written by 'comity evidence export'.\n\n"
        "Example: comity package verify case-17 --key 'comity/…+1a2b3c4d+AQ…'"
    ),
    no_args_is_help=True,
)

UNTRUSTED_KEY = (
    "WARNING: no --key given. The package was checked against the log key written in its "
    "own manifest, which proves only that it is consistent with itself, NOT that it comes "
    "from the node you think. Obtain the node's log key out of band (from its operator, "
    "by telephone or in person) and run again with --key."
)


class PackageRejected(ComityError):
    """A package does not verify (exit 1; the problems are printed first)."""

    code = "package_rejected"


@app.command()
def verify(
    directory: Annotated[Path, typer.Argument(help="The package directory.")],
    key: Annotated[
        str | None,
        typer.Option(help="The node's log key (name+id+key), obtained out of band."),
    ] = None,
    tsa_ca: Annotated[
        Path | None,
        typer.Option(
            "--tsa-ca",
            help=(
                "PEM file of the time-stamp authorities' root certificates: every RFC 3161 "
                "token in the package must then be signed by one of them."
            ),
        ),
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Check every file, signature, proof and commitment of an evidence package.

    Without --tsa-ca, time-stamp tokens are checked to cover what they should (the
    checkpoint, the file's SHA-256) and the notes say how to check their signatures.

    Example: comity package verify case-17 --key 'comity/…+1a2b3c4d+AQ…' --tsa-ca tsa.pem
    """
    roots = []
    if tsa_ca is not None:
        try:
            roots = read_roots(tsa_ca.read_bytes(), str(tsa_ca))
        except OSError as exc:
            raise ValidationError(f"Cannot read {tsa_ca}: {exc.strerror or exc}.") from None
    report = verify_package(directory, key, roots)
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "key": report.key,
                "key_trusted": report.key_trusted,
                "checkpoint_size": report.checkpoint_size,
                "items": report.items,
                "entries": report.entries,
                "problems": [{"where": p.where, "what": p.what} for p in report.problems],
                "notes": report.notes,
            }
        )
    else:
        if not report.key_trusted:
            errors.print(Text(UNTRUSTED_KEY, style="bold red"), soft_wrap=True)
        for problem in report.problems:
            console.print(f"FAIL {problem.where}: {problem.what}", soft_wrap=True)
        for note in report.notes:
            console.print(f"note {note}", soft_wrap=True)
        if report.ok:
            console.print(
                f"OK: {report.items} item(s), {report.entries} ledger entries proven in the "
                f"checkpoint of {report.checkpoint_size} entries signed by {report.key}.",
                soft_wrap=True,
            )
    if not report.ok:
        raise PackageRejected(
            f"The package {directory} does not verify: {len(report.problems)} problem(s)."
        )
