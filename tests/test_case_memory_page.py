"""Memory across cases on the Case tab (issue 30): the "seen before" column, the NOTABLE note at
intake, "More like this" and "Families", through the tab's handlers (webui/case.py and
webui/case_memory.py) on a real store in tmp_path with the tiny detector, no browser. Isolation: another analyst's case is never
named on the page."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from cases_helpers import copy_of, image_bytes, scene, variant
from helpers import full_page_screenshot, CHROMIUM, requires_chromium
from webui import case, case_memory
from webui.case import CaseRoom

ALICE, BOB = "alice", "bob"
SEEN, FILE, ID = (case.TABLE_HEADERS.index(h) for h in ("seen before", "file", "id"))


@pytest.fixture
def room(tmp_path):
    r = CaseRoom(tmp_path / "store")
    yield r
    r.store().close()


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def new_case(room, user, name, paths, detector) -> tuple[str, dict]:
    key = case.create_case(room, user, name, "")["case_open"]
    assert key == f"{user}/{name}"
    return key, case.add_files(room, user, key, paths, detector)


def body_rows(panel: str) -> list[list[str]]:
    """The cells of an HTML table's body, as text."""
    body = re.search(r"<tbody>(.*)</tbody>", panel, re.S).group(1)
    return [re.findall(r"<td>(.*?)</td>", tr, re.S) for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.fixture
def marked_a(room, tiny_detector, tmp_path):
    """alice's case A: four scenes, scene1 marked AI-generated -> (key, scene1's item id)."""
    files = [write(tmp_path / "a", f"scene{s}.png", image_bytes(scene(s))) for s in range(4)]
    key, _ = new_case(room, ALICE, "A", files, tiny_detector)
    marked = next(i.id for i in room.store().items(key, ALICE) if i.file_name == "scene1.png")
    room.store().mark(key, marked, ALICE, truth="ai")
    return key, marked


def test_the_column_comes_last_so_keyboard_triage_keeps_its_positions():
    assert case.TABLE_HEADERS[-1] == "seen before" and len(case.TABLE_TYPES) == len(case.TABLE_HEADERS)
    assert case.ID_COLUMN == 1 and case.TABLE_HEADERS.index("status") == 9
    assert f'data-status-col="{case.TABLE_HEADERS.index("status")}"' in case.keys_panel()


def test_a_copy_marked_ai_elsewhere_is_announced_and_shown_in_the_column(room, marked_a, tiny_detector, tmp_path):
    _, marked = marked_a
    files = [write(tmp_path / "b", "repost.jpg", copy_of(scene(1))), write(tmp_path / "b", "other.png",
                                                                             image_bytes(scene(20)))]
    key, out = new_case(room, ALICE, "B", files, tiny_detector)
    rows = {r[FILE]: r for r in out["case_table"]}
    copy_id = rows["repost.jpg"][ID]
    assert len(rows["repost.jpg"]) == len(case.TABLE_HEADERS)
    assert rows["repost.jpg"][SEEN].startswith(f"case A #{marked}, ")            # the link back
    assert "marked AI-generated" in rows["repost.jpg"][SEEN]
    assert rows["other.png"][SEEN] == ""                                         # met nowhere: blank
    assert (f"NOTABLE: item {copy_id} (repost.jpg) seen before in case A item {marked}, marked AI-generated"
            in out["case_note"])
    assert out["case_note"].count("NOTABLE") == 1                                # not the unrelated one
    # The column is computed on read: a mark cleared in case A no longer reads as AI there.
    room.store().mark("alice/A", marked, ALICE, truth="")
    again = case.open_case(room, ALICE, key)["case_table"]
    cell = next(r[SEEN] for r in again if r[ID] == copy_id)
    assert cell.startswith(f"case A #{marked}") and "AI" not in cell
    # The filter reads the new column like any other.
    assert [r[FILE] for r in case.filter_table(room, ALICE, key, "seen before", "case A")["case_table"]] == [
        "repost.jpg"]


def test_another_analyst_adding_the_same_copy_sees_no_trace_of_alices_case(room, marked_a, tiny_detector, tmp_path):
    copy = write(tmp_path / "bob", "repost.jpg", copy_of(scene(1)))
    key, out = new_case(room, BOB, "B", [copy], tiny_detector)
    (row,) = out["case_table"]
    assert row[SEEN] == "" and "NOTABLE" not in out["case_note"]
    found = case_memory.similar_items(room, BOB, key, row[ID], all_cases=True)["case_memory"]
    assert "alice" not in found and "A" not in re.sub(r"<[^>]*>", "", found).split()
    assert "No other item in all the cases you may see" in found
    families = case_memory.families_view(room, BOB, key)["case_memory"]
    assert "alice" not in families
    # alice's handlers refuse bob's case, and bob's hers, with the store's words
    assert "has no case named" in case_memory.similar_items(room, BOB, "alice/A", marked_a[1], True)["case_memory"]
    assert "has no case named" in case_memory.families_view(room, BOB, "alice/A")["case_memory"]


def test_more_like_this_lists_the_planted_copy_first(room, marked_a, tiny_detector, tmp_path):
    _, marked = marked_a
    key, out = new_case(room, ALICE, "B", [write(tmp_path / "b", "repost.jpg", copy_of(scene(1))),
                                           write(tmp_path / "b", "other.png", image_bytes(scene(20)))],
                        tiny_detector)
    copy_id = next(r[ID] for r in out["case_table"] if r[FILE] == "repost.jpg")

    everywhere = case_memory.similar_items(room, ALICE, key, copy_id, all_cases=True)["case_memory"]
    rows = body_rows(everywhere)
    assert rows[0][:2] == ["A", str(marked)] and rows[0][2] == "scene1.png"
    assert rows[0][4] == "ai" and rows[0][6] in ("near-duplicate", "similar")
    assert float(rows[0][7]) >= 0.999 and [float(r[7]) for r in rows] == sorted((float(r[7]) for r in rows),
                                                                                 reverse=True)
    assert "<caption>More like item" in everywhere and "not made by the same generator" in everywhere

    here = body_rows(case_memory.similar_items(room, ALICE, key, copy_id, all_cases=False)["case_memory"])
    assert [r[0] for r in here] == ["B"] and here[0][2] == "other.png" and here[0][6] == "nearest"

    assert "Pick an item first" in case_memory.similar_items(room, ALICE, key, None)["case_memory"]
    assert "Open a case first" in case_memory.similar_items(room, ALICE, None, copy_id)["case_memory"]
    assert "no item 999" in case_memory.similar_items(room, ALICE, key, 999)["case_memory"]


def test_families_show_the_planted_groups_worded_as_similarity_not_attribution(room, tiny_detector, tmp_path):
    files = [write(tmp_path / "f", f"s{s}_v{k}.png", image_bytes(variant(scene(s), k)))
             for s, n in ((11, 4), (12, 3)) for k in range(n)]
    files.append(write(tmp_path / "f", "s13_v0.png", image_bytes(scene(13))))
    key, out = new_case(room, ALICE, "F", files, tiny_detector)
    ids = {r[FILE]: r[ID] for r in out["case_table"]}
    panel = case_memory.families_view(room, ALICE, key)["case_memory"]
    assert "Visually and forensically similar families: 2 of two or more items, 1 item(s) alone" in panel
    assert "never a statement about which generator" in panel
    shown = [set(int(i) for i in re.findall(r"#(\d+)", r[2])) for r in body_rows(panel)]
    planted = [{ids[f"s{s}_v{k}.png"] for k in range(n)} for s, n in ((11, 4), (12, 3))]
    assert shown == planted                                                       # largest first
    assert all(r[3] and r[4] == "none marked" for r in body_rows(panel))
    room.store().mark(key, ids["s12_v0.png"], ALICE, truth="ai")
    again = body_rows(case_memory.families_view(room, ALICE, key)["case_memory"])
    assert again[1][4] == "1 AI-generated" and again[0][4] == "none marked"
    assert "Open a case first" in case_memory.families_view(room, ALICE, None)["case_memory"]


# -- in the browser ----------------------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.slow
@requires_chromium
def test_in_the_browser_a_dropped_copy_is_notable_and_more_like_this_finds_its_original(tiny_detector, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    from test_browser_case import CHROMIUM_ARGS, ROWS, serve

    room = CaseRoom(tmp_path / "store")
    user = room.user(None, None)
    store = room.store()
    store.create_case("A", owner=user)
    store.add_files("A", [write(tmp_path / "a", f"scene{s}.png", image_bytes(scene(s))) for s in range(4)],
                    tiny_detector, user=user)
    marked = next(i for i in store.items("A", user) if i.file_name == "scene1.png")
    store.mark("A", marked.id, user, truth="ai")
    store.create_case("B", owner=user)
    copy = write(tmp_path / "b", "repost.jpg", copy_of(scene(1)))
    expect = sync_api.expect
    with serve(tiny_detector, room) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            page.locator("#tab-case-button").click()
            expect(page.locator("#case-list")).to_contain_text("B", timeout=15_000)
            page.locator("#case-pick input").click()
            page.get_by_role("option", name="B", exact=True).click()
            expect(page.locator("#case-heading")).to_contain_text("B", timeout=15_000)

            # The copy dropped into B is announced as notable, with the link back to A.
            page.set_input_files("#case-files input[type=file]", [str(copy)])
            note = page.locator("#case-note")
            expect(note).to_contain_text("NOTABLE: item", timeout=60_000)
            expect(note).to_contain_text(f"seen before in case A item {marked.id}, marked AI-generated")
            expect(page.locator(ROWS)).to_have_count(1)
            expect(page.locator(ROWS).first).to_contain_text(f"case A #{marked.id}")
            (item,) = store.items("B", user)

            # More like this, over all my cases: the original in A comes first.
            page.locator("#case-item input").click()
            page.get_by_role("option", name=f"{item.id} · repost.jpg").click()
            page.get_by_label("Search all my cases").check()
            page.get_by_role("button", name="More like this").click()
            first = page.locator("#case-memory tbody tr").first
            expect(first).to_contain_text("scene1.png", timeout=15_000)
            expect(page.locator("#case-memory caption")).to_contain_text(f"More like item {item.id}")
            full_page_screenshot(page, tmp_path / "more.png", "case_more_like_this.png")

            page.get_by_role("button", name="Families in this case").click()
            expect(page.locator("#case-memory")).to_contain_text("visually and forensically similar families",
                                                                 timeout=15_000)

            # Opening another case clears the panel: its lists were about case B.
            page.locator("#case-pick input").click()
            page.get_by_role("option", name="A", exact=True).click()
            expect(page.locator("#case-heading")).to_contain_text("A", timeout=15_000)
            expect(page.locator("#case-memory table")).to_have_count(0, timeout=15_000)
            expect(page.locator("#case-memory")).not_to_contain_text("families")
            assert errors == []
        finally:
            browser.close()
    store.close()
