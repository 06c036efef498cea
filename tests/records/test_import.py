"""Importing records from CSV and XLSX: every problem of every row reported, all or nothing."""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import func, select

from comity.errors import PermissionDenied, ValidationError
from comity.identity.permissions import Actor
from comity.ledger.models import LedgerEntry
from comity.node import Node, local_operator
from comity.records.custom_fields import add_custom_field
from comity.records.editing import create_record
from comity.records.importing import ImportReport, Problem, import_rows
from comity.records.models import Record
from comity.records.searching import SearchQuery, search
from comity.records.tables import count_rows, read_table
from comity.records.viewing import get_record
from comity.records.vocabularies import import_vocabulary
from factories import audit_events

PEOPLE = [
    ["reference", "Name", "sex", "age", "protected"],
    ["P-1", "Amira Haddad", "female", "34", "yes"],
    ["P-2", "Yusuf Tamer", "male", "7", "no"],
]
INCIDENTS = [
    ["reference", "title", "date", "country", "violations", "victim", "witness"],
    ["INC-1", "Shelling of the market", "2024-03-03", "UA", "life.conflict-killing", "ref:P-1", ""],
    ["INC-2", "Raid on the clinic", "about 2024-05", "ua", "violation-types:torture", "P-2", "P-1"],
]


def write_csv(
    path: Path, rows: list[list[str]], *, delimiter: str = ",", bom: bool = False
) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


def run_file(
    node: Node,
    actor: Actor,
    kind: str,
    path: Path,
    *,
    dry_run: bool = False,
    mapping: dict[str, str] | None = None,
    sheet: str | None = None,
) -> ImportReport:
    headers, rows = read_table(path, sheet=sheet)
    return import_rows(
        node, actor, kind, rows, mapping, dry_run=dry_run, headers=headers, source=path.name
    )


def totals(node: Node) -> tuple[int, int]:
    with node.uow() as uow:
        return (
            uow.session.scalar(select(func.count()).select_from(Record)) or 0,
            uow.session.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
        )


def test_mixed_rows_every_problem_listed_and_nothing_written(
    node: Node, documenter: Actor, tmp_path: Path
) -> None:
    create_record(node, documenter, "person", {"name": "Known", "reference": "P-9"})
    path = write_csv(
        tmp_path / "incidents.csv",
        [
            ["reference", "title", "date", "violations", "victim", "weather"],
            ["INC-1", "Good row", "2024-03-03", "life", "ref:P-9", "rain"],
            ["INC-2", "Bad term", "2024-03", "life.shelling", "", ""],
            ["INC-3", "Bad date", "last spring", "", "", ""],
            ["INC-4", "", "2024", "", "", ""],
            ["INC-5", "Bad link", "2024", "", "ref:P-404; P-9", ""],
            ["INC-1", "Duplicate reference", "2024", "", "", ""],
            ["", "", "", "", "", ""],
            ["INC-6", "Two problems", "2024-02-30", "torture; nonsense", "", ""],
        ],
    )
    before = totals(node)
    checked = run_file(node, documenter, "incident", path, dry_run=True)
    assert [(p.row, p.column) for p in checked.problems] == [
        (1, "weather"),
        (3, "violations"),
        (4, "date"),
        (5, "title"),
        (6, "victim"),
        (7, "reference"),
        (9, "date"),
        (9, "violations"),
    ]
    messages = [p.message for p in checked.problems]
    assert messages[0].startswith("Records of kind incident have no field or link 'weather'")
    assert "'life.shelling' is not a term of the vocabulary 'violation-types'" in messages[1]
    assert "'lastspring' is not a date" in messages[2]
    assert messages[3] == "Title: is required."
    assert messages[4] == "Victim: no person has the reference 'P-404'."
    assert messages[5] == "Reference: 'INC-1' is already given on row 2."
    assert "'2024-02-30' is not a date that exists" in messages[6]
    assert "'nonsense'" in messages[7]
    assert totals(node) == before
    report = run_file(node, documenter, "incident", path)
    assert not report.committed
    assert report.created == 0
    assert report.rows == 7
    assert report.rows_with_problems == 6
    assert totals(node) == before
    assert report.problems == checked.problems
    assert "life.conflict-killing" in messages[1]  # the allowed choices, closest first
    events = audit_events(node, "records.import")
    assert [e.detail["outcome"] for e in events] == ["checked", "refused"]
    assert events[-1].detail == {
        "file": "incidents.csv",
        "kind": "incident",
        "dry_run": False,
        "rows": 7,
        "created": 0,
        "problems": 8,
        "rows_with_problems": 6,
        "outcome": "refused",
    }
    assert "Good row" not in str(events[-1].detail)


