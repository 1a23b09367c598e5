"""The annotated PNG, drawn with Pillow: its layout (what is written where, in which colour) and
the pixels it paints."""
import dataclasses
import itertools

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.colors import to_hex, to_rgb
from PIL import Image

from conftest import encode, make_photo
from forensics import Detector
from forensics import checks
from forensics import render
from forensics.report import figures
from forensics.report.figures import PNG_MAX_SIDE, annotated_layout, render_png, write_png
from forensics.report.wording import DEMO_BANNER, VERDICT_COLOURS, probability_line

NAME = "証拠 写真 price $5 (copy).jpg"  # CJK glyphs DejaVu lacks, and a '$'


@pytest.fixture(scope="module")
def analysis(tiny_detector):
    return tiny_detector.analyze(encode(make_photo(640, 400, seed=5), "JPEG", quality=90), name=NAME)


@pytest.fixture(scope="module")
def demo():
    return Detector.demo(device="cpu").analyze(make_photo(400, 300, seed=2))


def rgb(colour):
    return tuple(round(255 * c) for c in to_rgb(colour))


def ink_box(item):
    """The pixel box (left, top, right, bottom) a text item's glyphs can cover."""
    return figures._font(item.size, item.bold).getbbox(item.text, anchor=item.anchor)


def page_box(item):
    l, t, r, b = ink_box(item)
    return item.x + l, item.y + t, item.x + r, item.y + b


