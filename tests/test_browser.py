"""The page in a real browser: Debian's Chromium driven by Playwright (never a downloaded one).

Set FORENSICS_SCREENSHOT_DIR to keep the full-page screenshot.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image

from helpers import CHROMIUM, full_page_screenshot, requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]  # skipped without Chromium: tests/helpers.py
sync_api = pytest.importorskip("playwright.sync_api")

from conftest import encode, make_photo  # noqa: E402
import forensics.model.capture  # noqa: E402
import webui.session  # noqa: E402
from forensics import Detector  # noqa: E402
from test_app import serve  # noqa: E402
from webui.ui_image import ASSETS  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
UPLOAD = "#input-image input[type=file]"


def test_upload_analyse_inspect_deep_check_and_download(tiny_model_dir, tmp_path, monkeypatch):
    detector = Detector.from_pretrained(tiny_model_dir, device="cpu")
    photo = tmp_path / "street.png"
    photo.write_bytes(encode(make_photo(640, 400, seed=5)))
    bogus = tmp_path / "letter.png"
    bogus.write_bytes(b"Dear analyst, this is a letter.\n" * 10)
    second = tmp_path / "second.png"
    second.write_bytes(encode(make_photo(500, 300, seed=9)))
    second_sha = hashlib.sha256(second.read_bytes()).hexdigest()
    hopper_sha = hashlib.sha256((ASSETS / "grace_hopper.jpg").read_bytes()).hexdigest()
    expected = detector.analyze(photo)
    top = expected.top_patches(1)[0]
    forwards = []
    real_forward = forensics.model.capture.forward
    monkeypatch.setattr(forensics.model.capture, "forward", lambda *a, **k: forwards.append(1) or real_forward(*a, **k))
    page_analyses = []  # the page's analyses of a new image (drop, example, Analyze)
    real_page_analysis = webui.session.analyze_for_page
    monkeypatch.setattr(webui.session, "analyze_for_page",
                        lambda det, path, *a: page_analyses.append(path) or real_page_analysis(det, path, *a))

    with serve(detector) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, accept_downloads=True)
            page_errors = []
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.goto(url)
            expect = sync_api.expect

            # A real upload: the verdict, the heatmaps and the ledger appear.
            page.set_input_files(UPLOAD, str(photo))
            expect(page.locator("#verdict .fx-prob")).to_contain_text(f"{100 * expected.fake_probability:.1f}",
                                                                      timeout=30_000)
            expect(page.locator("#verdict")).to_contain_text(expected.input_sha256)
            expect(page.locator("#overlay-original img")).to_be_visible()
            expect(page.locator("#overlay-input img")).to_be_visible()
            expect(page.locator("#ledger")).to_contain_text("({},{},{},{})".format(
                *expected.top_patches(1)[0]["box_original"]))

            # Clicking the strongest patch on the heatmap of the original inspects it.
            heatmap = page.locator("#overlay-original img")
            box = heatmap.bounding_box()
            natural_w, natural_h = heatmap.evaluate("img => [img.naturalWidth, img.naturalHeight]")
            assert (natural_w, natural_h) == (640, 400)  # small enough to be sent at full size
            fit = min(box["width"] / natural_w, box["height"] / natural_h, 1)  # object-fit: scale-down
            left, top_, right, bottom = top["box_original"]
            heatmap.click(position={"x": (box["width"] - natural_w * fit) / 2 + (left + right) / 2 * fit,
                                    "y": (box["height"] - natural_h * fit) / 2 + (top_ + bottom) / 2 * fit})
            expect(page.locator("#patch-text")).to_contain_text(
                f"Patch row {top['row']}, column {top['col']}: rank 1 of 576", timeout=15_000)
            page.locator("#patch-zoom").scroll_into_view_if_needed()  # under the first screen; drawn once seen
            expect(page.locator("#patch-zoom img")).to_be_visible()

            # The explainer controls recompute the rollout from the kept attention: no new forward.
            assert len(forwards) == 1
            page.locator("#head-fusion").get_by_label("max").check()
            expect(page.locator("#verdict")).to_contain_text("max head fusion", timeout=15_000)
            assert len(forwards) == 1

            # grad-rollout: one forward + backward the first time; switching back and forth, none.
            explainer = page.locator("#explainer")
            for choice, shown in [("grad-rollout (evidence for AI-generated)", "Showing grad-rollout"),
                                  ("attention rollout (class-agnostic)", "Showing attention rollout"),
                                  ("grad-rollout (evidence for AI-generated)", "Showing grad-rollout")]:
                page.locator("#method").get_by_label(choice).check()
                expect(explainer).to_contain_text(shown, timeout=15_000)
                expect(explainer).to_contain_text("Method agreement")
                assert len(forwards) == 2

            # The deep check, toggled on, runs for what is shown and fills its four parts.
            page.locator("#deep-toggle input").check()
            expect(page.locator("#deep-faithfulness .fx-badge")).to_contain_text("FAITHFUL", timeout=30_000)
            expect(page.locator("#deep-status")).to_contain_text("grad-rollout map (max head fusion")
            expect(page.locator("#deep-stability .fx-badge")).to_be_visible()
            expect(page.locator("#stability-table")).to_contain_text("JPEG q90")
            expect(page.locator("#deletion-plot img")).to_be_visible()
            expect(page.locator("#coverage-overlay img")).to_be_visible()
            expect(page.locator("#deep-coverage")).to_contain_text("centre crop alone")
            expect(page.locator("#reliability-overlay img")).to_be_visible()
            expect(page.locator("#deep-reliability")).to_contain_text("high-norm outlier tokens")
            page.locator("#color-scale").get_by_label("absolute", exact=False).check()
            expect(explainer).to_contain_text("absolute scale: full colour", timeout=15_000)

            # Exports: prepare, then download the annotated PNG (and the JSON record).
            page.locator("#export-btn").click()
            download_png = page.locator("#download-png")
            expect(download_png).to_be_visible(timeout=30_000)
            with page.expect_download(timeout=15_000) as download:
                download_png.click()
            saved = tmp_path / "downloaded.png"
            download.value.save_as(saved)
            with Image.open(saved) as png:
                png.verify()
                assert png.format == "PNG" and min(png.size) > 100
            with page.expect_download(timeout=15_000) as download:
                page.locator("#download-json").click()
            exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
            assert exported["method"]["name"] == "grad-rollout" and "deep_check" in exported
            assert exported["color_scale"]["name"] == "absolute"

            page.locator("#compare").scroll_into_view_if_needed()  # the slider lays out once seen
            page.wait_for_timeout(300)
            page.locator("#deep-panel").scroll_into_view_if_needed()
            full_page_screenshot(page, tmp_path / "page.png", "app_tiny_model.png")

            # A file that is not an image: the reason is shown in the page, the old result is gone.
            page.set_input_files(UPLOAD, str(bogus))
            expect(page.locator("#verdict .fx-card.error")).to_contain_text("is not an image we can read",
                                                                             timeout=30_000)
            expect(page.locator("#download-png")).to_be_hidden()
            expect(page.locator("#deep-faithfulness")).to_contain_text("Waiting for an analysed image")

            # A new image replacing the shown one is analysed once (Gradio's image fires .change twice
            # on a replacement; the page listens to the drop itself).
            page.locator("#deep-toggle input").uncheck()
            page.set_input_files(UPLOAD, str(photo))
            expect(page.locator("#verdict")).to_contain_text(expected.input_sha256, timeout=30_000)
            page.set_input_files(UPLOAD, str(second))
            expect(page.locator("#verdict")).to_contain_text(second_sha, timeout=30_000)
            expect(page.locator("#overlay-original img")).to_be_visible()
            page.wait_for_timeout(1000)  # a duplicate event would have started by now
            assert [Path(p).name for p in page_analyses[-2:]] == ["street.png", "second.png"]
            assert sum(Path(p).name == "second.png" for p in page_analyses) == 1

            # The clear button empties the page; an example is analysed when clicked.
            page.locator("#input-image").get_by_role("button", name="Remove Image").click()
            expect(page.locator("#verdict")).to_contain_text("No image analysed yet", timeout=30_000)
            expect(page.locator("#overlay-original img")).to_be_hidden()
            page.get_by_text("Grace Hopper (public-domain photo)").click()
            expect(page.locator("#verdict")).to_contain_text(hopper_sha, timeout=30_000)
            assert Path(page_analyses[-1]).name == "grace_hopper.jpg"
            assert page_errors == []
        finally:
            browser.close()