def test_a_person_file_then_an_incident_file_import_linked(
    node: Node, documenter: Actor, analyst: Actor, tmp_path: Path
) -> None:
    people = run_file(node, documenter, "person", write_csv(tmp_path / "people.csv", PEOPLE))
    assert (people.committed, people.created, people.problems) == (True, 2, [])
    incidents = run_file(
        node, documenter, "incident", write_csv(tmp_path / "incidents.csv", INCIDENTS)
    )
    assert incidents.problems == []
    assert incidents.created == 2
    acts = write_csv(
        tmp_path / "acts.csv",
        [
            ["incident", "crimes", "suspected perpetrator", "victim"],
            ["INC-2", "art8.2.a.ii; rome-statute:art7.1.f", "", "person:ref:P-2"],
        ],
    )
    assert run_file(node, documenter, "act", acts).created == 1
    found = search(node, analyst, SearchQuery(text="clinic", kinds=("incident",)))
    assert found.total == 1
    clinic = get_record(node, analyst, found.hits[0].id)
    assert clinic.fields["date"] == "2024-05~"
    assert clinic.fields["country"] == "UA"
    assert clinic.fields["violations"] == ["torture"]
    victim = get_record(node, analyst, clinic.fields["links"][0]["target"])
    assert victim.fields["reference"] == "P-2"
    assert [link["type"] for link in clinic.fields["links"]] == ["victim", "witness"]
    protected = get_record(node, analyst, clinic.fields["links"][1]["target"])
    assert protected.withheld == ("name",)
    assert [(link["type"], link["kind"]) for link in clinic.linked_from] == [("incident", "act")]
    assert search(node, analyst, SearchQuery(terms=("rome-statute:art7",))).total == 2
    assert [e.detail["outcome"] for e in audit_events(node, "records.import")] == ["imported"] * 3


def test_bom_semicolons_mapping_and_ignored_columns(
    node: Node, documenter: Actor, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "export from spreadsheet.csv",
        [
            ["Ref", "Event title", "Date", "Notes for us", "id"],
            ["X-1", "=HYPERLINK(1)", "2024-01", "internal", "whatever"],
            ["X-2", "'=SUM(A1)", "2024-02", "", ""],
        ],
        delimiter=";",
        bom=True,
    )
    headers, _ = read_table(path)
    assert headers[0] == "Ref"
    assert count_rows(path) == 2
    unmapped = run_file(node, documenter, "incident", path, dry_run=True)
    assert {p.column for p in unmapped.problems} == {"Ref", "Event title", "Notes for us", ""}
    report = run_file(
        node,
        documenter,
        "incident",
        path,
        mapping={"Ref": "reference", "Event title": "Title", "Notes for us": ""},
    )
    assert report.problems == []
    assert report.ignored == ["Notes for us", "id"]
    assert report.columns == {"Ref": "reference", "Event title": "title", "Date": "date"}
    titles = {hit.title for hit in search(node, documenter, SearchQuery(kinds=("incident",))).hits}
    assert titles == {"=HYPERLINK(1)", "=SUM(A1)"}
    with pytest.raises(ValidationError, match="which the file does not have"):
        run_file(node, documenter, "incident", path, mapping={"Nope": "title"})
    with pytest.raises(ValidationError, match="both give the field 'title'"):
        run_file(
            node, documenter, "incident", path, mapping={"Ref": "title", "Event title": "title"}
        )


def test_xlsx_cells_become_text_as_typed(node: Node, documenter: Actor, tmp_path: Path) -> None:
    book = Workbook()
    cover = book.active
    assert cover is not None
    cover.title = "Notes"
    cover.append(["nothing to import here"])
    sheet = book.create_sheet("Incidents")
    sheet.append(["Title", "Date", "Latitude", "Longitude", "Location precision (m)", None])
    sheet.append(["Checkpoint", dt.datetime(2024, 3, 3, 9, 30), 48.5, -35.25, 250.0])  # noqa: DTZ001 - cells have no zone
    sheet.append([None, None, None, None, None])
    sheet.append(["Market", dt.date(2024, 3, 4), 48, 35, 10, "stray"])
    path = tmp_path / "incidents.xlsx"
    book.save(path)
    with pytest.raises(
        ValidationError, match=r"no sheet named 'Sheet9'\. Its sheets: Notes, Incidents"
    ):
        read_table(path, sheet="Sheet9")
    report = run_file(node, documenter, "incident", path, sheet="Incidents", dry_run=True)
    assert report.problems == [Problem(4, "", "The row has 1 cell(s) past the header.")]
    headers, rows = read_table(path, sheet="Incidents")
    rows_list = list(rows)
    assert rows_list[0] == {
        "Title": "Checkpoint",
        "Date": "2024-03-03T09:30",
        "Latitude": "48.5",
        "Longitude": "-35.25",
        "Location precision (m)": "250",
    }
    assert rows_list[2]["Date"] == "2024-03-04"
    report = import_rows(
        node, documenter, "incident", rows_list[:1], None, dry_run=False, headers=headers
    )
    assert (report.committed, report.created) == (True, 1)


