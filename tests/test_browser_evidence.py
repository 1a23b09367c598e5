"""The evidence beyond the centre crop, in a real browser: the metadata panel of a DALL·E 2
image, a region picked with two clicks and analysed, faces found and analysed.

Set FORENSICS_SCREENSHOT_DIR to keep the full-page screenshot.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import CHROMIUM, full_page_screenshot, requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]
sync_api = pytest.importorskip("playwright.sync_api")

from forensics import Detector  # noqa: E402
from test_app import serve  # noqa: E402
from test_browser import CHROMIUM_ARGS, UPLOAD  # noqa: E402

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def test_metadata_region_and_faces_in_the_browser(tiny_model_dir, tmp_path):
    detector = Detector.from_pretrained(tiny_model_dir, device="cpu")
    with serve(detector) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page_errors = []
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.goto(url)
            expect = sync_api.expect

            # A DALL·E 2 image from the detector authors' test set: the hint stands beside the verdict.
            page.set_input_files(UPLOAD, str(ASSETS / "dalle2_00000274.png"))
            expect(page.locator("#metadata")).to_contain_text("GENERATOR TRACES", timeout=30_000)
            expect(page.locator("#metadata")).to_contain_text("Made with OpenAI DALL-E")
            expect(page.locator("#verdict .fx-prob")).to_be_visible()

            # A portrait: two clicks on the canvas pick a region, which gets its own verdict.
            portrait = ASSETS / "grace_hopper.jpg"
            expected_whole = detector.analyze(portrait)
            page.set_input_files(UPLOAD, str(portrait))
            expect(page.locator("#verdict")).to_contain_text(expected_whole.input_sha256, timeout=30_000)
            expect(page.locator("#metadata")).to_contain_text("NO GENERATOR TRACES")
            # The Regions and faces panels are folded until the analyst opens them.
            expect(page.locator("#region-canvas")).to_be_hidden()
            page.locator("#regions").get_by_text("Regions at full resolution, and faces").click()
            canvas = page.locator("#region-canvas img")
            canvas.scroll_into_view_if_needed()
            expect(canvas).to_be_visible()
            box = canvas.bounding_box()
            natural = canvas.evaluate("img => [img.naturalWidth, img.naturalHeight]")
            # The picture is drawn "contain" inside the element: find where it lies.
            k = min(box["width"] / natural[0], box["height"] / natural[1])
            ox, oy = (box["width"] - k * natural[0]) / 2, (box["height"] - k * natural[1]) / 2
            for x, y in ((160, 110), (370, 320)):  # around the face, in picture pixels (shown 1:1)
                before = canvas.get_attribute("src")
                canvas.click(position={"x": ox + x * k, "y": oy + y * k})
                # Each click redraws the canvas (corner marker, then the box): wait for it, as a person would.
                page.wait_for_function("([sel, old]) => { const i = document.querySelector(sel); "
                                       "return i && i.src !== old && i.complete && i.naturalWidth > 0; }",
                                       arg=["#region-canvas img", before], timeout=15_000)
            expect(page.locator("#region-right input")).not_to_have_value("", timeout=15_000)
            left = int(page.locator("#region-left input").input_value())
            right = int(page.locator("#region-right input").input_value())
            assert abs(left - 160) <= 3 and abs(right - 370) <= 3
            page.locator("#region-btn").click()
            expect(page.locator("#region-card")).to_contain_text("Region: P(AI-generated)", timeout=30_000)
            expect(page.locator("#region-card")).to_contain_text("native resolution")
            expect(page.locator("#region-input img")).to_be_visible()

            # Faces: found, each analysed.
            page.locator("#faces-btn").click()
            expect(page.locator("#faces-note")).to_contain_text("1 face(s) found", timeout=30_000)
            expect(page.locator("#faces-table")).to_contain_text("(")
            expect(page.locator("#faces-overview img")).to_be_visible()

            # Does the verdict survive re-encoding? The sweep on request: its grid, and its
            # judgement beside the verdict card.
            expect(page.locator("#robust-badge")).not_to_contain_text("RE-ENCODING")
            page.locator("#robustness").get_by_text("Does the verdict survive re-encoding?").click()
            page.locator("#robust-btn").click()
            expect(page.locator("#robust-badge")).to_contain_text("RE-ENCODING", timeout=60_000)
            expect(page.locator("#robust-card")).to_contain_text("copies; the verdict holds in")
            expect(page.locator("#robust-grid img")).to_be_visible()

            # Video: a clip gives a timeline and the strongest frame; another frame on request.
            from test_video import write_clip
            clip = tmp_path / "clip.mp4"
            write_clip(clip, frames=30)
            page.get_by_role("tab", name="Video").click()
            page.set_input_files("#video-file input[type=file]", str(clip))
            page.locator("#video-btn").click()
            expect(page.locator("#video-card .fx-verdict")).to_be_visible(timeout=60_000)
            expect(page.locator("#timeline img")).to_be_visible()
            expect(page.locator("#frame-card")).to_contain_text("Frame ")
            expect(page.locator("#frame-overlay img")).to_be_visible()
            page.locator("#frame-pick input").click()
            page.get_by_role("option").last.click()
            expect(page.locator("#frame-card")).to_contain_text("Frame 29", timeout=15_000)
            full_page_screenshot(page, tmp_path / "video.png", "app_video.png")

            page.get_by_role("tab", name="Image").click()
            full_page_screenshot(page, tmp_path / "evidence.png", "app_evidence.png")
            assert page_errors == []
        finally:
            browser.close()
