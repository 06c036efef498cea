"""The administrator's first day, in a real headless Chromium against the real app.

Sign in with the one-time password from ``comity init``, choose a password, enrol an
authenticator, keep the recovery codes, sign out and back in with two factors, create a
user, disable them, and find both in the audit trail. Then the Arabic interface.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Dialog, Page, expect

from comity.node import InitReport, Node
from comity.web.guards import SESSION_COOKIE
from comity.web.security import PRESESSION_COOKIE

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a lantern over the harbour at dusk"
STEP_SECONDS = 30


def sign_in(page: Page, username: str, password: str) -> None:
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def cookie(page: Page, name: str) -> dict[str, object]:
    found = [c for c in page.context.cookies() if c["name"] == name]
    assert len(found) == 1, f"expected one {name} cookie, got {found}"
    return dict(found[0])


def test_administrator_first_day(
    live_url: str,
    initialised: tuple[Node, InitReport],
    page: Page,
    console_errors: list[str],
    screenshots: Path,
) -> None:
    url = live_url
    _, report = initialised
    assert report.admin_username == "admin"
    assert report.one_time_password

    # Anyone who is not signed in is sent to the sign-in page.
    page.goto(url + "/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    presession = cookie(page, PRESESSION_COOKIE)
    assert presession["secure"] is True
    assert presession["httpOnly"] is True

    # The one-time password leads straight to choosing a password of one's own.
    sign_in(page, "admin", report.one_time_password)
    expect(page).to_have_url(url + "/account/password")
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    session = cookie(page, SESSION_COOKIE)
    assert session["secure"] is True, "Chromium keeps Secure cookies on http://127.0.0.1"
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    page.get_by_label("Current password").fill(report.one_time_password)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()

    # Administrators must enrol an authenticator before they can go anywhere.
    expect(page).to_have_url(url + "/account/second-factor")
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0"), "the QR code is broken"
    key = page.locator("code[data-secret]").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", key), key
    totp = pyotp.TOTP(key)
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor authentication").click()

    expect(page.get_by_role("heading", name="Two-factor authentication is on")).to_be_visible()
    codes = page.locator("[data-recovery-codes] li")
    expect(codes).to_have_count(10)
    assert all(re.fullmatch(r"[a-z2-7]{8}-[a-z2-7]{8}", c) for c in codes.all_inner_texts())
    page.get_by_role("link", name="I have saved them — continue").click()

    expect(page).to_have_url(url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Varesh Monitoring Network")
    expect(page.get_by_text("Welcome, ")).to_be_visible()
    page.screenshot(path=str(screenshots / "home.png"), full_page=True)

    # Sign out, and back in: now the password is not enough.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(url + "/login")
    sign_in(page, "admin", NEW_PASSWORD)
    expect(page).to_have_url(url + "/login/second-factor")
    expect(page.get_by_role("heading", name="Two-factor check")).to_be_visible()
    # The enrolment used the current time step, and a step is accepted only once; the
    # next step is within the accepted drift and has not been used.
    page.get_by_label("Code", exact=True).fill(totp.at(time.time() + STEP_SECONDS))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Varesh Monitoring Network")

    # Create a user from the Users page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page).to_have_url(url + "/users")
    page.screenshot(path=str(screenshots / "users.png"), full_page=True)
    page.get_by_label("User name").fill("amira.haddad")
    page.get_by_label("Full name").fill("Amira Haddad")
    page.get_by_label("E-mail (optional)").fill("amira@example.org")
    page.get_by_role("group", name="Roles").get_by_label("Documenter").check()
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("heading", name="User created")).to_be_visible()
    one_time = page.locator("code[data-one-time-password]").inner_text().strip()
    assert len(one_time) >= 12
    page.get_by_role("link", name="Done").click()

    # Disable them; the form asks for confirmation first.
    expect(page.get_by_role("heading", level=1)).to_contain_text("amira.haddad")
    status = page.locator("dt", has_text="Status").locator("xpath=following-sibling::dd[1]")
    expect(status).to_have_text("Active")
    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.get_by_role("button", name="Disable account").click()
    expect(status).to_have_text("Disabled")
    assert dialogs == ["Disable this account? Its sessions and API tokens stop working at once."]
    expect(page.get_by_role("button", name="Enable account")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    row = page.get_by_role("row").filter(has_text="amira.haddad")
    expect(row).to_contain_text("Disabled")
    expect(row).to_contain_text("Documenter")

    # Both the sign-in and the disabling are in the audit trail.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    actions = page.locator("table.audit tbody td code")
    expect(actions.filter(has_text=re.compile(r"^user\.disable$"))).to_have_count(1)
    expect(actions.filter(has_text=re.compile(r"^auth\.login$")).first).to_be_visible()

    assert console_errors == []


def test_arabic_interface_is_right_to_left(
    live_url: str,
    initialised: tuple[Node, InitReport],
    page: Page,
    console_errors: list[str],
    screenshots: Path,
) -> None:
    page.goto(live_url + "/login")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "en")
    expect(html).to_have_attribute("dir", "ltr")

    page.get_by_label("Language").select_option("ar")
    expect(html).to_have_attribute("lang", "ar")
    expect(html).to_have_attribute("dir", "rtl")
    expect(page).to_have_url(live_url + "/login")
    language = cookie(page, "comity_lang")
    assert language["value"] == "ar"
    assert language["secure"] is True

    # The choice sticks on the next page too.
    page.reload()
    expect(html).to_have_attribute("dir", "rtl")
    page.screenshot(path=str(screenshots / "login-ar.png"), full_page=True)

    assert console_errors == []