def test_vocabularies_are_enforced_on_import(
    node: Node, documenter: Actor, analyst: Actor, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "people.csv", [["name", "sex", "age band"], ["A", "woman", "child"]]
    )
    report = run_file(node, documenter, "person", path)
    assert [(p.column, p.message.split(".")[0]) for p in report.problems] == [
        ("sex", "sex: 'woman' is not a term of the vocabulary 'sex'")
    ]
    with pytest.raises(PermissionDenied):
        run_file(node, analyst, "person", path, dry_run=True)


def test_unreadable_files_are_refused_before_anything(tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("title\nCaf\xe9\n".encode("latin-1"))
    _, rows = read_table(latin)
    with pytest.raises(ValidationError, match=r"latin\.csv: row 2 is not UTF-8 text"):
        list(rows)
    late = tmp_path / "late.csv"
    late.write_bytes(b"title\n" + b"Market\n" * 5000 + "Caf\xe9\n".encode("latin-1"))
    _, rows = read_table(late)
    with pytest.raises(ValidationError, match="row 5002 is not UTF-8"):
        list(rows)
    twice = write_csv(tmp_path / "twice.csv", [["title", "date", "title"]])
    with pytest.raises(ValidationError, match="appears twice"):
        read_table(twice)
    with pytest.raises(ValidationError, match=r"\.csv and \.xlsx"):
        read_table(tmp_path / "incidents.ods")


DATES = {"2024-03": True, "": True, "2024-13": False, "last spring": False}
TERMS = {"": True, "life; torture": True, "bombing": False}
COUNTRIES = {"UA": True, "": True, "XX": False}
TITLES = {"Shelling": True, "": False}


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(TITLES)),
            st.sampled_from(sorted(DATES)),
            st.sampled_from(sorted(TERMS)),
            st.sampled_from(sorted(COUNTRIES)),
        ),
        max_size=8,
    )
)
def test_problem_rows_are_exactly_the_invalid_rows(
    node: Node, documenter: Actor, rows: list[tuple[str, str, str, str]]
) -> None:
    table = [
        dict(zip(("title", "date", "violations", "country"), row, strict=True)) for row in rows
    ]
    invalid = {
        number
        for number, (title, date, terms, country) in enumerate(rows, start=2)
        if any((title, date, terms, country))
        and not (TITLES[title] and DATES[date] and TERMS[terms] and COUNTRIES[country])
    }
    before = totals(node)
    checked = import_rows(node, documenter, "incident", table, None, dry_run=True)
    assert {p.row for p in checked.problems} == invalid
    assert totals(node) == before
    report = import_rows(node, documenter, "incident", table, None, dry_run=False)
    assert {p.row for p in report.problems} == invalid
    assert report.committed == (not invalid)
    written = sum(1 for row in rows if any(row)) if not invalid else 0
    assert totals(node)[0] == before[0] + written


def test_custom_fields_and_retired_terms_on_import(
    node: Node, documenter: Actor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    operator = local_operator()
    weapons = {
        "name": "weapons",
        "version": "1",
        "title": "Weapons",
        "terms": [{"code": "mortar", "label": "Mortar"}, {"code": "rocket", "label": "Rocket"}],
    }
    with node.uow() as uow:
        import_vocabulary(uow, operator, json.dumps(weapons).encode())
    add_custom_field(
        node,
        operator,
        kind="incident",
        name="weapon",
        label="Weapon used",
        type="terms",
        vocabulary="weapons",
    )
    add_custom_field(
        node, operator, kind="person", name="phone", label="Phone", type="text", identifying=True
    )
    with node.uow() as uow:
        import_vocabulary(
            uow,
            operator,
            json.dumps(weapons | {"version": "2", "terms": weapons["terms"][:1]}).encode(),
        )
    path = write_csv(
        tmp_path / "incidents.csv",
        [["title", "Weapon used"], ["Shelling", "mortar"], ["Strike", "weapons:rocket"]],
    )
    caplog.set_level(logging.DEBUG)
    report = run_file(node, documenter, "incident", path)
    assert [(p.row, p.column) for p in report.problems] == [(3, "Weapon used")]
    assert "'rocket' is not a term of the vocabulary 'weapons'" in report.problems[0].message
    people = write_csv(
        tmp_path / "people.csv", [["name", "phone", "protected"], ["Noor Aziz", "+380 1", "yes"]]
    )
    assert run_file(node, documenter, "person", people).created == 1
    assert "Noor" not in caplog.text
    assert "+380" not in caplog.text


def test_references_held_on_the_node_are_refused_row_by_row(
    node: Node, documenter: Actor, tmp_path: Path
) -> None:
    create_record(node, documenter, "incident", {"title": "Held", "reference": "INC-2"})
    create_record(node, documenter, "person", {"name": "Held", "reference": "INC-3"})
    path = write_csv(
        tmp_path / "incidents.csv",
        [
            ["reference", "title"],
            ["INC-1", "New"],
            ["  INC-2 ", "Held already"],
            ["INC-3", "A person's reference, not an incident's"],
        ],
    )
    report = run_file(node, documenter, "incident", path)
    assert not report.committed
    assert report.problems == [
        Problem(3, "reference", "Another incident already has the reference 'INC-2'.")
    ]
