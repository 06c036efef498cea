"""Resumable uploads through the JSON API (bearer tokens) and the upload page's endpoints
(browser session and CSRF): chunks in order become an item; every bad chunk is refused
with a clear error and changes nothing."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from comity.audit.models import Outcome
from comity.identity.permissions import Role
from comity.node import Node, local_operator
from comity.vault.ingest import add_file
from comity.vault.models import VaultItem, VaultUpload
from comity.vault.staging import staging_root
from factories import MadeUser, audit_events, make_user
from vault.vaulting import ledger_ok
from web.conftest import csrf_from
from web.uploading import (  # noqa: F401 - the fixtures are used by name
    CHUNK,
    DATA,
    URL,
    Client,
    documenter_fixture,
    put,
    send,
    small_chunk_settings_fixture,
    staged_file,
    start,
    state,
    upload_row,
)


def test_chunks_in_order_become_an_item_with_the_files_sha256(
    node: Node, documenter: MadeUser, api: Client
) -> None:
    client = api(documenter)
    upload_id = start(client, acquisition={"who": "Field team 3", "tool": "phone"})
    staged = staged_file(node, upload_id)
    assert staged.name == "report.bin"
    assert stat.S_IMODE(staged.stat().st_mode) == 0o600
    assert stat.S_IMODE(staged.parent.stat().st_mode) == 0o700
    assert not staged.is_relative_to(node.settings.resolved_vault_dir)

    send(client, upload_id)
    assert client.get(f"{URL}/{upload_id}").json()["received"] == len(DATA)
    done = client.post(f"{URL}/{upload_id}/complete")
    assert done.status_code == 200, done.text
    added = done.json()
    assert added["created"] is True
    assert added["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert added["size"] == len(DATA)
    assert added["name"] == "report.bin"

    with node.uow() as uow:
        item = uow.session.get(VaultItem, added["id"])
    assert item is not None
    assert item.sha256 == added["sha256"]
    assert item.acquisition == {"who": "Field team 3", "tool": "phone"}
    assert item.added_by == documenter.id
    after = client.get(f"{URL}/{upload_id}").json()
    assert (after["status"], after["item_id"]) == ("complete", added["id"])
    assert not (staging_root(node) / upload_id).exists()
    assert ledger_ok(node)
    assert [e.detail["item"] for e in audit_events(node, "evidence.upload.complete")] == [
        added["id"]
    ]
    assert len(audit_events(node, "evidence.upload.start")) == 1
    assert len(audit_events(node, "evidence.add")) == 1
    # Completing again names the item rather than ingesting twice.
    again = client.post(f"{URL}/{upload_id}/complete")
    assert again.status_code == 409
    assert again.json()["fields"]["item_id"] == added["id"]


def test_an_upload_resumes_from_what_the_node_holds(
    node: Node, documenter: MadeUser, api: Client
) -> None:
    first = api(documenter)
    upload_id = start(first)
    send(first, upload_id, stop_at=2 * CHUNK)
    first.close()  # the connection dropped; a new one asks where the upload stands
    second = api(documenter)
    status = second.get(f"{URL}/{upload_id}").json()
    assert (status["received"], status["size"], status["status"]) == (2 * CHUNK, len(DATA), "open")
    send(second, upload_id, start_at=status["received"])
    added = second.post(f"{URL}/{upload_id}/complete").json()
    assert added["sha256"] == hashlib.sha256(DATA).hexdigest()


def test_an_empty_chunk_is_refused_and_changes_nothing(
    node: Node, documenter: MadeUser, api: Client
) -> None:
    client = api(documenter)
    upload_id = start(client)
    send(client, upload_id, stop_at=CHUNK)
    before = state(node, upload_id)
    response = client.put(
        f"{URL}/{upload_id}",
        content=b"",
        headers={"Content-Range": f"bytes {CHUNK}-{CHUNK}/{len(DATA)}"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "chunk_refused"
    assert "empty" in response.json()["message"]
    assert state(node, upload_id) == before


@pytest.mark.parametrize(
    ("case", "offset"),
    [("gap", 2 * CHUNK), ("overlap", CHUNK - 1), ("repeat", 0), ("far beyond", 3 * CHUNK)],
)
def test_a_chunk_out_of_order_is_refused_naming_the_offset(
    node: Node, documenter: MadeUser, api: Client, case: str, offset: int
) -> None:
    client = api(documenter)
    upload_id = start(client)
    send(client, upload_id, stop_at=CHUNK)
    before = state(node, upload_id)
    response = put(client, upload_id, DATA[offset : offset + 100], offset)
    assert response.status_code == 409, case
    body = response.json()
    assert body["error"] == "offset_mismatch"
    assert body["fields"] == {"offset": str(CHUNK)}
    assert f"from offset {CHUNK}" in body["message"]
    assert state(node, upload_id) == before


@pytest.mark.parametrize(
    "case",
    [
        (None, b"x", "Content-Range"),
        ("bytes=0-0/10", b"x", "Content-Range"),
        ("bytes 0-0/*", b"x", "Content-Range"),
        ("bytes 5-4/{size}", b"x", "ends before it starts"),
        ("bytes 0-0/{other}", b"x", "this upload is of"),
        ("bytes {size}-{size}/{size}", b"x", "past the end"),
        ("bytes {last}-{size}/{size}", b"xy", "past the end"),
        ("bytes 0-9/{size}", b"x", "names 10 bytes but 1 came"),
    ],
)
def test_a_chunk_with_a_bad_range_is_refused_and_changes_nothing(
    node: Node, documenter: MadeUser, api: Client, case: tuple[str | None, bytes, str]
) -> None:
    content_range, body, problem = case
    client = api(documenter)
    upload_id = start(client)
    before = state(node, upload_id)
    values = {"size": len(DATA), "last": len(DATA) - 1, "other": len(DATA) + 1}
    headers = {} if content_range is None else {"Content-Range": content_range.format(**values)}
    response = client.put(f"{URL}/{upload_id}", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert problem in response.json()["message"]
    assert state(node, upload_id) == before


def test_a_chunk_over_the_limit_is_refused_with_413(
    node: Node, documenter: MadeUser, api: Client
) -> None:
    client = api(documenter)
    upload_id = start(client)
    before = state(node, upload_id)
    response = put(client, upload_id, DATA[: CHUNK + 1], 0)
    assert response.status_code == 413
    assert state(node, upload_id) == before


def test_someone_elses_upload_is_not_found(node: Node, documenter: MadeUser, api: Client) -> None:
    owner = api(documenter)
    upload_id = start(owner)
    send(owner, upload_id, stop_at=CHUNK)
    before = state(node, upload_id)
    other = api(make_user(node, Role.INVESTIGATOR, username="other"))
    attempts = [
        other.get(f"{URL}/{upload_id}"),
        put(other, upload_id, DATA[CHUNK : 2 * CHUNK], CHUNK),
        other.post(f"{URL}/{upload_id}/complete"),
        other.delete(f"{URL}/{upload_id}"),
    ]
    assert [r.status_code for r in attempts] == [404] * 4
    assert state(node, upload_id) == before


def test_without_evidence_add_uploads_are_refused_and_audited(node: Node, api: Client) -> None:
    analyst = api(make_user(node, Role.ANALYST, username="reader"))
    response = analyst.post(URL, json={"name": "x.bin", "size": 5})
    assert response.status_code == 403
    refused = audit_events(node, "evidence.upload.start")
    assert [(e.outcome, e.actor) for e in refused] == [(Outcome.DENIED, "reader")]
    assert len(audit_events(node, "access.denied")) == 1
    # A documenter's token without the scope is refused the same way.
    scoped = api(make_user(node, Role.DOCUMENTER), ["evidence:read"])
    assert scoped.post(URL, json={"name": "x.bin", "size": 5}).status_code == 403
    with node.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(VaultUpload)) == 0


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"name": "empty.txt", "size": 0}, "nothing to preserve"),
        ({"name": "huge.bin", "size": 10 * 1024 * 1024 + 1}, "at most 10485760 bytes"),
        ({"name": "dir/name.bin", "size": 5}, "not a plain file name"),
        ({"name": "..", "size": 5}, "not a plain file name"),
        ({"name": "evil\u202egpj.exe", "size": 5}, "control character U+202E"),
        ({"name": "line\nbreak.txt", "size": 5}, "control character U+000A"),
        ({"name": "é" * 200, "size": 5}, "400 bytes long in UTF-8"),
        ({"name": "a.txt", "size": 5, "acquisition": {"who": "bell\x07"}}, "U+0007"),
    ],
)
def test_an_upload_that_cannot_be_kept_is_refused_before_anything_is_made(
    node: Node, documenter: MadeUser, api: Client, body: dict[str, Any], problem: str
) -> None:
    response = api(documenter).post(URL, json=body)
    assert response.status_code == 422, response.text
    assert problem in response.json()["message"]
    with node.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(VaultUpload)) == 0
    assert not staging_root(node).exists() or list(staging_root(node).iterdir()) == []


def test_bytes_already_held_name_the_item_that_holds_them(
    node: Node, documenter: MadeUser, api: Client, tmp_path: Path
) -> None:
    earlier = tmp_path / "earlier-copy.bin"
    earlier.write_bytes(DATA)
    held = add_file(node, local_operator(), earlier)
    client = api(documenter)
    upload_id = start(client)
    send(client, upload_id)
    added = client.post(f"{URL}/{upload_id}/complete").json()
    assert (added["created"], added["id"]) == (False, held.item_id)
    assert not (staging_root(node) / upload_id).exists()
    assert upload_row(node, upload_id).item_id == held.item_id


def test_completing_before_every_byte_arrived_is_refused(
    node: Node, documenter: MadeUser, api: Client
) -> None:
    client = api(documenter)
    upload_id = start(client)
    send(client, upload_id, stop_at=2 * CHUNK)
    before = state(node, upload_id)
    response = client.post(f"{URL}/{upload_id}/complete")
    assert response.status_code == 409
    assert response.json()["fields"] == {"offset": str(2 * CHUNK)}
    assert state(node, upload_id) == before


def test_cancelling_removes_the_staged_bytes(node: Node, documenter: MadeUser, api: Client) -> None:
    client = api(documenter)
    upload_id = start(client)
    send(client, upload_id, stop_at=CHUNK)
    response = client.delete(f"{URL}/{upload_id}")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert not (staging_root(node) / upload_id).exists()
    assert [e.detail for e in audit_events(node, "evidence.upload.cancel")] == [
        {"size": len(DATA), "received": CHUNK}
    ]
    assert put(client, upload_id, DATA[CHUNK : 2 * CHUNK], CHUNK).status_code == 409
    assert client.post(f"{URL}/{upload_id}/complete").status_code == 409


def test_the_upload_page_endpoints_take_the_session_and_its_csrf_token(
    node: Node, documenter: MadeUser, signed_in: Client
) -> None:
    browser = signed_in(documenter)
    token = csrf_from(browser.get("/evidence/upload").text)
    page_url = "/evidence/uploads"
    json_headers = {"Accept": "application/json"}
    forged = browser.post(page_url, json={"name": "a.bin", "size": len(DATA)}, headers=json_headers)
    assert forged.status_code == 403
    assert forged.json()["error"] == "csrf_rejected"
    headers = {**json_headers, "X-CSRF-Token": token}
    created = browser.post(page_url, json={"name": "a.bin", "size": len(DATA)}, headers=headers)
    assert created.status_code == 201
    upload_id = created.json()["id"]
    no_token = browser.put(
        f"{page_url}/{upload_id}",
        content=DATA[:CHUNK],
        headers={**json_headers, "Content-Range": f"bytes 0-{CHUNK - 1}/{len(DATA)}"},
    )
    assert no_token.status_code == 403
    # Only a POST may carry the token in a form: a script's PUT sends the header.
    in_a_form = browser.put(
        f"{page_url}/{upload_id}", data={"csrf_token": token}, headers=json_headers
    )
    assert in_a_form.status_code == 403
    assert upload_row(node, upload_id).received == 0
    for offset in range(0, len(DATA), CHUNK):
        chunk = DATA[offset : offset + CHUNK]
        response = browser.put(
            f"{page_url}/{upload_id}",
            content=chunk,
            headers={
                **headers,
                "Content-Range": f"bytes {offset}-{offset + len(chunk) - 1}/{len(DATA)}",
            },
        )
        assert response.status_code == 200, response.text
    wrong = browser.put(
        f"{page_url}/{upload_id}",
        content=b"x",
        headers={**headers, "Content-Range": f"bytes 0-0/{len(DATA)}"},
    )
    assert wrong.status_code == 409
    assert wrong.json()["fields"]["offset"] == str(len(DATA))
    added = browser.post(f"{page_url}/{upload_id}/complete", headers=headers).json()
    assert added["sha256"] == hashlib.sha256(DATA).hexdigest()
    # Cookies never authenticate the API itself.
    assert browser.get(f"{URL}/{upload_id}").status_code == 401
