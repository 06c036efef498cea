"""A documenter adds evidence from the browser, in a real headless Chromium against the
real app: a file of a few MiB goes up in many chunks (one of them lost on the way and
sent again), becomes an item whose page shows the custody chain and a preview; and an
upload begun earlier continues where it stopped when the same file is chosen again."""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, Request, Route, expect
from sqlalchemy import select

from comity.identity.permissions import Role
from comity.node import InitReport, Node
from comity.settings import Settings, load_settings
from comity.vault.ingest import add_file
from comity.vault.inputs import Acquisition
from comity.vault.models import VaultItem
from comity.vault.uploads import start_upload, write_chunk
from conftest import TEST_SECRET
from factories import DEFAULT_PASSWORD, actor_for, make_user

pytestmark = pytest.mark.browser

CHUNK = 256 * 1024
MODIFIED = 1_700_000_000  # the files' modification time, part of the resume key


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The node's settings, with small chunks so that a file of a few MiB takes many."""
    return load_settings(
        home=tmp_path / "home",
        database_url=database_url,
        secret_key=TEST_SECRET,
        node_name="Varesh Monitoring Network",
        upload_chunk_bytes=CHUNK,
    )


def noisy_png(path: Path, side: int = 1100) -> bytes:
    """A PNG of random pixels (which do not compress): about 3.5 MiB."""
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    path.write_bytes(out.getvalue())
    os.utime(path, (MODIFIED, MODIFIED))
    return out.getvalue()


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(url + "/")


def chunk_starts(page: Page) -> list[int]:
    """Where each chunk the page sends starts, in order."""
    starts: list[int] = []

    def seen(request: Request) -> None:
        if request.method == "PUT":
            found = re.fullmatch(r"bytes (\d+)-\d+/\d+", request.headers["content-range"])
            assert found, request.headers
            starts.append(int(found.group(1)))

    page.on("request", seen)
    return starts


