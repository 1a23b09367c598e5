"""The Case tab in a real browser (Debian's Chromium driven by Playwright): create a case, drop
files, triage, mark, open an item in the Image tab, reload, download the report.

Set FORENSICS_SCREENSHOT_DIR to keep the full-page screenshot.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from helpers import CHROMIUM, full_page_screenshot, requires_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow, requires_chromium]
sync_api = pytest.importorskip("playwright.sync_api")

import webui  # noqa: E402
from cases_helpers import write_scenes  # noqa: E402
from test_app import free_port  # noqa: E402
from webui.case import CaseRoom  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROWS = "#case-table .virtual-body [role=row]"  # Gradio 6 draws a virtual table: rows are divs


@contextlib.contextmanager
def serve(detector, room: CaseRoom):
    blocks = webui.build_app(detector, cases=room)
    blocks.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                  **webui.LAUNCH_OPTIONS)
    try:
        yield blocks.local_url
    finally:
        blocks.close()


def test_a_case_is_built_triaged_opened_and_kept_across_a_reload(tiny_detector, tmp_path):
    room = CaseRoom(tmp_path / "store")
    files = write_scenes(tmp_path / "in", [1, 2, 3])
    with serve(tiny_detector, room) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, accept_downloads=True)
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            expect = sync_api.expect
            page.goto(url)
            page.locator("#tab-case-button").click()
            expect(page.locator("#case-banner")).to_contain_text("kept in this server's store", timeout=15_000)

            # Create a case, drop three files: three rows, each with a thumbnail.
            page.locator("#case-new-name textarea").fill("exhibit-7")
            page.locator("#case-new-title textarea").fill("Reported uploads")
            page.locator("#case-create").click()
            expect(page.locator("#case-heading")).to_contain_text("exhibit-7: Reported uploads", timeout=15_000)
            page.set_input_files("#case-files input[type=file]", [str(f) for f in files])
            expect(page.locator("#case-note")).to_contain_text("3 analysed", timeout=60_000)
            expect(page.locator(ROWS)).to_have_count(3)
            expect(page.locator(f"{ROWS} img")).to_have_count(3)
            expect(page.locator("#case-list")).to_contain_text("exhibit-7")
            items = {i.file_name: i for i in room.store().items("exhibit-7", room.user(None, None))}

            # Mark one: status, truth and a note, shown in the table and kept in the store.
            page.locator("#case-item input").click()
            page.get_by_role("option", name=f"{items['scene2.png'].id} · scene2.png").click()
            page.locator("#case-status").get_by_label("warning").check()
            page.locator("#case-truth").get_by_label("AI-generated").check()
            page.locator("#case-mark-note textarea").fill("re-encoded twice")
            page.locator("#case-mark").click()
            expect(page.locator("#case-note")).to_contain_text("status, notes, truth changed", timeout=15_000)
            expect(page.locator(ROWS).filter(has_text="scene2.png")).to_contain_text("warning")
            expect(page.locator(ROWS).filter(has_text="scene2.png")).to_contain_text("re-encoded twice")

            # The filter narrows the table; clearing it brings every row back.
            page.locator("#case-filter textarea").fill("warning")
            expect(page.locator(ROWS)).to_have_count(1)
            page.locator("#case-filter textarea").fill("")
            expect(page.locator(ROWS)).to_have_count(3)

            # The report and the bundle download from the page.
            page.locator("#case-report").click()
            expect(page.locator("#case-pdf")).to_be_visible(timeout=60_000)
            with page.expect_download(timeout=15_000) as download:
                page.locator("#case-pdf").click()
            assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
            assert download.value.suggested_filename == "exhibit-7-report.pdf"
            with page.expect_download(timeout=15_000) as download:
                page.locator("#case-bundle").click()
            assert Path(download.value.path()).read_bytes()[:2] == b"PK"
            full_page_screenshot(page, tmp_path / "case.png", "app_case_tab.png")

            # A second case is empty; clicking the first in the list of cases opens it again.
            page.locator("#case-new-name textarea").fill("exhibit-8")
            page.locator("#case-create").click()
            expect(page.locator("#case-heading")).to_contain_text("exhibit-8", timeout=15_000)
            expect(page.locator(ROWS)).to_have_count(0)
            expect(page.locator("#case-list")).to_contain_text("exhibit-8")
            page.locator("#case-list .virtual-body [role=row]").filter(has_text="exhibit-7").locator(
                "[role=gridcell]").first.click()
            expect(page.locator("#case-heading")).to_contain_text("exhibit-7", timeout=15_000)
            expect(page.locator(ROWS)).to_have_count(3)

            # A row clicked opens the item in the Image tab with its verdict.
            page.locator(ROWS).filter(has_text="scene1.png").locator("[role=gridcell]").nth(2).click()
            expect(page.locator("#tab-image-button")).to_have_attribute("aria-selected", "true", timeout=15_000)
            scene1 = items["scene1.png"]
            expect(page.locator("#verdict .fx-prob")).to_contain_text(f"{100 * scene1.fake_probability:.1f}",
                                                                      timeout=30_000)
            expect(page.locator("#verdict")).to_contain_text(scene1.sha256)
            expect(page.locator("#overlay-original img")).to_be_visible(timeout=30_000)
            full_page_screenshot(page, tmp_path / "opened.png", "app_case_item_in_image_tab.png")

            # A reload: the case list and the open case are still there.
            page.reload()
            page.locator("#tab-case-button").click()
            expect(page.locator(ROWS)).to_have_count(3, timeout=15_000)
            expect(page.locator("#case-heading")).to_contain_text("exhibit-7")
            expect(page.locator(ROWS).filter(has_text="scene2.png")).to_contain_text("warning")
            assert errors == []
        finally:
            browser.close()

    # An app restart on the same store: everything is still there.
    reopened = CaseRoom(tmp_path / "store")
    kept = reopened.store().items("exhibit-7", reopened.user(None, None))
    assert [(i.file_name, i.status, i.truth) for i in kept] == [
        ("scene1.png", "check", None), ("scene2.png", "warning", "ai"), ("scene3.png", "check", None)]
    assert reopened.store().verify("exhibit-7", reopened.user(None, None)).ok
    reopened.store().close()
    room.store().close()


def test_without_a_store_the_tab_says_cases_are_ephemeral(tiny_detector, tmp_path):
    with serve(tiny_detector, CaseRoom()) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url)
            page.locator("#tab-case-button").click()
            banner = page.locator("#case-banner")
            sync_api.expect(banner).to_contain_text("This server keeps no cases", timeout=15_000)
            sync_api.expect(banner).to_contain_text("ephemeral")
            sync_api.expect(banner).to_contain_text("--store DIR")
        finally:
            browser.close()


def test_with_login_the_page_asks_for_an_account_and_shows_only_that_users_cases(tiny_detector, tmp_path):
    room = CaseRoom(tmp_path / "store", login=True)
    for name in ("alice", "bob"):
        room.store().add_user(name, f"{name}'s password")
    room.store().create_case("alice-only", owner="alice")
    blocks = webui.build_app(tiny_detector, cases=room)
    blocks.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                  auth=room.auth(), **webui.LAUNCH_OPTIONS)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for user, expected in (("bob", []), ("alice", ["alice-only"])):
                    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
                    page.goto(blocks.local_url)
                    page.get_by_label("username").fill(user)
                    page.get_by_label("password").fill(f"{user}'s password")
                    page.get_by_role("button", name="Login").click()
                    page.locator("#tab-case-button").click()
                    sync_api.expect(page.locator("#case-banner")).to_contain_text(f"You are {user}", timeout=15_000)
                    listed = page.locator("#case-list")
                    if expected:
                        sync_api.expect(listed).to_contain_text("alice-only")
                    else:  # the banner and the list come from one load event: the list is there
                        assert "alice-only" not in listed.inner_text()
                    page.context.close()
            finally:
                browser.close()
    finally:
        blocks.close()
        room.store().close()
