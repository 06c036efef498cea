"""Reading the tables people import records from: CSV and XLSX files, as rows of text.

:func:`read_table` gives a file's column headers and an iterator over its rows, each a
mapping of header to cell text, one per line of the sheet after the header (blank rows
included, so the importer can number rows as the file does: the header is row 1).

CSV files are read as UTF-8, with or without a byte-order mark (what spreadsheets write
as "CSV UTF-8"); the delimiter is the one of comma, semicolon and tab that the header
line holds most of (comma when it holds none). XLSX files are read streaming
(``openpyxl`` in read-only mode), from the first sheet or a named one; cells become text
as a person would type them: whole numbers without ``.0``, other numbers in their
shortest exact form, dates as ``2024-03-03`` (with ``T09:30`` when they have a time of
day), yes/no for booleans. Formulas give the value the spreadsheet last computed.

Headers are trimmed; empty headers at the end are dropped and one in the middle is named
``column N``. A header given twice is refused. A row with more cells than the header
carries the count of its extra non-empty cells under :data:`EXTRA_CELLS`, for the
importer to report.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
from collections.abc import Generator, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import IO, Any

from comity.errors import ValidationError

EXTRA_CELLS = "(cells beyond the header)"
DELIMITERS = (",", ";", "\t")
SUFFIXES = (".csv", ".xlsx")
# A cell may hold a long text field (20,000 characters) and some margin; the csv module's
# default limit is 131,072 characters.
_FIELD_LIMIT = 1_000_000

Rows = Iterator[dict[str, str]]
Records = Generator[Sequence[Any], None, None]


def _headers(cells: Sequence[Any]) -> list[str]:
    """Trimmed header names: trailing empty ones dropped, inner empty ones named, none twice."""
    names = [cell_text(cell).strip() for cell in cells]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise ValidationError("The file has no header row: its first row is empty.")
    named = [name or f"column {number}" for number, name in enumerate(names, start=1)]
    seen: dict[str, int] = {}
    for number, name in enumerate(named, start=1):
        if name in seen:
            raise ValidationError(
                f"The column '{name}' appears twice (columns {seen[name]} and {number}); "
                "give each column its own header."
            )
        seen[name] = number
    return named


def _row(headers: list[str], cells: Sequence[Any], *, texts: bool) -> dict[str, str]:
    """A row as header → text (``texts``: the cells are text already, as in a CSV file)."""
    if texts:
        row = dict(zip(headers, cells, strict=False))
    else:
        row = {header: cell_text(cell) for header, cell in zip(headers, cells, strict=False)}
    for header in headers[len(cells) :]:
        row[header] = ""
    extra = sum(1 for cell in cells[len(headers) :] if cell_text(cell).strip())
    if extra:
        row[EXTRA_CELLS] = str(extra)
    return row


def cell_text(value: Any) -> str:
    """A spreadsheet cell's value as the text a person would have typed."""
    text: str
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, dt.datetime):
        midnight = value.time() == dt.time()
        text = value.strftime("%Y-%m-%d" if midnight else "%Y-%m-%dT%H:%M")
    elif isinstance(value, dt.date):
        text = value.isoformat()
    elif isinstance(value, dt.time):
        text = value.strftime("%H:%M")
    else:
        text = str(value)
    return text


def _delimiter(header_line: str) -> str:
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_records(path: Path) -> Records:
    """The records of a CSV file, header first; the file is open only while they are read."""
    csv.field_size_limit(_FIELD_LIMIT)
    number = 0  # the record last read, as the file numbers it
    try:
        with path.open("rb") as stream:
            lines = _decoded(stream)
            first = next(lines, "")
            for cells in csv.reader(chain([first], lines), delimiter=_delimiter(first)):
                number += 1
                yield cells
    except (csv.Error, UnicodeDecodeError) as exc:
        raise _unreadable(path, number + 1, exc) from None


def _decoded(stream: IO[bytes]) -> Iterator[str]:
    """The lines of a UTF-8 file (a byte-order mark dropped), decoded one by one so that a
    byte that is not UTF-8 is found in the row that holds it."""
    for number, line in enumerate(stream):
        yield (line[3:] if number == 0 and line.startswith(codecs.BOM_UTF8) else line).decode()


def _unreadable(path: Path, row: int, exc: Exception) -> ValidationError:
    if isinstance(exc, UnicodeDecodeError):
        return ValidationError(
            f"{path.name}: row {row} is not UTF-8 text; save the file as 'CSV UTF-8' and "
            "import it again."
        )
    return ValidationError(f"{path.name}: row {row} cannot be read as CSV ({exc}).")


def _xlsx_records(path: Path, sheet: str | None) -> Records:
    """The rows of a workbook's sheet, header first; open only while they are read."""
    from openpyxl import load_workbook  # noqa: PLC0415 - only XLSX imports need it
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise ValidationError(f"{path.name} cannot be read as an XLSX workbook ({exc}).") from None
    try:
        names = book.sheetnames
        if sheet is not None and sheet not in names:
            raise ValidationError(
                f"{path.name} has no sheet named '{sheet}'. Its sheets: {', '.join(names)}."
            )
        worksheet = book[sheet] if sheet is not None else book.worksheets[0]
        # Read-only sheets trust the size the file states, which some writers get wrong.
        worksheet.reset_dimensions()
        yield from worksheet.iter_rows(values_only=True)
    finally:
        book.close()


def read_table(path: Path, *, sheet: str | None = None) -> tuple[list[str], Rows]:
    """The headers of the CSV or XLSX file at ``path`` and an iterator over its rows.

    ``sheet`` names the sheet of a workbook to read (default: the first); it is refused
    for a CSV file. The file is opened again when the rows are read, and closed when
    they are read to the end or the iterator is closed.
    """
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValidationError(
            f"{path.name}: import reads .csv and .xlsx files (save other spreadsheets as one)."
        )
    if not path.is_file():
        raise ValidationError(f"{path} is not a file that can be read.")
    if suffix == ".csv" and sheet is not None:
        raise ValidationError("A CSV file has no sheets; name a sheet only for an XLSX file.")

    def records() -> Records:
        return _xlsx_records(path, sheet) if suffix == ".xlsx" else _csv_records(path)

    opened = records()
    try:
        headers = _headers(next(opened, ()))
    finally:
        opened.close()

    def rows() -> Rows:
        reading = records()
        try:
            next(reading, None)
            for cells in reading:
                yield _row(headers, cells, texts=suffix == ".csv")
        finally:
            reading.close()

    return headers, rows()


def count_rows(path: Path, *, sheet: str | None = None) -> int | None:
    """About how many rows follow the header, for a progress bar: counted in a CSV file,
    as a workbook's sheet states it (``None`` when it does not, or cannot be read)."""
    if path.suffix.lower() == ".csv":
        try:
            return max(0, sum(1 for _ in _csv_records(path)) - 1)
        except ValidationError:
            return None
    from openpyxl import load_workbook  # noqa: PLC0415 - only XLSX imports need it

    try:
        book = load_workbook(path, read_only=True)
    except Exception:  # noqa: BLE001 - a count is only a hint; read_table reports the problem
        return None
    try:
        worksheet = book[sheet] if sheet in book.sheetnames else book.worksheets[0]
        stated = worksheet.max_row
    finally:
        book.close()
    return None if stated is None else max(0, stated - 1)
