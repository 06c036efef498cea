"""Web captures kept as one item group: the files added as items and grouped with the
page's URL and capture time in one unit of work; what a WACZ says; re-running is safe;
bad input changes nothing; the group in ``evidence show``, ``group show`` and packages."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from cli.test_cli import Run, as_json, cli_env, flat, invoke, ok, refused
from comity.audit.models import Outcome
from comity.db import utcnow
from comity.errors import PermissionDenied, ValidationError
from comity.identity.permissions import Role
from comity.ledger import checkpoints
from comity.ledger.events import commitment
from comity.ledger.models import LedgerSalt
from comity.node import Node, local_operator
from comity.settings import Settings
from comity.vault.captures import add_capture, check_url, get_group
from comity.vault.ingest import add_file
from comity.vault.models import VaultCustody, VaultGroup, VaultGroupMember
from comity.vault.package_check import verify_package
from comity.vault.wacz import read_wacz
from factories import actor_for, audit_events, make_user
from vault.test_item_timestamps import resign
from vault.test_package import _tool
from vault.vaulting import ledger_entries, ledger_ok, vault_state

OPERATOR = local_operator()
URL = "https://news.example.org/varesh/market-fire"
CAPTURED = dt.datetime(2025, 3, 14, 9, 31, 7, tzinfo=dt.timezone(dt.timedelta(hours=2)))
HTML = b"<!doctype html><title>Market fire</title><p>Three vehicles.</p>\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def make_wacz(
    path: Path, pages: list[dict[str, Any]], package: dict[str, Any] | None = None
) -> Path:
    """A WACZ laid out as the specification (1.1.1) says: WARC data, the page list with
    its header line, and the data package."""
    lines = [{"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}, *pages]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.warc", b"WARC/1.1\r\nWARC-Type: warcinfo\r\n\r\n")
        archive.writestr("pages/pages.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
        described = {"profile": "data-package", "wacz_version": "1.1.1", "resources": []}
        archive.writestr("datapackage.json", json.dumps(described | (package or {})))
    return path


def inputs(folder: Path) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    (folder / "page.html").write_bytes(HTML)
    (folder / "page.png").write_bytes(PNG)
    make_wacz(
        folder / "page.wacz",
        [
            {"id": "1", "url": URL, "ts": "2025-03-14T07:31:07Z", "title": "Market fire"},
            {"id": "2", "url": "https://news.example.org/", "ts": "2025-03-14T07:32:00Z"},
        ],
    )
    return {
        role: folder / f"page.{ext}"
        for role, ext in [("html", "html"), ("screenshot", "png"), ("wacz", "wacz")]
    }


def state(node: Node) -> tuple[object, ...]:
    """Everything a refused capture must leave alone."""
    with node.uow() as uow:
        groups = uow.session.scalar(select(func.count()).select_from(VaultGroup))
        members = uow.session.scalar(select(func.count()).select_from(VaultGroupMember))
    return (vault_state(node), groups, members)


def test_a_capture_keeps_its_files_together_with_its_url_and_time(
    node: Node, tmp_path: Path
) -> None:
    files = inputs(tmp_path / "in")
    done = add_capture(node, OPERATOR, URL, CAPTURED, files, title="Market fire")
    assert done.created
    assert done.warnings == ()
    assert (done.url, done.captured_at) == (URL, CAPTURED.astimezone(dt.UTC))
    assert [role for role, _ in done.members] == ["html", "screenshot", "wacz"]
    assert all(added.created for _, added in done.members)
    assert [added.media_type for _, added in done.members] == [
        "text/plain",
        "image/png",
        "application/zip",
    ]

    view = get_group(node, OPERATOR, done.group_id)
    assert (view.group.kind, view.group.url, view.group.title) == (
        "web_capture",
        URL,
        "Market fire",
    )
    assert view.group.captured_at == CAPTURED
    assert [(role, item.id) for role, item in view.members] == [
        (role, added.item_id) for role, added in done.members
    ]

    entry = ledger_entries(node)[done.ledger_index]
    body = json.loads(entry.entry)
    assert (body["type"], body["subject"]) == (
        "evidence.capture",
        {"type": "vault_group", "id": done.group_id},
    )
    assert body["data"]["members"] == [
        {"item_id": added.item_id, "role": role, "sha256": added.sha256}
        for role, added in done.members
    ]
    # The URL and title only as commitments, which the salt opens.
    assert b"news.example.org" not in entry.entry
    assert b"Market fire" not in entry.entry
    with node.uow() as uow:
        salt = uow.session.scalar(
            select(LedgerSalt.salt).where(LedgerSalt.idx == done.ledger_index)
        )
        grouped = uow.session.scalars(
            select(VaultCustody).where(VaultCustody.action == "grouped")
        ).all()
    assert salt is not None
    assert body["commitments"]["url"] == commitment(salt, "url", URL)
    assert body["commitments"]["captured_at"] == commitment(
        salt, "captured_at", "2025-03-14T07:31:07.000000Z"
    )
    assert {(row.item_id, row.ledger_index, row.detail["role"]) for row in grouped} == {
        (added.item_id, done.ledger_index, role) for role, added in done.members
    }
    [event] = audit_events(node, "evidence.capture")
    assert (event.outcome, event.target_id) == (Outcome.SUCCESS, done.group_id)
    assert ledger_ok(node)


@pytest.mark.parametrize(
    ("package", "url", "captured"),
    [
        ({}, URL, "2025-03-14T07:31:07+00:00"),  # the first page listed
        (  # the data package's main page, at the time the page list gives it
            {"mainPageUrl": "https://news.example.org/", "mainPageDate": "2025-03-14T07:40:00Z"},
            "https://news.example.org/",
            "2025-03-14T07:32:00+00:00",
        ),
        (  # spelt as py-wacz writes it; not in the page list: the data package's time
            {"mainPageURL": "https://news.example.org/a", "mainPageDate": "2025-03-14T07:40:00Z"},
            "https://news.example.org/a",
            "2025-03-14T07:40:00+00:00",
        ),
    ],
    ids=["first page", "main page", "py-wacz main page"],
)
def test_the_wacz_gives_the_url_and_the_capture_time(
    node: Node, tmp_path: Path, package: dict[str, str], url: str, captured: str
) -> None:
    wacz = make_wacz(
        tmp_path / "page.wacz",
        [
            {"url": URL, "ts": "2025-03-14T07:31:07Z"},
            {"url": "https://news.example.org/", "ts": "20250314073200"},
        ],
        package,
    )
    done = add_capture(node, OPERATOR, None, None, {"wacz": wacz})
    assert (done.url, done.captured_at.isoformat(), done.warnings) == (url, captured, ())


def test_a_url_the_wacz_does_not_hold_is_a_warning_not_an_error(node: Node, tmp_path: Path) -> None:
    files = inputs(tmp_path / "in")
    other = "https://news.example.org/varesh/other-story"
    done = add_capture(node, OPERATOR, other, CAPTURED, files)
    assert done.created
    assert done.warnings == (f"The URL {other} is not among the pages of the WACZ.",)
    same_page = add_capture(node, OPERATOR, "HTTPS://NEWS.example.org/", CAPTURED, files)
    assert same_page.warnings == ()  # the host's case and an empty path do not count


def test_the_same_capture_again_is_the_same_group_and_records_nothing(
    node: Node, tmp_path: Path
) -> None:
    files = inputs(tmp_path / "in")
    # Interrupted after its first file: that item is reused.
    first = add_file(node, OPERATOR, files["html"])
    done = add_capture(node, OPERATOR, URL, CAPTURED, files)
    assert [added.created for _, added in done.members] == [False, True, True]
    assert done.members[0][1].item_id == first.item_id
    before = (state(node), len(ledger_entries(node)))

    again = add_capture(node, OPERATOR, URL, CAPTURED.astimezone(dt.UTC), files)
    assert not again.created
    assert (again.group_id, again.ledger_index) == (done.group_id, done.ledger_index)
    assert (state(node), len(ledger_entries(node))) == before
    assert len(audit_events(node, "evidence.capture")) == 1

    # The same files captured at another time are another capture of the same items.
    later = add_capture(node, OPERATOR, URL, CAPTURED + dt.timedelta(hours=1), files)
    assert later.created
    assert later.group_id != done.group_id
    assert [a.item_id for _, a in later.members] == [a.item_id for _, a in done.members]


def _now_plus(hours: float) -> dt.datetime:
    return utcnow() + dt.timedelta(hours=hours)


Case = Callable[[dict[str, Path], Path], dict[str, Any]]
BAD: list[tuple[str, Case, str]] = [
    ("ftp", lambda f, _: {"url": "ftp://example.org/x", "files": f}, "is not the http:// or"),
    ("script", lambda f, _: {"url": "javascript:alert(1)", "files": f}, "is not the http://"),
    ("no host", lambda f, _: {"url": "https:///path", "files": f}, "is not the http://"),
    ("control", lambda f, _: {"url": URL + "\x07", "files": f}, "control character U+0007"),
    ("bidi", lambda f, _: {"url": URL + "\u202egpj", "files": f}, "control character U+202E"),
    ("space", lambda f, _: {"url": URL + " x", "files": f}, "contains white space"),
    ("long", lambda f, _: {"url": URL + "/" + "a" * 2048, "files": f}, "at most 2048"),
    ("future", lambda f, _: {"captured_at": _now_plus(1), "files": f}, "is in the future"),
    (
        "naive",
        lambda f, _: {"captured_at": dt.datetime(2025, 3, 14, 9, 31), "files": f},  # noqa: DTZ001
        "has no time zone",
    ),
    (
        "two html",
        lambda f, t: {"files": f | {"html": [f["html"], t / "b.html"]}},
        "at most one html",
    ),
    ("missing", lambda f, t: {"files": f | {"other": t / "gone.pdf"}}, "gone.pdf does not exist"),
    ("empty", lambda f, t: {"files": f | {"other": t / "empty.txt"}}, "empty.txt is empty"),
    ("role", lambda f, _: {"files": f | {"pdf": f["html"]}}, "Unknown role 'pdf'"),
    ("no files", lambda _f, _t: {"files": {}}, "needs at least one file"),
    ("twice", lambda f, _: {"files": f | {"other": f["html"]}}, "is given twice"),
    ("title", lambda f, _: {"files": f, "title": "Fire\x1b[2J"}, "control character U+001B"),
    (
        "no url",
        lambda _f, t: {"url": None, "files": {"wacz": make_wacz(t / "none.wacz", [])}},
        "Give the URL of the captured page (--url): the WACZ names no page.",
    ),
    (
        "no time",
        lambda f, _: {"captured_at": None, "files": {"html": f["html"]}},
        "Give the capture time (--captured-at, with its time zone): there is no WACZ.",
    ),
    (
        "wacz future",
        lambda _f, t: {
            "captured_at": None,
            "files": {"wacz": make_wacz(t / "f.wacz", [{"url": URL, "ts": "2999-01-01T00:00Z"}])},
        },
        "The WACZ's time 2999-01-01T00:00:00+00:00 is in the future",
    ),
]


@pytest.mark.parametrize(
    ("case", "what"), [(make, what) for _, make, what in BAD], ids=[b[0] for b in BAD]
)
def test_bad_input_is_refused_and_nothing_is_written(
    node: Node, tmp_path: Path, case: Case, what: str
) -> None:
    files: dict[str, Any] = dict(inputs(tmp_path / "in"))
    (tmp_path / "b.html").write_bytes(b"<p>another</p>\n")
    (tmp_path / "empty.txt").write_bytes(b"")
    given = {"url": URL, "captured_at": CAPTURED, "title": ""} | case(files, tmp_path)
    before = state(node)
    with pytest.raises(ValidationError) as refused_:
        add_capture(
            node, OPERATOR, given["url"], given["captured_at"], given["files"], title=given["title"]
        )
    assert what in refused_.value.message
    assert state(node) == before


def test_files_with_the_same_bytes_make_no_group(node: Node, tmp_path: Path) -> None:
    files = inputs(tmp_path / "in")
    copy = tmp_path / "copy.html"
    copy.write_bytes(HTML)
    with pytest.raises(ValidationError, match=r"copy\.html has the same bytes as .*page\.html"):
        add_capture(node, OPERATOR, URL, CAPTURED, files | {"other": copy})
    assert state(node)[1:] == (0, 0)  # the files are kept as items; no group
    assert add_capture(node, OPERATOR, URL, CAPTURED, files).created


def test_only_those_who_add_evidence_capture(node: Node, tmp_path: Path) -> None:
    files = inputs(tmp_path / "in")
    analyst = actor_for(make_user(node, Role.ANALYST))
    before = state(node)
    with pytest.raises(PermissionDenied):
        add_capture(node, analyst, URL, CAPTURED, files)
    assert state(node) == before
    [event] = audit_events(node, "evidence.capture")
    assert event.outcome == Outcome.DENIED


@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000))
def test_reading_any_bytes_as_a_wacz_never_raises(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "any.wacz"
    path.write_bytes(data)
    summary = read_wacz(path)
    assert summary.problem is not None or summary.pages == ()


@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pages=st.text(max_size=300), package=st.text(max_size=200))
def test_any_page_list_and_data_package_are_read_or_named_as_a_problem(
    tmp_path: Path, pages: str, package: str
) -> None:
    path = tmp_path / "pages.wacz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pages/pages.jsonl", pages)
        archive.writestr("datapackage.json", package)
    summary = read_wacz(path)
    for page in summary.pages:
        assert page.url
        assert page.captured_at is None or page.captured_at.tzinfo == dt.UTC


@given(st.text(max_size=100) | st.text(max_size=60).map(lambda rest: "https://" + rest))
def test_any_text_is_a_web_url_or_refused_with_a_reason(text: str) -> None:
    try:
        accepted = check_url(text)
    except ValidationError as exc:
        reason = exc.message
    else:
        assert accepted == text
        reason = "" if text.lower().startswith(("http://", "https://")) else "not a web URL"
    assert reason or text.lower().startswith(("http://", "https://"))


# --- the command line and packages ------------------------------------------------------


@pytest.fixture
def run(settings: Settings) -> Run:
    env = cli_env(settings)
    return lambda *args: invoke(env, *args)


def test_cli_capture_show_group_and_export(node: Node, run: Run, tmp_path: Path) -> None:
    files = inputs(tmp_path / "in")
    done = as_json(
        run(
            "evidence", "capture", "--url", URL, "--captured-at", "2025-03-14T09:31:07+02:00",
            "--html", str(files["html"]), "--screenshot", str(files["screenshot"]),
            "--wacz", str(files["wacz"]), "--title", "Market fire", "--tool", "Browsertrix",
            "--json",
        )
    )  # fmt: skip
    assert done["created"] is True
    assert done["captured_at"] == "2025-03-14T07:31:07+00:00"
    assert [m["role"] for m in done["members"]] == ["html", "screenshot", "wacz"]
    group_id, html_id = done["group"], done["members"][0]["id"]

    again = ok(
        run(
            "evidence",
            "capture",
            "--wacz",
            str(files["wacz"]),
            "--html",
            str(files["html"]),
            "--screenshot",
            str(files["screenshot"]),
        )
    )
    assert f"Already held: web capture {group_id} of {URL}" in flat(again.stdout)

    shown = as_json(run("evidence", "show", html_id, "--json"))
    assert shown["groups"] == [
        {
            "id": group_id,
            "kind": "web_capture",
            "role": "html",
            "url": URL,
            "captured_at": "2025-03-14T07:31:07+00:00",
            "title": "Market fire",
        }
    ]
    assert [c["action"] for c in shown["custody"]] == ["ingest", "grouped"]
    assert shown["acquisition"] == {"tool": "Browsertrix"}
    text = flat(ok(run("evidence", "show", html_id)).stdout)
    assert f"Group {group_id} (html of the web capture of {URL}, 2025-03-14 07:31:07 UTC)" in text

    group = as_json(run("evidence", "group", "show", group_id, "--json"))
    assert (group["url"], group["kind"], group["title"]) == (URL, "web_capture", "Market fire")
    assert [(m["role"], m["name"]) for m in group["members"]] == [
        ("html", "page.html"),
        ("screenshot", "page.png"),
        ("wacz", "page.wacz"),
    ]
    listed = ok(run("evidence", "group", "show", group_id)).stdout
    assert all(member["id"] in listed for member in done["members"])
    refused(run("evidence", "group", "show", "no-such-group"), 1, "No item group has the id")

    warned = run("evidence", "capture", "--url", URL + "/x", "--wacz", str(files["wacz"]))
    assert ok(warned).stderr.startswith("Warning: The URL")
    refused(
        run("evidence", "capture", "--url", "ftp://x", "--html", str(files["html"])),
        2,
        "is not the http:// or https:// address",
    )
    refused(
        run(
            "evidence",
            "capture",
            "--url",
            URL,
            "--captured-at",
            "yesterday",
            "--html",
            str(files["html"]),
        ),
        2,
        "--captured-at 'yesterday' is not a time",
    )

    # A group's id exports all its files; the package names the group and verifies.
    with node.uow() as uow:
        checkpoints.make_checkpoint(uow, node.keys, OPERATOR)
        vkey = checkpoints.verifier(uow.session, node.keys).vkey
    out = tmp_path / "case"
    exported = as_json(run("evidence", "export", group_id, "--out", str(out), "--json"))
    assert [i["id"] for i in exported["items"]] == [m["id"] for m in done["members"]]
    assert ok(run("package", "verify", str(out), "--key", vkey))
    assert _tool(out, "--key", vkey).returncode == 0
    manifest = json.loads((out / "manifest.json").read_text())
    [described] = manifest["items"][0]["groups"]
    assert (
        f"html of the web capture of {URL} at 2025-03-14T07:31:07"
        in (out / "REPORT.txt").read_text()
    )
    assert (described["id"], described["role"], described["url"]) == (group_id, "html", URL)
    assert described["openings"]["values"] == {
        "url": URL,
        "captured_at": "2025-03-14T07:31:07.000000Z",
        "title": "Market fire",
    }

    # Another URL in the package, re-signed: the ledger's commitment does not open to it.
    forged = "https://news.example.org/varesh/nothing-happened"
    for item in manifest["items"]:
        item["groups"][0]["url"] = forged
        item["groups"][0]["openings"]["values"]["url"] = forged
    resign(node, out, manifest)
    problems = verify_package(out, vkey).problems
    assert any("the commitment to 'url' does not open" in p.what for p in problems)
    assert "the commitment to 'url' does not open" in _tool(out, "--key", vkey).stdout


def test_a_member_of_two_captures_names_both(node: Node, tmp_path: Path, run: Run) -> None:
    files = inputs(tmp_path / "in")
    first = add_capture(node, OPERATOR, URL, CAPTURED, {"html": files["html"]})
    second = add_capture(
        node, OPERATOR, URL, CAPTURED + dt.timedelta(days=1), {"other": files["html"]}
    )
    shown = as_json(run("evidence", "show", first.members[0][1].item_id, "--json"))
    assert [(g["id"], g["role"]) for g in shown["groups"]] == [
        (first.group_id, "html"),
        (second.group_id, "other"),
    ]
    with node.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(VaultGroup)) == 2
