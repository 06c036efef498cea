"""The evidence pages through HTTP: the list, the item page with its metadata and custody
chain, previews that are redrawn images and recorded views, downloads that are recorded,
and proof files of custody events."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from comity.audit.models import Outcome
from comity.identity.permissions import Role
from comity.ledger import checkpoints
from comity.ledger.checkpoints import make_checkpoint
from comity.ledger.services import check_offline_proof
from comity.node import Node, local_operator
from comity.vault.ingest import AddResult, add_file
from comity.vault.inputs import Acquisition
from comity.vault.models import VaultCustody
from comity.web.pages.evidence import attachment
from factories import MadeUser, audit_events, make_user
from vault.vaulting import ledger_entries, ledger_ok, vault_state
from web.conftest import csrf_from
from web.pictures import jpeg_with_gps, png_claiming

Browser = Callable[[MadeUser], TestClient]
ACQUIRED = Acquisition(who="Field team 3", where="Varesh market", tool="Pixel 7")


def add(node: Node, tmp_path: Path, name: str, data: bytes) -> AddResult:
    path = tmp_path / name
    path.write_bytes(data)
    return add_file(node, local_operator(), path, ACQUIRED)


def custody(node: Node, item_id: str) -> list[str]:
    with node.uow() as uow:
        return list(
            uow.session.scalars(
                select(VaultCustody.action)
                .where(VaultCustody.item_id == item_id)
                .order_by(VaultCustody.id)
            )
        )


@pytest.fixture
def photo(node: Node, tmp_path: Path) -> tuple[AddResult, bytes]:
    data = jpeg_with_gps()
    return add(node, tmp_path, "IMG_0412.jpg", data), data


@pytest.fixture
def documenter(node: Node) -> MadeUser:
    return make_user(node, Role.DOCUMENTER, username="amira")


def test_the_list_shows_items_newest_first(
    node: Node, tmp_path: Path, documenter: MadeUser, signed_in: Browser
) -> None:
    older = add(node, tmp_path, "older.txt", b"first statement\n")
    newer = add(node, tmp_path, "newer.txt", b"second statement\n")
    page = signed_in(documenter).get("/evidence")
    assert page.status_code == 200
    assert page.text.index("newer.txt") < page.text.index("older.txt")
    assert f'href="/evidence/{newer.item_id}"' in page.text
    assert older.sha256[:12] in page.text
    assert "2 items" in page.text
    assert 'href="/evidence/upload"' in page.text
    nav = page.text.split('aria-label="Main"')[1].split("</nav>")[0]
    assert 'href="/evidence"' in nav


def test_the_item_page_shows_metadata_acquisition_and_custody(
    node: Node, photo: tuple[AddResult, bytes], documenter: MadeUser, signed_in: Browser
) -> None:
    added, _ = photo
    page = signed_in(documenter).get(f"/evidence/{added.item_id}")
    assert page.status_code == 200
    text = page.text
    assert added.sha256 in text
    assert "image/jpeg" in text
    assert "Varesh market" in text
    assert "Field team 3" in text
    assert "2400 x 1600 pixels" in text
    assert "Witness Phone" in text
    ingest_index = ledger_entries(node)[-1].idx
    custody_table = text.split('class="data custody"')[1].split("</table>")[0]
    assert "<code>ingest</code>" in custody_table
    assert f"<td>{ingest_index}</td>" in custody_table
    assert "after the next checkpoint" in custody_table
    assert f'href="/evidence/{added.item_id}?preview=1"' in text
    assert f'action="/evidence/{added.item_id}/download"' in text
    # Opening the page shows no content and records nothing.
    assert '/preview"' not in text
    assert custody(node, added.item_id) == ["ingest"]


def test_readers_without_download_see_the_record_but_not_the_content(
    node: Node, photo: tuple[AddResult, bytes], signed_in: Browser
) -> None:
    added, _ = photo
    analyst = signed_in(make_user(node, Role.ANALYST))
    page = analyst.get(f"/evidence/{added.item_id}")
    assert page.status_code == 200
    assert added.sha256 in page.text
    assert "/download" not in page.text
    assert "preview=1" not in page.text
    before = vault_state(node)
    assert analyst.get(f"/evidence/{added.item_id}/preview").status_code == 403
    token = csrf_from(page.text)
    refused = analyst.post(f"/evidence/{added.item_id}/download", data={"csrf_token": token})
    assert refused.status_code == 403
    assert vault_state(node) == before
    denied = [e.action for e in audit_events(node, "evidence.view")]
    assert denied == ["evidence.view"]
    assert audit_events(node, "evidence.view")[0].outcome == Outcome.DENIED


def test_a_preview_is_a_new_small_png_without_the_originals_metadata(
    node: Node, photo: tuple[AddResult, bytes], documenter: MadeUser, signed_in: Browser
) -> None:
    added, original = photo
    browser = signed_in(documenter)
    page = browser.get(f"/evidence/{added.item_id}?preview=1")
    assert f'<img src="/evidence/{added.item_id}/preview"' in page.text
    response = browser.get(f"/evidence/{added.item_id}/preview")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "default-src 'none'"
    assert response.headers["cache-control"] == "no-store"
    png = response.content
    assert png != original
    assert original[:64] not in png
    with Image.open(io.BytesIO(png)) as shown:
        assert shown.format == "PNG"
        assert max(shown.size) == 1024
        assert shown.size == (1024, 683)
        assert not shown.getexif()
        assert set(shown.info) <= {"dpi"}
    assert b"Witness Phone" not in png
    assert custody(node, added.item_id) == ["ingest", "view"]
    view = ledger_entries(node)[-1]
    event = json.loads(view.entry)
    assert (event["type"], event["digests"]["sha256"]) == ("evidence.view", added.sha256)
    assert [e.detail["via"] for e in audit_events(node, "evidence.view")] == ["web"]
    assert ledger_ok(node)


def test_anything_but_an_image_has_no_preview(
    node: Node, tmp_path: Path, documenter: MadeUser, signed_in: Browser
) -> None:
    added = add(node, tmp_path, "page.html", b"<script>alert(1)</script>\n")
    browser = signed_in(documenter)
    assert "No preview for this type of file." in browser.get(f"/evidence/{added.item_id}").text
    before = vault_state(node)
    response = browser.get(f"/evidence/{added.item_id}/preview")
    assert response.status_code == 404
    assert "no preview" in response.text.lower()
    assert "<script>alert" not in response.text
    assert vault_state(node) == before


@pytest.mark.parametrize(
    "picture",
    [
        ("bomb.png", png_claiming(40_000, 40_000)),
        ("broken.jpg", b"\xff\xd8\xff\xe0" + b"not really a photograph" * 100),
    ],
)
def test_an_image_that_cannot_be_decoded_safely_has_no_preview(
    node: Node,
    tmp_path: Path,
    documenter: MadeUser,
    signed_in: Browser,
    picture: tuple[str, bytes],
) -> None:
    added = add(node, tmp_path, *picture)
    before = vault_state(node)
    response = signed_in(documenter).get(f"/evidence/{added.item_id}/preview")
    assert response.status_code == 422
    assert "cannot be previewed" in response.text
    assert vault_state(node) == before


def test_a_download_sends_the_original_and_is_recorded(
    node: Node, tmp_path: Path, documenter: MadeUser, signed_in: Browser
) -> None:
    data = b"Statement of the witness, page 1.\n" * 5000
    added = add(node, tmp_path, 'témoignage "1".txt', data)
    browser = signed_in(documenter)
    token = csrf_from(browser.get(f"/evidence/{added.item_id}").text)
    assert browser.get(f"/evidence/{added.item_id}/download").status_code == 405
    forged = browser.post(f"/evidence/{added.item_id}/download")
    assert forged.status_code == 403
    assert custody(node, added.item_id) == ["ingest"]

    response = browser.post(f"/evidence/{added.item_id}/download", data={"csrf_token": token})
    assert response.status_code == 200
    assert response.content == data
    assert hashlib.sha256(response.content).hexdigest() == added.sha256
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["content-disposition"] == (
        'attachment; filename="t_moignage _1_.txt"; '
        "filename*=UTF-8''t%C3%A9moignage%20%221%22.txt"
    )
    assert custody(node, added.item_id) == ["ingest", "download"]
    event = json.loads(ledger_entries(node)[-1].entry)
    assert event["type"] == "evidence.download"
    recorded = audit_events(node, "evidence.download")
    assert [(e.outcome, e.detail["via"]) for e in recorded] == [(Outcome.SUCCESS, "web")]
    assert ledger_ok(node)
    assert list((node.settings.home / "tmp").iterdir()) == []


def test_attachment_names_are_safe_for_every_client() -> None:
    assert attachment("report.pdf") == (
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    )
    header = attachment('a\\b"; filename=evil.exe')
    assert header.startswith('attachment; filename="a_b_; filename=evil.exe";')
    assert header.count('"') == 2
    assert attachment("صورة.jpg").startswith('attachment; filename="____.jpg";')


def test_a_custody_event_has_a_proof_file_once_a_checkpoint_covers_it(
    node: Node, photo: tuple[AddResult, bytes], signed_in: Browser
) -> None:
    added, _ = photo
    with node.uow() as uow:
        make_checkpoint(uow, node.keys, local_operator())
    with node.uow() as uow:
        vkey = checkpoints.verifier(uow.session, node.keys).vkey
    index = ledger_entries(node)[-1].idx
    analyst = signed_in(make_user(node, Role.ANALYST))
    page = analyst.get(f"/evidence/{added.item_id}")
    assert f'href="/evidence/{added.item_id}/proof/{index}"' in page.text
    response = analyst.get(f"/evidence/{added.item_id}/proof/{index}")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        f'attachment; filename="ledger-proof-{index}.json"'
    )
    document = response.json()
    assert document["index"] == index
    assert check_offline_proof(document, vkey).index == index
    other_index = index - 1
    assert analyst.get(f"/evidence/{added.item_id}/proof/{other_index}").status_code == 404


def test_an_integrity_check_from_the_item_page(
    node: Node, photo: tuple[AddResult, bytes], documenter: MadeUser, signed_in: Browser
) -> None:
    added, _ = photo
    browser = signed_in(documenter)
    token = csrf_from(browser.get(f"/evidence/{added.item_id}").text)
    checked = browser.post(f"/evidence/{added.item_id}/check", data={"csrf_token": token})
    assert checked.status_code == 200
    assert "the encrypted copy is intact" in checked.text
    assert [e.detail["ok"] for e in audit_events(node, "evidence.check")] == [True]


def test_an_unknown_item_is_not_found(documenter: MadeUser, signed_in: Browser) -> None:
    browser = signed_in(documenter)
    missing = "00000000-0000-0000-0000-000000000000"
    assert browser.get(f"/evidence/{missing}").status_code == 404
    assert browser.get(f"/evidence/{missing}/preview").status_code == 404


def test_the_upload_page_lists_unfinished_uploads_and_needs_javascript(
    node: Node, documenter: MadeUser, signed_in: Browser
) -> None:
    browser = signed_in(documenter)
    token = csrf_from(browser.get("/evidence/upload").text)
    browser.post(
        "/evidence/uploads",
        json={"name": "interview-07.mp3", "size": 1000},
        headers={"X-CSRF-Token": token},
    )
    page = browser.get("/evidence/upload")
    assert page.status_code == 200
    assert '<script src="/static/upload.js" defer></script>' in page.text
    assert "<noscript>" in page.text
    assert "interview-07.mp3" in page.text
    assert "data-cancel-upload=" in page.text
    assert signed_in(make_user(node, Role.ANALYST)).get("/evidence/upload").status_code == 403
