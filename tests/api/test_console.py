"""The web console, driven in a real browser against the real server.

The console is one more API client: it signs every request itself (SigV4 in WebCrypto),
so these tests exercise signing, roles and error reporting as a user meets them. They
run the system Chromium headless (never a downloaded browser) and skip without it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.api.conftest import Server, lfw_images, lfw_pair, unique
from tests.browser import ARGS, require_browser

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "artifacts" / "console-search.png"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = require_browser()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(executable), headless=True, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    """A fresh browser context (empty sessionStorage) on the console; fails the test on
    any uncaught script error or console error."""
    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # Refused API calls log "Failed to load resource"; anything else (a CSP violation, a
    # bad module) is a fault of the console.
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    pg.goto(server.url + "/")
    yield pg
    context.close()
    assert not errors, f"script errors in the console: {errors}"


def sign_in(page: Page, key_id: str, secret: str) -> None:
    page.fill("#signin-key", key_id)
    page.fill("#signin-secret", secret)
    page.click("#signin-submit")


@pytest.mark.data
def test_enroll_search_and_audit_as_admin(page: Page, server: Server) -> None:
    first, probe = lfw_pair()
    second = next(p for p in lfw_images(3) if p.parent != first.parent)
    collection, purpose = unique("console"), "console test: door access"
    person_a, person_b = unique(first.parent.name), unique(second.parent.name)

    sign_in(page, *server.keys["admin"])
    expect(page.locator("#whoami-role")).to_have_text("admin")
    expect(page.locator("#whoami-purpose")).to_have_text("tests as admin")
    for tab in ("collections", "enroll", "search", "audit"):
        expect(page.locator(f"#tab-{tab}")).to_be_visible()

    # A collection that requires consent, made through the form.
    page.fill("#create-name", collection)
    page.fill("#create-purpose", purpose)
    expect(page.locator("#create-consent")).to_be_checked()
    page.click("#create-submit")
    row = page.locator(f"[data-testid=collection-row][data-collection='{collection}']")
    expect(row.locator("[data-testid=collection-faces]")).to_have_text("0")

    # Two people, each with a consent record and one photo.
    page.click("#tab-enroll")
    for person, photo in ((person_a, first), (person_b, second)):
        page.select_option("#enroll-collection", collection)
        expect(page.locator("#enroll-purpose")).to_have_value(purpose)  # looked up, not typed
        page.fill("#enroll-person", person)
        page.select_option("#enroll-basis", "consent")
        page.check("#enroll-agreed")
        page.set_input_files("#enroll-photos", str(photo))
        page.click("#enroll-submit")
        result = page.locator(f"[data-testid=enroll-result][data-file='{photo.name}']")
        expect(result).to_have_attribute("data-indexed", "1")
        expect(page.locator("#enroll-summary")).to_contain_text(f"1 face indexed for {person}")
        expect(page.locator("#error")).to_be_hidden()
        page.uncheck("#enroll-agreed")
    expect(row.locator("[data-testid=collection-faces]")).to_have_text("2")

    # Another photo of the first person finds them first.
    page.click("#tab-search")
    page.select_option("#search-collection", collection)
    expect(page.locator("#search-threshold")).to_have_value("40")
    expect(page.locator("#search-threshold-rate")).to_contain_text("1 in 10,000")
    page.set_input_files("#search-photo-input", str(probe))
    page.click("#search-submit")
    expect(page.locator("#search-results")).to_be_visible()
    expect(page.locator("#error")).to_be_hidden()
    rows = page.locator("[data-testid=match-row]")
    expect(rows.first.locator("[data-testid=match-external-id]")).to_have_text(person_a)
    expect(rows.first.locator("[data-testid=match-rank]")).to_have_text("1")
    similarity = float(rows.first.locator("[data-testid=match-similarity]").inner_text())
    assert 40 <= similarity <= 100
    expect(rows.first.locator("[data-testid=match-false-match-rate]")).to_contain_text("1 in ")
    expect(page.locator("#search-face-crop")).to_have_attribute("data-drawn", "true")
    crop = page.locator("#search-face-crop").bounding_box()
    assert crop is not None and crop["width"] >= 100 and crop["height"] >= 100
    expect(page.locator("#search-summary")).to_contain_text("Expected false matches in this collection")
    expect(page.locator("[data-testid=search-caution]")).to_contain_text("lead, not a verdict")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    print(f"console screenshot: {SCREENSHOT}")

    # The audit log shows what was done, and its chain verifies.
    page.click("#tab-audit")
    page.fill("#audit-collection", collection)
    page.click("#audit-refresh")
    for action in ("CreateCollection", "AddConsent", "IndexFaces", "SearchFacesByImage"):
        expect(page.locator(f"[data-testid=audit-row][data-action={action}]").first).to_be_visible()
    page.click("#audit-verify")
    verdict = page.locator("#audit-verify-result")
    expect(verdict).to_have_attribute("data-valid", "true")
    expect(verdict).to_contain_text("Chain valid")

    # The key survives a reload of this tab (sessionStorage, never localStorage); signing
    # out forgets it.
    page.reload()
    expect(page.locator("#whoami-role")).to_have_text("admin")
    assert page.evaluate("localStorage.length") == 0
    page.click("#signout")
    expect(page.locator("#signin")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


@pytest.mark.parametrize(
    ("key", "code"),
    [("admin", "InvalidSignatureException"), ("FPAKNOSUCHKEY0000000", "UnrecognizedClientException")],
    ids=["bad-secret", "unknown-key"],
)
def test_bad_credentials_show_the_aws_error(page: Page, server: Server, key: str, code: str) -> None:
    key_id = server.keys[key][0] if key in server.keys else key
    sign_in(page, key_id, "not-the-secret")
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error")).to_have_attribute("data-code", code)
    expect(page.locator("#error-text")).to_have_text(re.compile(rf"^{code}: \S"))
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()


def test_searcher_is_not_offered_enrolment(page: Page, server: Server) -> None:
    sign_in(page, *server.keys["searcher"])
    expect(page.locator("#whoami-role")).to_have_text("searcher")
    expect(page.locator("#tab-search")).to_be_visible()
    expect(page.locator("#tab-collections")).to_be_visible()
    for hidden in ("#tab-enroll", "#tab-audit", "#create-card", "#panel-enroll"):
        expect(page.locator(hidden)).to_be_hidden()