def overlaps(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def with_scores(analysis, peak_patch: float):
    """The analysis with one patch holding `peak_patch` of the score, the rest spread evenly."""
    scores = np.full_like(analysis.patch_scores, (1 - peak_patch) / (analysis.patch_scores.size - 1))
    scores[3, 4] = peak_patch
    return dataclasses.replace(analysis, patch_scores=scores)


@pytest.mark.parametrize("worst", [False, True])
def test_every_fact_is_written_once_inside_the_page_and_nothing_overlaps(analysis, tiny_detector, worst):
    deep = checks.deep_check(tiny_detector, analysis)
    if worst:  # the longest lines: a calibrated P (with the raw P) and a wide file name, portrait
        analysis = dataclasses.replace(tiny_detector.analyze(make_photo(300, 900, seed=4)), calibration=object(),
                                       input=dataclasses.replace(analysis.input, name="W" * 80 + ".jpg"))
        assert "calibrated" in probability_line(analysis)
    layout = annotated_layout(analysis, deep=deep)
    texts = [t.text for t in layout.texts]
    for fact in (analysis.verdict_text, probability_line(analysis), analysis.input_sha256[:12],
                 analysis.model.label, "Deep check:"):
        assert sum(fact in t for t in texts) == 1, fact
    caption = " ".join(t.text for t in layout.texts if t.size == figures.CAPTION_SIZE)
    assert "not proof" in caption and analysis.created_utc in caption and render.scale_text(
        analysis.patch_scores, "image") in caption
    width, height = layout.size
    boxes = [page_box(t) for t in layout.texts]
    for item, box in zip(layout.texts, boxes):
        assert 0 <= box[0] and box[2] <= width and 0 <= box[1] and box[3] <= height, item.text
        assert not overlaps(box, layout.box), item.text
        assert not overlaps(box, (layout.bar.box[0], layout.bar.apex, width, layout.bar.box[3])), item.text
    for (a, box_a), (b, box_b) in itertools.combinations(zip(layout.texts, boxes), 2):
        assert not overlaps(box_a, box_b), (a.text, b.text)


@pytest.mark.parametrize("verdict_of", ["analysis", "demo"])
def test_verdict_is_painted_in_its_colour(analysis, demo, verdict_of):
    a = {"analysis": analysis, "demo": demo}[verdict_of]
    layout = annotated_layout(a)
    verdict = layout.text(a.verdict_text)
    assert verdict is not None and verdict.bold and verdict.colour == to_hex(VERDICT_COLOURS[a.verdict])
    l, t, r, b = (round(v) for v in page_box(verdict))
    glyphs = render_png(a)[t:b, l:r].reshape(-1, 3)
    solid = (glyphs == rgb(VERDICT_COLOURS[a.verdict])).all(axis=1)
    assert solid.sum() > 200  # the bold strokes' insides are the verdict's colour exactly
    others = {rgb(c) for v, c in VERDICT_COLOURS.items() if v != a.verdict}
    assert not any((glyphs == c).all(axis=1).any() for c in others)


def test_demo_banner_only_for_demo_weights(analysis, demo):
    layout = annotated_layout(demo)
    assert layout.banner is not None and layout.banner[:3] == (0, 0, layout.size[0])
    assert layout.text(DEMO_BANNER).colour == "#ffffff"
    page = render_png(demo)
    assert tuple(page[5, 5]) == rgb(figures.DEMO_BANNER_COLOUR) == tuple(page[5, -5])
    assert (page[layout.banner[3] + 5, :40] == 255).all()  # under the banner: white again

    layout = annotated_layout(analysis)
    assert layout.banner is None and layout.text(DEMO_BANNER) is None
    assert not any("UNTRAINED" in t.text for t in layout.texts)
    assert (render_png(analysis)[:40] == 255).all()


def test_picture_is_pasted_unresampled_in_its_box(tiny_detector):
    a = tiny_detector.analyze(make_photo(1600, 1200, seed=7))  # shown at PNG_MAX_SIDE: 1400 x 1050
    layout = annotated_layout(a, "viridis", 0.4, color_scale="absolute")
    l, t, r, b = layout.box
    over = render.overlay_original(a, alpha=0.4, cmap="viridis", max_side=PNG_MAX_SIDE,
                                   vmax=render.ABSOLUTE_VMAX)
    assert (r - l, b - t) == (1400, 1050) == over.shape[1::-1]
    page = render_png(a, "viridis", 0.4, color_scale="absolute")
    assert page.shape == (*layout.size[::-1], 3) and page.dtype == np.uint8
    np.testing.assert_array_equal(page[t:b, l:r], over)
    assert (page[t:b, l - 3:l] == 255).all() and (page[t - 3:t, l:r] == 255).all()  # nothing drawn over its edges


def test_small_picture_fills_the_same_box(analysis):
    layout = annotated_layout(analysis)  # 640 x 400: shown 7 in wide at 200 dpi, as before
    l, t, r, b = layout.box
    assert (r - l, b - t) == (1400, 875)
    assert layout.picture.shape[:2] == (400, 640)


@pytest.mark.parametrize("peak, color_scale, triangle", [
    (0.05, "absolute", True),     # 5% > 1%: stronger patches saturate
    (0.05, "image", False),       # the per-image scale never saturates
    (0.005, "absolute", False),   # below full colour
])
def test_saturating_triangle_only_when_the_absolute_scale_saturates(analysis, peak, color_scale, triangle):
    a = with_scores(analysis, peak)
    layout = annotated_layout(a, color_scale=color_scale)
    bar = layout.bar
    assert bar.saturates is triangle
    l, t, r, b = bar.box
    assert (t > bar.apex) is triangle
    assert b == layout.box[3] and bar.apex == layout.box[1]  # bar and extension span the picture's height
    page = render_png(a, color_scale=color_scale)
    middle = (l + r) // 2
    above = page[layout.box[1] + 12:t - 8, middle]             # inside the triangle, if any
    over = rgb(to_hex(colormaps[render.DEFAULT_COLORMAP].get_over()))
    assert (len(above) > 0 and bool((above == over).all())) is triangle
    if not triangle:
        assert (page[layout.box[1] - 20:layout.box[1] - 2, middle] == 255).all()
    # the gradient: full colour at the top, the map's bottom colour at the bottom
    def near(pixel, colour):
        return np.abs(pixel.astype(int) - colour).max() <= 4

    assert near(page[t + 3, middle], over)
    assert near(page[b - 3, middle], rgb(to_hex(colormaps[render.DEFAULT_COLORMAP](0.0))))


def test_colour_bar_ticks_and_label(analysis):
    absolute = annotated_layout(with_scores(analysis, 0.05), color_scale="absolute").bar
    assert absolute.top == pytest.approx(100 * render.ABSOLUTE_VMAX)
    rows, labels = zip(*absolute.ticks)
    assert labels[0] in ("0", "0.0") and float(labels[-1]) == pytest.approx(1.0)
    assert rows[0] == absolute.box[3] and rows[-1] == absolute.box[1]
    assert list(rows) == sorted(rows, reverse=True) and 4 <= len(rows) <= 8
    assert "absolute scale" in absolute.label and "1%" in absolute.label

    image = annotated_layout(analysis).bar
    peak = 100 * float(analysis.patch_scores.max())
    assert image.top == pytest.approx(peak) and not image.saturates
    assert all(float(label) <= peak * (1 + 1e-6) for _, label in image.ticks)
    assert 3 <= len(image.ticks) <= 8 and len(set(label for _, label in image.ticks)) == len(image.ticks)
    assert "per-image scale" in image.label


def test_odd_file_name_does_not_crash_and_is_kept(analysis, tmp_path):
    layout = annotated_layout(analysis)
    assert layout.text("File: ").text.startswith(f"File: {NAME}")
    with Image.open(write_png(analysis, tmp_path / "a.png")) as img:
        assert img.size == layout.size
        assert NAME in img.text["Source"] and analysis.input_sha256 in img.text["Source"]
        assert img.text["Title"].startswith(analysis.verdict_text)
        assert round(img.info["dpi"][0]) == figures.PNG_DPI
