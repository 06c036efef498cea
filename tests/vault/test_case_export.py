"""The CASE/UCO provenance file of export packages: it conforms to CASE (checked with
case-utils' ``case_validate``, offline), mirrors the manifest's items and custody events,
is a pure function of the manifest with identifiers stable across packages, and is
covered by the manifest so that both verifiers name it when it changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from comity.ledger import checkpoints
from comity.node import Node, local_operator
from comity.vault.age_keys import X25519Identity
from comity.vault.case_export import case_jsonld
from comity.vault.ingest import add_file
from comity.vault.inputs import Acquisition
from comity.vault.items import download
from comity.vault.package import export_items
from comity.vault.package_check import PROVENANCE_FILE, verify_package
from conftest import cannot_run

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_package.py"
CASE_VALIDATE = Path(sys.executable).parent / "case_validate"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8
NOTES = b"Market square, 09:30, three vehicles.\n"
ABSENT = "0d7c1b5e-3f57-4c2a-9a51-7d0e6f1e2b11"


def _checkpoint(node: Node) -> None:
    with node.uow() as uow:
        checkpoints.make_checkpoint(uow, node.keys, local_operator())


def _vkey(node: Node) -> str:
    with node.uow() as uow:
        return checkpoints.verifier(uow.session, node.keys).vkey


@pytest.fixture
def item_ids(node: Node, tmp_path: Path) -> list[str]:
    """Two items, the first with acquisition details and downloaded once."""
    (tmp_path / "in").mkdir()
    photo = tmp_path / "in" / "IMG 0412.jpg"
    photo.write_bytes(PHOTO)
    notes = tmp_path / "in" / "notes.txt"
    notes.write_bytes(NOTES)
    acquired = Acquisition(
        who="Leila Haddad", when="3 May, morning", where="Varesh market", tool="phone"
    )
    first = add_file(node, local_operator(), photo, acquired).item_id
    second = add_file(node, local_operator(), notes).item_id
    download(node, local_operator(), first, tmp_path / "copy.jpg")
    _checkpoint(node)
    return [first, second]


@pytest.fixture
def package(node: Node, item_ids: list[str], tmp_path: Path) -> Path:
    out = tmp_path / "case-17"
    export_items(node, local_operator(), item_ids, out)
    return out


def _graph(directory: Path, name: str = PROVENANCE_FILE) -> dict[str, dict[str, Any]]:
    """Every node of the file ``directory / name`` by identifier, including those nested
    in others (facets, hashes, external references)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(value: object) -> None:
        if isinstance(value, dict):
            if "@type" in value and "@id" in value:
                found[value["@id"]] = value
            for member in value.values():
                walk(member)
        elif isinstance(value, list):
            for member in value:
                walk(member)

    walk(json.loads((directory / name).read_text(encoding="utf-8"))["@graph"])
    return found


def _as_derived(package: Path) -> Path:
    """The package's CASE file rebuilt as if its first item were derived from its second
    (which comes later, replacing the stand-in for it), and its second from an item that
    the package does not hold."""
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    photo, notes = manifest["items"]
    photo["derived_from"] = {"item": notes["id"], "sha256": notes["sha256"], "operation": "redact"}
    notes["derived_from"] = {"item": ABSENT, "sha256": "ab" * 32, "operation": "transcode"}
    path = package.parent / "derived.case.jsonld"
    path.write_bytes(case_jsonld(manifest))
    return path


def _of_type(graph: dict[str, dict[str, Any]], cls: str) -> list[dict[str, Any]]:
    return [node for node in graph.values() if node["@type"] == cls]


