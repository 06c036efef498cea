"""``comity records import`` and ``export``: problems listed with exit code 2 and nothing
written, a clean file imported and linked, exports written whole and audited.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from followthemoney import model
from typer.testing import CliRunner, Result

from cli.test_cli import Run, as_json, cli_env, flat, ok, refused
from comity.cli.main import app
from comity.node import Node
from comity.settings import Settings
from factories import audit_events


@pytest.fixture
def run(settings: Settings, node: Node) -> Run:
    env = cli_env(settings)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, ["records", *args], env=env, catch_exceptions=False)

    return invoke


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_import_lists_problems_then_imports_a_clean_file(
    run: Run, node: Node, tmp_path: Path
) -> None:
    people = write(
        tmp_path / "victims.csv",
        [["Ref", "name", "sex", "Notes for us"], ["V-1", "Hana Mourad", "female", "x"]],
    )
    incidents = write(
        tmp_path / "incidents.csv",
        [
            ["reference", "title", "date", "violations", "victim"],
            ["INC-7", "Night raid", "2024-06-01", "torture", "ref:V-1"],
            ["INC-8", "", "June", "torture.beating", "V-404"],
        ],
    )
    result = run("import", str(incidents), "--kind", "incident", "--dry-run")
    assert result.exit_code == 2, result.output
    listing = flat(result.stdout)
    assert "Dry run: 5 problems in 2 of 2 rows; nothing was written." in listing
    assert "no person has the reference 'V-1'" in listing
    checked = json.loads(
        run("import", str(incidents), "--kind", "incident", "--dry-run", "--json").stdout
    )
    assert [(p["row"], p["column"]) for p in checked["problems"]] == [
        (2, "victim"),
        (3, "title"),
        (3, "victim"),
        (3, "date"),
        (3, "violations"),
    ]
    refused(run("import", str(people), "--kind", "person", "--map", "Ref"), 2, "--map as")
    refused(
        run("import", str(people), "--kind", "person", "--map", "Ref=reference", "--ignore", "Ref"),
        2,
        "both mapped and ignored",
    )
    imported = as_json(
        run(
            "import",
            str(people),
            "--kind",
            "person",
            "--map",
            "Ref=reference",
            "--ignore",
            "Notes for us",
            "--json",
        )
    )
    assert (imported["committed"], imported["created"]) == (True, 1)
    assert imported["columns"] == {"Ref": "reference", "name": "name", "sex": "sex"}
    fixed = write(
        tmp_path / "incidents-fixed.csv",
        [
            ["reference", "title", "date", "violations", "victim"],
            ["INC-7", "Night raid", "2024-06-01", "torture", "ref:V-1"],
        ],
    )
    done = flat(ok(run("import", str(fixed), "--kind", "incident")).stdout)
    assert "victim → link victim" in done
    assert "Imported 1 incident from incidents-fixed.csv." in done
    outcomes = [event.detail["outcome"] for event in audit_events(node, "records.import")]
    assert outcomes == ["checked", "checked", "imported", "imported"]
    refused(run("import", str(tmp_path / "gone.csv"), "--kind", "person"), 2, "not a file")


def test_export_csv_and_ftm_written_whole(run: Run, node: Node, tmp_path: Path) -> None:
    people = write(
        tmp_path / "people.csv",
        [["reference", "name", "protected"], ["P-1", "Rami Aziz", "yes"]],
    )
    ok(run("import", str(people), "--kind", "person"))
    incidents = write(
        tmp_path / "incidents.csv",
        [
            ["reference", "title", "date", "country", "witness"],
            ["INC-1", "=1+1", "2024-03", "UA", "P-1"],
        ],
    )
    ok(run("import", str(incidents), "--kind", "incident"))
    refused(run("export", "--out", str(tmp_path / "x.csv")), 2, "exactly one --kind")
    refused(run("export", "--format", "pdf", "--out", str(tmp_path / "x.pdf")), 2, "csv or ftm")
    refused(
        run("export", "--kind", "person", "--out", str(tmp_path / "missing" / "x.csv")),
        2,
        "does not exist",
    )
    target = tmp_path / "incidents-out.csv"
    summary = as_json(
        run(
            "export",
            "--kind",
            "incident",
            "--from",
            "2024",
            "--country",
            "UA",
            "--out",
            str(target),
            "--json",
        )
    )
    assert summary["records"] == 1
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 with the mark
    (row,) = csv.DictReader(raw.decode("utf-8-sig").splitlines())
    assert (row["title"], row["witness"]) == ("'=1+1", "ref:P-1")
    people_out = tmp_path / "people-out.csv"
    warned = ok(run("export", "--kind", "person", "--out", str(people_out)))
    assert "identifying details of 1 protected record" in flat(warned.stderr)
    entities = tmp_path / "varesh.ftm.json"
    text = flat(ok(run("export", "--format", "ftm", "--out", str(entities))).stdout)
    assert "Exported 3 entities from 2 records" in text
    for line in entities.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        assert model.get_proxy(data, cleaned=False).to_dict()["properties"] == data["properties"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    formats = [event.detail["format"] for event in audit_events(node, "records.export")]
    assert formats == ["csv", "csv", "ftm"]
