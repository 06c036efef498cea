"""``comity records``: create, show, edit with a base revision, history, diff, restore,
delete, search with filters and saved searches, vocabularies and custom fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.test_cli import Run, as_json, cli_env, flat, invoke, ok, refused
from comity.node import Node, local_operator
from comity.settings import Settings
from comity.vault.ingest import add_file


@pytest.fixture
def run(settings: Settings, node: Node) -> Run:
    """The CLI on the initialised node of the test."""
    env = cli_env(settings)
    return lambda *args: invoke(env, *args)


def test_a_record_is_created_corrected_and_its_history_kept(run: Run) -> None:
    refused(
        run("records", "create", "incident", "--set", "title=x", "--set", "date=last spring"),
        2,
        "not a date",
    )
    created = as_json(
        run(
            "records",
            "create",
            "incident",
            "--json",
            "--set",
            "title=Shelling of the market",
            "--set",
            "date=2024-03-03T09:00/2024-03-03T10:30",
            "--set",
            "event_types=indirect-fire.artillery-mortar",
        )
    )
    record_id = created["id"]
    assert created["revision"] == 1
    assert created["earliest"] == "2024-03-03T09:00"
    refused(
        run("records", "edit", record_id, "--base-revision", "0", "--set", "place=Square"),
        1,
        "changed since revision 0",
    )
    ok(
        run(
            "records",
            "edit",
            record_id,
            "--base-revision",
            "1",
            "--set",
            "date=2024-03-04",
            "--note",
            "Witness 2 corrected the day",
        )
    )
    history = as_json(run("records", "history", record_id, "--json"))
    assert [(h["revision"], h["changed"]) for h in history][1] == (2, ["date"])
    assert history[1]["note"] == "Witness 2 corrected the day"
    changes = as_json(run("records", "diff", record_id, "2", "--json"))
    assert changes == [
        {"field": "date", "before": "2024-03-03T09:00/2024-03-03T10:30", "after": "2024-03-04"}
    ]
    ok(run("records", "restore", record_id, "1", "--base-revision", "2"))
    shown = as_json(run("records", "show", record_id, "--json"))
    assert shown["revision"] == 3
    assert shown["fields"]["date"] == "2024-03-03T09:00/2024-03-03T10:30"
    text = flat(ok(run("records", "show", record_id)).stdout)
    assert "Shelling of the market" in text
    refused(run("records", "delete", record_id, "--base-revision", "3", "--note", ""), 2, "why")
    ok(run("records", "delete", record_id, "--base-revision", "3", "--note", "Duplicate"))
    assert as_json(run("records", "show", record_id, "--json"))["deleted"] is True


def test_links_fields_files_search_and_saved_searches(run: Run, tmp_path: Path) -> None:
    person = as_json(
        run(
            "records",
            "create",
            "person",
            "--json",
            "--set",
            "name=Witness A",
            "--set",
            "protected=yes",
            "--set",
            "sex=male",
        )
    )
    fields = tmp_path / "incident.json"
    fields.write_text(
        json.dumps({"title": "Обстріл ринку", "country": "UA", "date": "2024-05"}),
        encoding="utf-8",
    )
    incident = as_json(
        run(
            "records",
            "create",
            "incident",
            "--json",
            "--fields",
            str(fields),
            "--link",
            f"witness={person['id']}",
        )
    )
    assert incident["fields"]["links"] == [{"type": "witness", "target": person["id"]}]
    refused(
        run(
            "records",
            "create",
            "act",
            "--set",
            f"incident={incident['id']}",
            "--set",
            "crimes=art8.2.b.99",
        ),
        2,
        "art8.2.b.i",
    )
    found = as_json(
        run(
            "records",
            "search",
            "ринку",
            "--kind",
            "incident",
            "--from",
            "2024",
            "--country",
            "ua",
            "--save",
            "Markets",
            "--json",
        )
    )
    assert [hit["id"] for hit in found["hits"]] == [incident["id"]]
    again = as_json(run("records", "search", "--saved", "Markets", "--json"))
    assert again == found
    refused(run("records", "search", "--saved", "Nothing"), 1, "no saved search")
    ok(
        run(
            "records",
            "edit",
            incident["id"],
            "--base-revision",
            "1",
            "--unlink",
            f"witness={person['id']}",
        )
    )
    shown = as_json(run("records", "show", incident["id"], "--json"))
    assert "links" not in shown["fields"]
    listing = flat(ok(run("records", "search", "ринку")).stdout)
    assert "1 to 1 of 1 record" in listing


def test_vocabularies_and_custom_fields(run: Run, tmp_path: Path) -> None:
    names = [v["name"] for v in as_json(run("records", "vocab", "list", "--json"))]
    assert {"rome-statute", "violation-types", "conflict-event-types", "sex"} <= set(names)
    terms = as_json(run("records", "vocab", "show", "rome-statute", "--json"))
    assert {"code": "art8.2.b.i", "parent": "art8.2.b"}.items() <= next(
        t for t in terms if t["code"] == "art8.2.b.i"
    ).items()
    own = tmp_path / "weapons.json"
    own.write_text(
        json.dumps(
            {
                "name": "weapons",
                "version": "1",
                "title": "Weapons",
                "terms": [
                    {"code": "mortar", "label": "Mortar"},
                    {"code": "rocket", "label": "Rocket"},
                ],
            }
        ),
        encoding="utf-8",
    )
    assert "2 terms added" in flat(ok(run("records", "vocab", "import", str(own))).stdout)
    refused(run("records", "vocab", "import", str(own)), 2, "already at version 1")
    own.write_text(
        json.dumps(
            {
                "name": "weapons",
                "version": "2",
                "title": "Weapons",
                "terms": [{"code": "mortar", "label": "Mortar"}],
            }
        ),
        encoding="utf-8",
    )
    assert "1 retired" in flat(ok(run("records", "vocab", "import", str(own))).stdout)
    ok(
        run(
            "records",
            "field",
            "add",
            "incident",
            "weapon",
            "--label",
            "Weapon",
            "--type",
            "term",
            "--vocabulary",
            "weapons",
        )
    )
    refused(
        run("records", "create", "incident", "--set", "title=x", "--set", "weapon=rocket"),
        2,
        "weapon: 'rocket' is not a term",
    )
    ok(run("records", "create", "incident", "--set", "title=x", "--set", "weapon=mortar"))
    listed = as_json(run("records", "field", "list", "--json"))
    assert listed[0]["name"] == "weapon"


def test_evidence_of_an_incident_and_its_acts_is_exported_for_a_court(
    run: Run, node: Node, tmp_path: Path
) -> None:
    photos = []
    for n in range(3):
        photo = tmp_path / f"photo-{n}.txt"
        photo.write_text(f"market photo {n}\n", encoding="utf-8")
        photos.append(add_file(node, local_operator(), photo).item_id)
    incident = as_json(
        run(
            "records",
            "create",
            "incident",
            "--json",
            "--set",
            "title=Market",
            "--link",
            f"evidence={photos[0]}",
        )
    )
    ok(
        run(
            "records",
            "create",
            "act",
            "--set",
            f"incident={incident['id']}",
            "--set",
            "crimes=art8.2.b.i",
            "--link",
            f"evidence={photos[1]}",
        )
    )
    refused(
        run(
            "records",
            "create",
            "act",
            "--set",
            f"incident={incident['id']}",
            "--link",
            "evidence=00000000-0000-0000-0000-000000000000",
        ),
        2,
        "no evidence item",
    )
    ok(run("ledger", "checkpoint"))
    exported = as_json(
        run(
            "evidence",
            "export",
            "--record",
            incident["id"],
            "--out",
            str(tmp_path / "pkg"),
            "--json",
        )
    )
    assert [item["id"] for item in exported["items"]] == photos[:2]
    refused(run("evidence", "export", "--out", str(tmp_path / "none")), 2, "Name the items")