def test_the_provenance_conforms_to_case_offline(
    node: Node, item_ids: list[str], package: Path, tmp_path: Path
) -> None:
    if not CASE_VALIDATE.is_file():
        cannot_run(f"case-utils is not installed ({CASE_VALIDATE} is missing)")
    _checkpoint(node)  # covers the first export, so the same items can be exported again
    sealed = tmp_path / "sealed"
    recipient = str(X25519Identity.generate().recipient)
    export_items(node, local_operator(), item_ids, sealed, recipient=recipient)
    # Both packages (and derived copies) in one graph: each conforms, and the graphs of
    # one node's packages merge.
    graphs = [package / PROVENANCE_FILE, sealed / PROVENANCE_FILE, _as_derived(package)]
    result = subprocess.run(  # noqa: S603 - the validator of the test environment
        [str(CASE_VALIDATE), *map(str, graphs)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Conforms: True" in result.stdout
    copies = [n for n in _graph(sealed).values() if "case-investigation:wasDerivedFrom" in n]
    assert {copy["case-investigation:wasDerivedFrom"][0]["@id"] for copy in copies} == {
        f"kb:File-{item_id}" for item_id in item_ids
    }


def test_the_graph_mirrors_the_items_and_their_custody(package: Path) -> None:
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["provenance"]["path"] == PROVENANCE_FILE
    graph = _graph(package)
    files = {node["@id"]: node for node in _of_type(graph, "uco-observable:File")}
    hashes = {node["uco-types:hashValue"]["@value"] for node in _of_type(graph, "uco-types:Hash")}
    records = _of_type(graph, "case-investigation:ProvenanceRecord")
    assert {record["case-investigation:exhibitNumber"] for record in records} == {
        item["id"] for item in manifest["items"]
    }
    for item in manifest["items"]:
        assert item["sha256"] in hashes
        facets = {f["@type"]: f for f in files[f"kb:File-{item['id']}"]["uco-core:hasFacet"]}
        assert facets["uco-observable:FileFacet"]["uco-observable:fileName"] == item["name"]
        content = facets["uco-observable:ContentDataFacet"]
        assert content["uco-observable:mimeType"] == item["media_type"]
        assert content["uco-observable:sizeInBytes"]["@value"] == item["size"]

    actions = _of_type(graph, "case-investigation:InvestigativeAction")
    custody = sorted(
        (event["action"], event["actor"], event["at"])
        for item in manifest["items"]
        for event in item["custody"]
    )
    assert [event[0] for event in custody] == ["download", "ingest", "ingest"]
    recorded = sorted(
        (
            action["uco-core:name"],
            graph[action["uco-action:performer"]["@id"]]["uco-core:name"],
            action["uco-action:startTime"]["@value"],
        )
        for action in actions
        if "uco-action:startTime" in action
    )
    assert recorded == custody

    (acquisition,) = [a for a in actions if a["uco-core:name"] == "acquisition"]
    assert graph[acquisition["uco-action:performer"]["@id"]]["uco-core:name"] == "Leila Haddad"
    assert acquisition["uco-core:description"].endswith("; when: 3 May, morning.")
    assert graph[acquisition["uco-action:location"]["@id"]]["uco-core:name"] == "Varesh market"
    photo = manifest["items"][0]
    (ingest,) = [
        a
        for a in actions
        if a["uco-core:name"] == "ingest"
        and a["uco-action:object"] == [{"@id": f"kb:File-{photo['id']}"}]
    ]
    assert ingest["case-investigation:wasInformedBy"] == [{"@id": acquisition["@id"]}]


def test_the_file_is_a_function_of_the_manifest_with_stable_identifiers(
    node: Node, item_ids: list[str], package: Path, tmp_path: Path
) -> None:
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    assert case_jsonld(manifest) == (package / PROVENANCE_FILE).read_bytes()

    _checkpoint(node)
    again = tmp_path / "again"
    export_items(node, local_operator(), item_ids, again)
    first, second = _graph(package), _graph(again)
    assert set(first) < set(second)  # the same nodes, and the first export's events
    assert all(second[key] == value for key, value in first.items())
    added = [second[key] for key in set(second) - set(first)]
    assert sorted(n["uco-core:name"] for n in added if "uco-core:name" in n) == [
        "export",
        "export",
    ]


def test_a_changed_byte_in_the_provenance_is_named_by_both_verifiers(
    node: Node, package: Path
) -> None:
    vkey = _vkey(node)
    assert verify_package(package, vkey).ok
    path = package / PROVENANCE_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    report = verify_package(package, vkey)
    assert [problem.where for problem in report.problems] == [PROVENANCE_FILE]
    tool = subprocess.run(  # noqa: S603 - our own tool, on our own files
        [sys.executable, str(TOOL), str(package), "--key", vkey],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert tool.returncode == 1
    assert f"FAIL {PROVENANCE_FILE}: its SHA-256" in tool.stdout

    path.unlink()
    missing = [(p.where, p.what) for p in verify_package(package, vkey).problems]
    assert missing == [(PROVENANCE_FILE, "the file is missing")]


def test_a_derived_copy_is_derived_from_its_parent_file(package: Path) -> None:
    graph = _graph(package.parent, _as_derived(package).name)
    photo, notes = json.loads((package / "manifest.json").read_text(encoding="utf-8"))["items"]
    copy = graph[f"kb:File-{photo['id']}"]
    assert copy["case-investigation:wasDerivedFrom"] == [{"@id": f"kb:File-{notes['id']}"}]
    assert copy["uco-core:description"] == f"Derived (redact) from evidence item {notes['id']}."
    parent = graph[f"kb:File-{notes['id']}"]
    assert len(parent["uco-core:hasFacet"]) == 2  # the exported parent, not a stand-in
    assert parent["case-investigation:wasDerivedFrom"] == [{"@id": f"kb:File-{ABSENT}"}]
    (content,) = graph[f"kb:File-{ABSENT}"]["uco-core:hasFacet"]
    assert content["uco-observable:hash"][0]["uco-types:hashValue"]["@value"] == "ab" * 32
