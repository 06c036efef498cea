"""An administrator adds a partner organisation's node from the browser, in a real
headless Chromium against the real app: pastes its descriptor, is refused a misheard
fingerprint, then confirms the peer with the right one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from comity.exchange import own_node
from comity.identity.permissions import Role
from comity.node import InitReport, Node
from factories import make_user
from ledger.peers import second_node

pytestmark = pytest.mark.browser


def test_an_administrator_adds_and_confirms_a_peer_node(
    *,
    live_url: str,
    initialised: tuple[Node, InitReport],
    page: Page,
    console_errors: list[str],
    tmp_path: Path,
    new_database: Callable[[str], str],
    screenshots: Path,
) -> None:
    node, _ = initialised
    admin = make_user(node, Role.ADMINISTRATOR, username="lena.varga")
    other, _ = second_node(
        tmp_path / "partner", new_database("partner"), "Helgar Legal Aid Collective"
    )
    with other.uow() as uow:
        descriptor = own_node.local_descriptor(uow.session, other.settings, other.keys)
    other.close()

    page.goto(live_url + "/login")
    page.get_by_label("User name").fill(admin.username)
    page.get_by_label("Password", exact=True).fill(admin.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code", exact=True).fill(admin.totp_now())
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(live_url + "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Peer nodes").click()
    expect(page.get_by_text("No peer nodes yet.")).to_be_visible()
    page.get_by_label("The peer's descriptor, as its administrator sent it").fill(
        descriptor.raw.decode()
    )
    page.get_by_role("button", name="Add as a pending peer").click()
    expect(page.get_by_role("heading", name="Helgar Legal Aid Collective")).to_be_visible()
    expect(page.get_by_text("Pending confirmation")).to_be_visible()

    field = page.get_by_label("Fingerprint read out by the peer's administrator")
    field.fill("bed9 f747 16f1 0db6 ff13 9371 fcb4 43af")
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_text("That fingerprint does not match")).to_be_visible()

    page.get_by_label("Fingerprint read out by the peer's administrator").fill(
        descriptor.fingerprint
    )
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_text("Confirmed", exact=True)).to_be_visible()
    page.screenshot(path=str(screenshots / "peer.png"), full_page=True)
    page.get_by_role("link", name="All peer nodes").click()
    expect(page.get_by_role("link", name="Helgar Legal Aid Collective")).to_be_visible()
    # The refused fingerprint's answer (422) is the only error the browser saw.
    assert [error for error in console_errors if "status of 422" not in error] == []
    assert len(console_errors) == 1
