"""Keyboard triage of a case (issue 31): in a real browser, with the keyboard alone, an analyst opens
a case, marks three items with single keys (status and truth), jumps to the next item still to
check and opens it in the Image tab; every act is announced and kept in the case; axe-core finds no
serious or critical violation on the Case tab with the case open. Beside it, without a browser: the
handler behind the keys (`case.key_act`) and the panel that tells triage.js the keys and columns.
"""
from __future__ import annotations

import re

import pytest

from cases_helpers import write_scenes
from helpers import CHROMIUM, requires_axe, requires_chromium
from test_accessibility import CHROMIUM_ARGS, WINDOW, assert_visible_focus, axe_violations, focused, tab_to
from webui import case
from webui.case import CaseRoom

ROWS = "#case-table .virtual-body [role=row]"


@pytest.fixture
def room_with_a_case(tiny_detector, tmp_path):
    """A kept store holding case "exhibit-9" with five analysed pictures (added as the CLI would)."""
    room = CaseRoom(tmp_path / "store")
    user = room.user(None, None)
    room.store().create_case("exhibit-9", owner=user, title="Keyboard pass")
    room.store().add_files("exhibit-9", [str(f) for f in write_scenes(tmp_path / "in", [1, 2, 3, 4, 5])],
                           tiny_detector, user=user)
    yield room, user
    room.store().close()


def items_by_id(room: CaseRoom, user: str) -> dict:
    return {i.id: i for i in room.store().items("exhibit-9", user)}


# -- without a browser -------------------------------------------------------------------------------

def test_each_key_marks_the_item_and_says_so(room_with_a_case):
    room, user = room_with_a_case
    first, second = sorted(items_by_id(room, user))[:2]
    out = case.key_act(room, user, "exhibit-9", str(first), "w")
    assert items_by_id(room, user)[first].status == "warning"
    assert out["case_status"] == "warning" and out["case_item"] == first
    assert f"Item {first}, scene1.png: status warning." in out["case_keys"]
    assert f'data-item="{first}"' in out["case_keys"]
    row = next(r for r in out["case_table"] if r[case.ID_COLUMN] == first)
    assert row[case.TABLE_HEADERS.index("status")] == "warning"  # the table is redrawn with the mark

    case.key_act(room, user, "exhibit-9", first, "a")
    assert items_by_id(room, user)[first].truth == "ai"
    out = case.key_act(room, user, "exhibit-9", first, "u")
    assert items_by_id(room, user)[first].truth is None and "truth unknown." in out["case_keys"]
    out = case.key_act(room, user, "exhibit-9", first, "w")
    assert "status warning, as it was." in out["case_keys"]  # nothing changed, and it says so
    case.key_act(room, user, "exhibit-9", second, "r")
    assert items_by_id(room, user)[second].truth == "real" and items_by_id(room, user)[second].status == "check"
    # Every key's mark is an entry in the case's audit log, like one saved from the mark panel.
    assert room.store().verify("exhibit-9", user).ok


def test_a_key_that_marks_nothing_or_no_item_changes_nothing(room_with_a_case):
    room, user = room_with_a_case
    before = {i: (x.status, x.truth) for i, x in items_by_id(room, user).items()}
    assert "marks nothing" in case.key_act(room, user, "exhibit-9", 1, "x")["case_keys"]
    assert "Open a case" in case.key_act(room, user, None, 1, "w")["case_keys"]
    assert "Open a case" in case.key_act(room, user, "exhibit-9", "", "w")["case_keys"]
    refused = case.key_act(room, user, "exhibit-9", 999, "w")
    assert "no item 999" in refused["case_note"] and "case_table" not in refused
    assert {i: (x.status, x.truth) for i, x in items_by_id(room, user).items()} == before


def test_the_keys_panel_tells_the_page_the_keys_and_columns():
    panel = case.keys_panel()
    assert f'data-keys="{"".join(case.TRIAGE_KEYS)}"' in panel
    assert f'data-id-col="{case.TABLE_HEADERS.index("id")}"' in panel
    assert f'data-status-col="{case.TABLE_HEADERS.index("status")}"' in panel
    for key in (*case.TRIAGE_KEYS, case.NEXT_KEY, "Enter"):
        assert f"<kbd>{key}</kbd>" in panel
    assert set(v for f, v in case.TRIAGE_KEYS.values() if f == "status") == set(case.STATUSES)
    assert "&lt;b&gt;" in case.keys_panel("<b>", 3)  # what is said is escaped (it carries file names)
    assert all(case.TABLE_HEADERS), "every column of the triage table has a header"


