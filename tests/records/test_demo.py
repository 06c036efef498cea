"""Demo data: invented from a seed, written whole through the bulk writer, protective of
the people it invents, searchable in every script it writes, and kept off real nodes."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner, Result

from cli.test_cli import cli_env
from comity.cli.demo import demo
from comity.cli.main import ComityGroup
from comity.identity.permissions import Actor
from comity.ledger.models import LedgerEntry
from comity.node import Node, local_operator
from comity.records import search_index
from comity.records.demo import Holdings, fill, holdings
from comity.records.demo_files import PHOTOS, STATEMENTS
from comity.records.demo_generator import plan
from comity.records.demo_stories import FICTIONAL
from comity.records.editing import create_record
from comity.records.models import Link, Record, Revision
from comity.records.schema import Kind
from comity.records.searching import SearchQuery, search
from comity.records.text import query_words
from comity.records.viewing import sealer_of
from comity.settings import Settings
from comity.vault.models import VaultItem
from factories import audit_events

NOTATIONS = {
    "exact": lambda d: "T" in d and "/" not in d,
    "day": lambda d: len(d) == 10,
    "month": lambda d: len(d) == 7,
    "year": lambda d: len(d) == 4,
    "range": lambda d: "/" in d and ".." not in d,
    "about": lambda d: d.endswith("~"),
    "before": lambda d: d.startswith("../"),
    "after": lambda d: d.endswith("/.."),
}


def _kept(values: dict[str, Any]) -> dict[str, Any]:
    """Values as a check keeps them: empty ones dropped."""
    return {name: value for name, value in values.items() if value not in ("", [], None)}


def test_the_same_seed_invents_the_same_records_and_another_seed_others() -> None:
    first = plan(5, 300)
    assert first == plan(5, 300)
    assert first != plan(6, 300)
    assert all(str(values["reference"]).startswith("DEMO-") for _, values in first)
    assert set(Counter(kind for kind, _ in first)) == set(Kind)
    dates = [v["date"] for kind, v in first if kind is Kind.INCIDENT]
    assert {name for name, shape in NOTATIONS.items() if any(shape(d) for d in dates)} == set(
        NOTATIONS
    )
    languages = {
        language
        for kind, values in first
        for language, ending in FICTIONAL.items()
        if kind is Kind.INCIDENT and values["description"].endswith(ending)
    }
    assert languages == set(FICTIONAL)


def test_the_demo_is_written_whole_through_the_bulk_writer(node: Node) -> None:
    report = fill(node, local_operator(), incidents=120, seed=7)
    planned = {str(values["reference"]): (kind, _kept(values)) for kind, values in plan(7, 120)}
    assert report.counts == dict(Counter(kind.value for kind, _ in planned.values()))
    assert report.items == PHOTOS + STATEMENTS
    assert holdings(node, local_operator()) == Holdings(demo=len(planned), other=0)
    sealer = sealer_of(node)
    with node.uow() as uow:
        session = uow.session
        records = list(session.scalars(select(Record)))
        references = {record.id: record.reference for record in records}
        evidence: dict[str, list[str]] = {}
        for record in records:
            fields = {**record.public, **sealer.open(record.id, record.revision, record.sealed)}
            links = fields.pop("links", [])
            evidence[str(record.reference)] = [
                link["target"] for link in links if link["type"] == "evidence"
            ]
            named = [
                {"type": link["type"], "target": references[link["target"]]}
                for link in links
                if link["type"] != "evidence"
            ]
            if named:
                fields["links"] = named
            if "incident" in fields:
                fields["incident"] = references[fields["incident"]]
            assert (Kind(record.kind), fields) == planned[str(record.reference)]
        batches = [
            json.loads(entry.entry)
            for entry in session.scalars(select(LedgerEntry))
            if json.loads(entry.entry)["type"] == "records.batch"
        ]
        assert sum(batch["data"]["count"] for batch in batches) == len(records)
        assert set(session.scalars(select(Revision.ledger_index))) <= {
            entry.idx for entry in session.scalars(select(LedgerEntry))
        }
        link_types = set(session.scalars(select(Link.type).distinct()))
        items = {item.id: item for item in session.scalars(select(VaultItem))}
    assert link_types == {
        "victim",
        "witness",
        "suspected_perpetrator",
        "source",
        "interviewer",
        "member_of",
        "commands",
        "part_of",
        "evidence",
        "incident",
    }
    linked = [item for targets in evidence.values() for item in targets]
    assert sorted(linked) == sorted(items)
    assert Counter(items[item].media_type for item in linked) == {
        "image/jpeg": PHOTOS,
        "text/plain": STATEMENTS,
    }
    assert all(evidence[f"DEMO-INC-{n:07d}"] for n in range(1, PHOTOS + 1))
    [started] = audit_events(node, "records.demo")
    assert started.detail == {"seed": 7, "incidents": 120, "items": PHOTOS + STATEMENTS}


def test_protected_people_never_surface_in_the_index_or_an_analysts_results(
    node: Node, analyst: Actor
) -> None:
    fill(node, local_operator(), incidents=120, seed=3, evidence=False)
    sealer = sealer_of(node)
    with node.uow() as uow:
        people = list(uow.session.scalars(select(Record).where(Record.kind == "person")))
        names = {
            person.id: sealer.open(person.id, person.revision, person.sealed)["name"]
            for person in people
        }
        protected = {person.id: person.key for person in people if person.protected}
        assert 0 < len(protected) < len(people)
        for record_id in list(protected)[:25]:
            keys, params = search_index.matching_keys(uow.session, query_words(names[record_id]))
            found = set(uow.session.scalars(keys.bindparams(**params)))
            assert not found & set(protected.values())
    for record_id in list(protected)[:25]:
        hits = search(node, analyst, SearchQuery(text=names[record_id])).hits
        assert not {hit.id for hit in hits} & set(protected)
    visible = next(record_id for record_id in names if record_id not in protected)
    hits = search(node, analyst, SearchQuery(text=names[visible], kinds=(Kind.PERSON,))).hits
    assert visible in {hit.id for hit in hits}


@pytest.mark.parametrize("language", ["ar", "uk", "fr"])
def test_searches_in_arabic_ukrainian_and_french_find_the_demo_incidents(
    node: Node, analyst: Actor, language: str
) -> None:
    fill(node, local_operator(), incidents=150, seed=11, evidence=False)
    with node.uow() as uow:
        written = {
            record.id
            for record in uow.session.scalars(select(Record).where(Record.kind == "incident"))
            if record.public["description"].endswith(FICTIONAL[language])
        }
    assert written
    query = SearchQuery(text=FICTIONAL[language], kinds=(Kind.INCIDENT,), limit=500)
    assert {hit.id for hit in search(node, analyst, query).hits} == written
    place = {"ar": "فارش", "uk": "Вареш", "fr": "Varesh"}[language]
    query = SearchQuery(text=f"{place} {FICTIONAL[language]}", admin1="Varesh", limit=500)
    assert {hit.id for hit in search(node, analyst, query).hits} <= written


def _run(settings: Settings, *args: str) -> Result:
    """``comity demo`` as the lead registers it: a command of the root group."""
    app = typer.Typer(cls=ComityGroup)
    app.command()(demo)
    app.command("other")(lambda: None)  # two commands: a group, as the real root is
    env = cli_env(settings)
    return CliRunner().invoke(app, ["demo", *args], env=env, catch_exceptions=False)


def test_the_command_keeps_demo_data_off_a_node_with_real_records(
    settings: Settings, node: Node
) -> None:
    create_record(node, local_operator(), "incident", {"title": "Shelling of the depot"})
    refused = _run(settings, "--incidents", "5", "--no-evidence")
    assert refused.exit_code == 1
    assert "not demo data" in refused.stderr
    assert holdings(node, local_operator()) == Holdings(demo=0, other=1)
    done = _run(settings, "--incidents", "5", "--no-evidence", "--seed", "2", "--yes")
    assert done.exit_code == 0, done.output
    assert "Demo data written" in done.stdout
    assert "comity serve" in done.stdout
    assert holdings(node, local_operator()).demo == len(plan(2, 5))
    again = _run(settings, "--incidents", "5", "--yes")
    assert again.exit_code == 1
    assert "already holds demo data" in again.stderr