def test_a_large_file_goes_up_in_chunks_and_becomes_an_item(
    *,
    live_url: str,
    initialised: tuple[Node, InitReport],
    page: Page,
    console_errors: list[str],
    tmp_path: Path,
    screenshots: Path,
) -> None:
    node, _ = initialised
    make_user(node, Role.DOCUMENTER, username="amira.haddad")
    source = tmp_path / "market-square.png"
    data = noisy_png(source)
    sign_in(page, live_url, "amira.haddad")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Evidence").click()
    expect(page.get_by_role("heading", name="Evidence", exact=True)).to_be_visible()
    page.get_by_role("link", name="Add evidence").click()
    expect(page).to_have_url(live_url + "/evidence/upload")
    page.get_by_label("Collected by").fill("Field team 3")
    page.get_by_label("Captured when").fill("2026-03-14 09:30 +03:00")
    page.get_by_label("Device or software").fill("Pixel 7, stock camera app")
    page.get_by_label("Files").set_input_files(source)

    # The fourth chunk is lost on the way once: the page waits and sends it again.
    starts = chunk_starts(page)
    lost: list[str] = []

    def lose_one(route: Route) -> None:
        if route.request.method == "PUT" and len(starts) == 4 and not lost:
            lost.append(route.request.headers["content-range"])
            route.abort("failed")
        else:
            route.continue_()

    page.route("**/evidence/uploads/*", lose_one)
    page.get_by_role("button", name="Upload").click()

    row = page.locator("li.upload")
    expect(row.get_by_role("link", name="market-square.png")).to_be_visible(timeout=60_000)
    expect(row.get_by_role("status")).to_have_text("Added as a new item:")
    progress = row.locator("progress")
    assert progress.evaluate("bar => bar.value === bar.max && bar.max > 0")
    chunks = -(-len(data) // CHUNK)
    assert len(lost) == 1
    assert starts == sorted(starts)
    assert sorted(set(starts)) == [n * CHUNK for n in range(chunks)]
    assert len(starts) == chunks + 1, "the lost chunk was sent again, and only it"
    page.screenshot(path=str(screenshots / "evidence-upload.png"), full_page=True)

    row.get_by_role("link", name="market-square.png").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("market-square.png")
    sha256 = hashlib.sha256(data).hexdigest()
    expect(page.locator("[data-sha256]")).to_have_text(sha256)
    expect(page.get_by_text("Field team 3")).to_be_visible()
    custody = page.locator("table.custody tbody tr")
    expect(custody).to_have_count(1)
    expect(custody.first).to_contain_text("ingest")
    expect(custody.first).to_contain_text("amira.haddad")

    page.get_by_role("link", name="Show a preview (recorded in the custody chain)").click()
    preview = page.get_by_role("img", name="Preview of the image, redrawn without its metadata")
    expect(preview).to_be_visible()
    expect(preview).to_have_js_property("naturalWidth", 1024)
    page.screenshot(path=str(screenshots / "evidence-item.png"), full_page=True)
    page.reload()
    expect(page.locator("table.custody tbody tr")).to_have_count(2)
    expect(page.locator("table.custody tbody tr").nth(1)).to_contain_text("view")

    with node.uow() as uow:
        item = uow.session.scalars(select(VaultItem).where(VaultItem.sha256 == sha256)).one()
    assert item.acquisition["who"] == "Field team 3"
    # Chromium reports the request the test made fail; nothing else went wrong.
    assert len(console_errors) == 1
    assert "Failed to load resource: net::ERR_FAILED" in console_errors[0]


def test_choosing_the_same_file_again_continues_an_earlier_upload(
    live_url: str,
    initialised: tuple[Node, InitReport],
    page: Page,
    console_errors: list[str],
    tmp_path: Path,
) -> None:
    node, _ = initialised
    user = make_user(node, Role.DOCUMENTER, username="amira.haddad")
    source = tmp_path / "interview-07.png"
    data = noisy_png(source, side=700)
    # An earlier visit sent the first three chunks before the browser was closed.
    actor = actor_for(user)
    earlier = start_upload(node, actor, name=source.name, size=len(data), acquisition=Acquisition())
    for offset in range(0, 3 * CHUNK, CHUNK):
        content_range = f"bytes {offset}-{offset + CHUNK - 1}/{len(data)}"
        write_chunk(node, actor, earlier.id, content_range, data[offset : offset + CHUNK])

    sign_in(page, live_url, "amira.haddad")
    page.goto(live_url + "/evidence/upload")
    unfinished = page.locator(f'[data-unfinished="{earlier.id}"]')
    expect(unfinished).to_contain_text("interview-07.png")
    page.get_by_label("Files").set_input_files(source)
    key = page.evaluate(
        "() => { const f = document.getElementById('upload-files').files[0];"
        " return ['comity-upload:' + f.name, f.size, f.lastModified].join(':'); }"
    )
    assert key == f"comity-upload:interview-07.png:{len(data)}:{MODIFIED * 1000}"
    page.evaluate("([k, v]) => window.localStorage.setItem(k, v)", [key, earlier.id])
    starts = chunk_starts(page)
    page.get_by_role("button", name="Upload").click()

    row = page.locator("li.upload")
    expect(row.get_by_role("link", name="interview-07.png")).to_be_visible(timeout=60_000)
    assert starts[0] == 3 * CHUNK, "it continued where the earlier upload stopped"
    assert page.evaluate("k => window.localStorage.getItem(k)", key) is None
    sha256 = hashlib.sha256(data).hexdigest()
    with node.uow() as uow:
        item = uow.session.scalars(select(VaultItem).where(VaultItem.sha256 == sha256)).one()
    assert item.size == len(data)
    assert console_errors == []


DROP = """([target, names]) => {
    const transfer = new DataTransfer();
    for (const name of names) {
        transfer.items.add(new File([`statement of ${name}`], name, {type: "text/plain"}));
    }
    const drop = new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true});
    document.querySelector(target).dispatchEvent(drop);
    return [drop.defaultPrevented, document.getElementById("upload-files").files.length];
}"""


def test_files_dropped_on_the_form_are_chosen_and_a_stray_drop_opens_nothing(
    *,
    live_url: str,
    initialised: tuple[Node, InitReport],
    page: Page,
    console_errors: list[str],
) -> None:
    node, _ = initialised
    make_user(node, Role.DOCUMENTER, username="amira.haddad")
    sign_in(page, live_url, "amira.haddad")
    page.goto(live_url + "/evidence/upload")

    # Dropped beside the form: not opened in place of the page, and not chosen.
    assert page.evaluate(DROP, ["h1", ["stray.txt"]]) == [True, 0]
    assert page.evaluate(DROP, ["form[data-upload-form]", ["w-1.txt", "w-2.txt"]]) == [True, 2]
    expect(page).to_have_url(live_url + "/evidence/upload")
    page.get_by_role("button", name="Upload").click()
    statuses = page.locator("li.upload").get_by_role("status")
    expect(statuses).to_have_text(["Added as a new item:"] * 2, timeout=60_000)
    with node.uow() as uow:
        names = sorted(uow.session.scalars(select(VaultItem.original_name)))
    assert names == ["w-1.txt", "w-2.txt"]
    assert console_errors == []


def gradient_jpeg(path: Path, shade: int) -> Path:
    """A smooth picture: changing ``shade`` a little changes its bytes, not its looks."""
    image = Image.new("RGB", (96, 96))
    image.putdata([((x * 2 + shade) % 256, y * 2, 120) for y in range(96) for x in range(96)])
    image.save(path, "JPEG", quality=90)
    return path


def test_an_upload_that_looks_like_an_image_already_held_says_so(
    *,
    live_url: str,
    initialised: tuple[Node, InitReport],
    page: Page,
    console_errors: list[str],
    tmp_path: Path,
) -> None:
    node, _ = initialised
    documenter = make_user(node, Role.DOCUMENTER, username="amira.haddad")
    held = add_file(node, actor_for(documenter), gradient_jpeg(tmp_path / "held.jpg", 0))
    sign_in(page, live_url, "amira.haddad")
    page.goto(live_url + "/evidence/upload")
    page.get_by_label("Files").set_input_files(gradient_jpeg(tmp_path / "again.jpg", 2))
    page.get_by_role("button", name="Upload").click()

    row = page.locator("li.upload")
    expect(row.get_by_role("status")).to_have_text("Added as a new item:", timeout=60_000)
    expect(row.locator(".upload-near")).to_contain_text("It looks like images already held:")
    near = row.locator(".upload-near").get_by_role("link")
    expect(near).to_have_text([held.item_id[:8]])
    expect(near).to_have_attribute("href", f"/evidence/{held.item_id}")
    assert console_errors == []
