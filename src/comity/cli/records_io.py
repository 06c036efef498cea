"""``comity records import`` and ``comity records export``: records from and to files.

Import reads a CSV or XLSX file of one kind of record (:mod:`comity.records.importing`),
with a progress bar over its rows; every problem of every row is listed with its row and
column, and the command then ends with exit code 2 having written nothing: an import is
all or nothing. Export writes the records a search finds as CSV
(:mod:`comity.records.exporting`) or as FollowTheMoney entities for Aleph
(:mod:`comity.records.ftm`), into a temporary file beside the target that is renamed into
place only when complete. User guide: ``docs/records-import.md``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from comity.cli.common import (
    JsonOutput,
    console,
    errors,
    opened_node,
    plural,
    print_json,
    progress_bar,
    table,
)
from comity.cli.records_search import Country, DateFrom, DateTo, Region, Terms
from comity.errors import ValidationError
from comity.node import local_operator
from comity.records import exporting, ftm, searching
from comity.records.exporting import ExportReport
from comity.records.importing import ImportReport, import_rows
from comity.records.tables import count_rows, read_table

EXIT_PROBLEMS = 2
FORMATS = ("csv", "ftm")


def _mapping(maps: list[str] | None, ignored: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for option in maps or []:
        header, sep, name = option.rpartition("=")
        if not sep or not header.strip() or not name.strip():
            raise ValidationError(f"Give --map as 'Column header=field', not '{option}'.")
        mapping[header.strip()] = name.strip()
    for header in ignored or []:
        if header in mapping:
            raise ValidationError(f"The column '{header}' is both mapped and ignored.")
        mapping[header] = ""
    return mapping


def _report_json(report: ImportReport, file: Path) -> dict[str, Any]:
    return {
        "file": file.name,
        "kind": report.kind,
        "dry_run": report.dry_run,
        "committed": report.committed,
        "rows": report.rows,
        "created": report.created,
        "columns": report.columns,
        "ignored": report.ignored,
        "problems": [
            {"row": p.row, "column": p.column, "message": p.message} for p in report.problems
        ],
    }


def _print_report(report: ImportReport, file: Path) -> None:
    for header, given in report.columns.items():
        console.print(f"  {header} → {given}", soft_wrap=True)
    if report.ignored:
        console.print(f"  ignored: {', '.join(report.ignored)}", soft_wrap=True)
    if report.problems:
        rows = table("row", "column", "problem", whole=("row",))
        for problem in sorted(report.problems, key=lambda p: p.row):
            rows.add_row(str(problem.row), problem.column or "—", problem.message)
        console.print(rows)
    counted = (
        f"{plural(len(report.problems), 'problem')} in "
        f"{report.rows_with_problems} of {plural(report.rows, 'row')}"
    )
    if report.committed:
        console.print(f"Imported {plural(report.created, report.kind)} from {file.name}.")
    elif report.dry_run and not report.problems:
        console.print(
            f"Dry run: {plural(report.rows, 'row')} checked, no problems; nothing was "
            "written. Run the command again without --dry-run to import them."
        )
    elif report.dry_run:
        console.print(f"Dry run: {counted}; nothing was written.")
    else:
        console.print(
            f"Nothing was imported: {counted}. An import is all or nothing: correct the "
            "file (or map or ignore columns) and import it again."
        )


def import_records(
    file: Annotated[
        Path, typer.Argument(help="A .csv or .xlsx file: a header row, then one record a row.")
    ],
    *,
    kind: Annotated[
        str, typer.Option("--kind", help="incident, act, person, organisation or source.")
    ],
    maps: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="Read a column as a field or link type: 'Column header=field' (repeat).",
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None, typer.Option("--ignore", help="Leave this column out (repeat).")
    ] = None,
    sheet: Annotated[
        str | None, typer.Option(help="The sheet of an XLSX workbook (default: the first).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and write nothing.")
    ] = False,
    as_json: JsonOutput = False,
) -> None:
    """Import records of one kind from a CSV or XLSX file: all of them, or none.

    A column gives the field whose name or label is its header (case and spaces or
    underscores aside); link columns (victim, witness, suspected_perpetrator, source …)
    name records by reference (ref:P-17, or P-17) or id, separated by ';', among the
    records on the node and those earlier in the file. Term lists are separated by ';'.
    Every problem of every row is listed (row as the file numbers it, the header being
    row 1); if there is any, nothing is written and the exit code is 2.

    Example: comity records import victims.csv --kind person --dry-run

    Example: comity records import incidents.xlsx --kind incident --sheet 2024
    --map 'Event title=title' --map 'Victims=victim' --ignore 'Internal notes'
    """
    mapping = _mapping(maps, ignore)
    headers, rows = read_table(file, sheet=sheet)
    total = count_rows(file, sheet=sheet)
    with (
        opened_node() as node,
        progress_bar("Checking" if dry_run else "Importing", enabled=not as_json) as advance,
    ):
        report = import_rows(
            node,
            local_operator(),
            kind,
            rows,
            mapping,
            dry_run=dry_run,
            progress=lambda done: advance(done, max(total or 0, done)),
            headers=headers,
            source=file.name,
        )
    if as_json:
        print_json(_report_json(report, file))
    else:
        _print_report(report, file)
    if report.problems:
        raise typer.Exit(EXIT_PROBLEMS)


def _write_atomically(
    target: Path, write: Callable[[TextIO], ExportReport], *, bom: bool
) -> ExportReport:
    """``write`` into a private temporary file beside ``target``, renamed into place only
    once it is complete and on disk; nothing is left behind if it fails."""
    if target.is_dir():
        raise ValidationError(f"{target} is a directory; name the file to write.")
    if not target.parent.is_dir():
        raise ValidationError(f"The directory {target.parent} does not exist.")
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    try:
        encoding = "utf-8-sig" if bom else "utf-8"
        with os.fdopen(descriptor, "w", encoding=encoding, newline="") as handle:
            report = write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return report


def export_records(
    *,
    out: Annotated[Path, typer.Option("--out", "-o", help="The file to write (replaced).")],
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            help="incident, act, person, organisation or source: one for CSV; for FtM any "
            "(repeat; default all).",
        ),
    ] = None,
    format_: Annotated[
        str, typer.Option("--format", help="csv (one kind a file) or ftm (JSON lines).")
    ] = "csv",
    text: Annotated[str, typer.Option("--text", help="Only records with these words.")] = "",
    term: Terms = None,
    date_from: DateFrom = "",
    date_to: DateTo = "",
    country: Country = "",
    region: Region = "",
    as_json: JsonOutput = False,
) -> None:
    """Export the records a search finds, as you may see them: protected people's
    identifying fields are left out unless you are cleared for them.

    CSV: one kind a file, a column per field and link type, readable by 'comity records
    import'; cells a spreadsheet would run as formulas are neutralised. FtM: entities of
    the FollowTheMoney model, one JSON object a line, for Aleph ('alephclient
    write-entities') and the 'ftm' tools. The file is written beside the target and
    renamed into place when complete; the export is audited.

    Example: comity records export --kind incident --from 2024 --country UA --out incidents.csv

    Example: comity records export --format ftm --term rome-statute:art8 --out varesh.ftm.json
    """
    if format_ not in FORMATS:
        raise ValidationError(f"'{format_}' is not an export format. Choose csv or ftm.")
    kinds = kind or []
    if format_ == "csv" and len(kinds) != 1:
        raise ValidationError("A CSV export holds one kind of record: give exactly one --kind.")
    actor = local_operator()
    with opened_node() as node:
        query = searching.parse_query(
            {
                "text": text,
                "kinds": kinds,
                "terms": term or [],
                "date_from": date_from,
                "date_to": date_to,
                "country": country,
                "admin1": region,
            }
        )
        if format_ == "csv":
            report = _write_atomically(
                out,
                lambda h: exporting.export_csv(node, actor, kinds[0], query, h, target=out.name),
                bom=True,
            )
        else:
            report = _write_atomically(
                out, lambda h: ftm.export_ftm(node, actor, query, h, target=out.name), bom=False
            )
    if as_json:
        print_json(
            {
                "out": str(out),
                "format": report.format,
                "kinds": list(report.kinds),
                "records": report.records,
                "entities": report.entities,
                "withheld": report.withheld,
                "protected_identifying": report.protected_identifying,
                "ids_sha256": report.ids_sha256,
            }
        )
        return
    made = f"{plural(report.entities, 'entity', 'entities')} from " if format_ == "ftm" else ""
    console.print(f"Exported {made}{plural(report.records, 'record')} to {out}.", soft_wrap=True)
    if report.withheld:
        console.print(
            f"Identifying fields of {plural(report.withheld, 'protected record')} were left out."
        )
    if report.protected_identifying:
        held = plural(report.protected_identifying, "protected record")
        errors.print(
            f"The file holds identifying details of {held}: keep it as safe as the node's "
            "own data.",
            soft_wrap=True,
        )
