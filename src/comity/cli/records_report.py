"""``comity records report``: a monitoring report for a period and a scope, written as a
self-contained HTML file or a PDF (the name's suffix decides). The report is made by
:mod:`comity.records.reports`; this command parses the options, shows what it is doing
on standard error, and writes the file beside its target first, renaming it into place
only once it is whole. Registered on the ``records`` group by :mod:`comity.cli.records`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from comity.cli.common import JsonOutput, console, errors, opened_node, plural, print_json
from comity.errors import Conflict, ValidationError
from comity.node import local_operator
from comity.records.reports import build_report, render_html, render_pdf
from comity.records.searching import parse_query

FORMATS = {".html": "HTML", ".pdf": "PDF"}


def _target(out: Path, *, force: bool) -> str:
    """The format ``out`` asks for, once it is a file we may write."""
    kind = FORMATS.get(out.suffix.lower())
    if kind is None:
        raise ValidationError(
            f"A report is written as HTML or PDF: end the file's name with .html or .pdf "
            f"(not '{out.name}').",
            fields={"out": "suffix"},
        )
    if not out.parent.is_dir():
        raise ValidationError(f"The folder {out.parent} does not exist.", fields={"out": "folder"})
    if out.exists() and not force:
        raise Conflict(f"{out} exists already; give another name, or --force to replace it.")
    return kind


def write_atomically(out: Path, data: bytes) -> None:
    """``data`` in a temporary file beside ``out``, flushed to disk, then renamed over
    ``out``: a reader sees the old file or the whole new one, never a part."""
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as writer:
            writer.write(data)
            writer.flush()
            os.fsync(writer.fileno())
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def _status(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A spinner with a line saying what is being done, on standard error; yields the
    callback that changes the line."""
    if not enabled or not errors.is_terminal:
        yield lambda _text: None
        return
    with errors.status("Reading the records…") as status:
        yield status.update


def report(
    *,
    period_from: Annotated[
        str,
        typer.Option(
            "--from", help="Start of the period: a day, month or year (2024-01-01, 2024-01, 2024)."
        ),
    ],
    period_to: Annotated[
        str,
        typer.Option("--to", help="End of the period, the same way (2024-03 ends on 31 March)."),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="The file to write: .html or .pdf decides the format."),
    ],
    title: Annotated[
        str, typer.Option(help="The report's title (default: 'Monitoring report, FROM to TO').")
    ] = "",
    country: Annotated[
        str, typer.Option(help="Only incidents in this country (ISO 3166-1 code, e.g. SY).")
    ] = "",
    region: Annotated[
        str, typer.Option(help="Only incidents in this region (first-level division), as recorded.")
    ] = "",
    term: Annotated[
        list[str] | None,
        typer.Option(
            "--term",
            help="Only incidents classified so, directly or through an act (vocabulary:code, "
            "repeatable: all must hold), e.g. rome-statute:art8.",
        ),
    ] = None,
    organisation: Annotated[
        str | None,
        typer.Option(help="The organisation named as author (default: this node's)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
    as_json: JsonOutput = False,
) -> None:
    """Write a monitoring report for a period: scope, totals, counts by crime, violation,
    month and place with charts, the list of incidents, and a methodology naming the
    vocabularies, how uncertain dates are counted and the ledger's size and root.

    The report names nobody: people are counted, never listed. An incident is in it when
    its date overlaps the period. Check later that the records behind it were not
    rewritten with 'comity ledger consistency SIZE', SIZE being the ledger size the report
    gives.

    Example: comity records report --from 2024-01 --to 2024-03 --country SY
    --term rome-statute:art8 --title 'War crimes in Syria, first quarter 2024'
    --out q1-2024.pdf
    """
    kind = _target(out, force=force)
    for given in term or []:
        if ":" not in given:
            raise ValidationError(
                f"--term {given}: write it as vocabulary:code, e.g. rome-statute:art8.",
                fields={"term": "format"},
            )
    query = parse_query({"country": country, "admin1": region, "terms": term or []})
    with opened_node() as node, _status(not as_json) as say:
        made = build_report(
            node,
            local_operator(),
            query,
            title=title or f"Monitoring report, {period_from} to {period_to}",
            period_from=period_from,
            period_to=period_to,
            author_organisation=organisation,
        )
        say(f"Laying out the {kind}…")
        data = render_pdf(made) if kind == "PDF" else render_html(made).encode()
        write_atomically(out, data)
    digest = hashlib.sha256(data).hexdigest()
    totals, ledger = made.totals, made.methodology.ledger
    if as_json:
        print_json(
            {
                "out": str(out),
                "format": kind.lower(),
                "size": len(data),
                "sha256": digest,
                "incidents": totals.incidents,
                "acts": totals.acts,
                "victims": totals.victims,
                "ledger_size": ledger.size,
                "ledger_root": ledger.root,
            }
        )
        return
    console.print(
        f"Wrote {out} ({kind}, {plural(len(data), 'byte')}): "
        f"{plural(totals.incidents, 'incident')}, {plural(totals.acts, 'act')}, "
        f"{plural(totals.victims, 'victim')} linked.",
        soft_wrap=True,
    )
    console.print(f"Ledger at {plural(ledger.size, 'entry', 'entries')}, root {ledger.root}")
    console.print(f"SHA-256 of the file: {digest}", soft_wrap=True)