# -- in the browser ----------------------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.slow
@requires_chromium
@requires_axe
def test_three_items_marked_and_one_opened_with_the_keyboard_alone(room_with_a_case, tiny_detector):
    sync_api = pytest.importorskip("playwright.sync_api")
    from test_browser_case import serve
    room, user = room_with_a_case
    items = items_by_id(room, user)
    by_name = {i.file_name: i for i in items.values()}
    expect = sync_api.expect
    with serve(tiny_detector, room) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=WINDOW)
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            announcer = page.locator("#fx-announcer")

            # To the Case tab and into the list of cases; Enter opens the case.
            tab_to(page, lambda f: f["id"] == "tab-case-button")
            page.keyboard.press("Enter")
            expect(page.locator("#case-list")).to_contain_text("exhibit-9", timeout=15_000)
            tab_to(page, lambda f: f["id"] == "case-list" and f["role"] == "gridcell")
            page.keyboard.press("Enter")
            expect(page.locator("#case-heading h2")).to_contain_text("exhibit-9: Keyboard pass", timeout=15_000)
            expect(page.locator(ROWS)).to_have_count(5)

            # Into the triage table: the first row has focus.
            tab_to(page, lambda f: f["id"] == "case-table" and f["role"] == "gridcell")
            assert row_of_focus(page) == by_name["scene1.png"].id

            def key(k: str, said: str) -> None:
                page.keyboard.press(k)
                expect(announcer).to_contain_text(said, timeout=15_000)
                assert_visible_focus(focused(page))

            # Item 1: warning. Item 2: ok, then truth AI-generated. Item 3: truth real.
            key("w", "scene1.png: status warning.")
            assert row_of_focus(page) == by_name["scene1.png"].id  # the focus stays on the marked row
            page.keyboard.press("ArrowDown")
            key("o", "scene2.png: status ok.")
            key("a", "scene2.png: truth AI-generated.")
            page.keyboard.press("ArrowDown")
            key("r", "scene3.png: truth real.")
            expect(page.locator(ROWS).filter(has_text="scene1.png")).to_contain_text("warning")
            expect(page.locator(ROWS).filter(has_text="scene2.png")).to_contain_text("ok")

            # Back to the top, then n: the next item still to check is scene3 (only its truth was set).
            page.keyboard.press("Control+Home")
            key("n", f"Item {by_name['scene3.png'].id}, still to check.")
            assert row_of_focus(page) == by_name["scene3.png"].id
            key("n", f"Item {by_name['scene4.png'].id}, still to check.")
            assert axe_violations(page) == [], "Case tab with a case open"

            # Enter opens the item in the Image tab, with its verdict, and says it.
            page.keyboard.press("Enter")
            expect(page.locator("#tab-image-button")).to_have_attribute("aria-selected", "true", timeout=15_000)
            expect(page.locator("#verdict")).to_contain_text(by_name["scene4.png"].sha256, timeout=30_000)
            expect(announcer).to_contain_text("P(AI-generated)", timeout=15_000)
            assert focused(page)["id"] == "tab-image-button"
            assert errors == []
        finally:
            browser.close()

    kept = {i.file_name: (i.status, i.truth) for i in items_by_id(room, user).values()}
    assert kept == {"scene1.png": ("warning", None), "scene2.png": ("ok", "ai"), "scene3.png": ("check", "real"),
                    "scene4.png": ("check", None), "scene5.png": ("check", None)}
    assert room.store().verify("exhibit-9", user).ok


def row_of_focus(page) -> int:
    """The item id in the row that has the keyboard focus."""
    text = page.evaluate(f"""() => document.activeElement.closest('[role=row]')
                              ?.querySelector('[data-col="{case.ID_COLUMN}"]')?.innerText ?? ''""")
    assert re.fullmatch(r"\d+", text.strip()), f"the focus is not in a row of the table: {text!r}"
    return int(text)
