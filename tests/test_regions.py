"""Golden geometry for regions: which square of the original the model saw for a region, at what
scale, and where each patch lies.

Expected numbers are worked out by hand from the rule in preprocess.region_window: the square's
side is max(384, region's short side), capped by the image's short side; it is centred on the
region (round((l + r - side) / 2)) and shifted to stay inside the image.
"""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from helpers import encode, make_photo
from forensics import InputError
from forensics.core.preprocess import check_region, crop_region, region_window
from forensics.model.spec import TRAINING

W, H = 1000, 800

GOLDEN = {
    # region: (crop box in original pixels, mode, zoom = model pixels per original pixel)
    (100, 200, 300, 350): ((8, 83, 392, 467), "native", 1.0),         # small, well inside
    (100, 100, 900, 700): ((200, 100, 800, 700), "resized", 384 / 600),  # large: short side 600
    (0, 0, 50, 50): ((0, 0, 384, 384), "native", 1.0),                  # top-left corner
    (950, 750, 1000, 800): ((616, 416, 1000, 800), "native", 1.0),      # bottom-right corner
    (980, 300, 1000, 400): ((616, 158, 1000, 542), "native", 1.0),      # right edge
    (0, 300, 20, 400): ((0, 158, 384, 542), "native", 1.0),             # left edge
    (400, 0, 500, 30): ((258, 0, 642, 384), "native", 1.0),             # top edge
    (400, 780, 500, 800): ((258, 416, 642, 800), "native", 1.0),        # bottom edge
    (0, 0, 1000, 800): ((100, 0, 900, 800), "resized", 384 / 800),      # the whole image as a region
    (200, 390, 900, 410): ((358, 208, 742, 592), "native", 1.0),        # a thin banner: 1:1, its middle
}


@pytest.fixture(scope="module")
def photo_1000():
    return make_photo(W, H, seed=3)


@pytest.mark.parametrize("region", GOLDEN)
def test_region_window_golden(photo_1000, region):
    box, mode, zoom = GOLDEN[region]
    crop, g = crop_region(photo_1000, region, TRAINING)
    assert g.crop_box == box
    assert g.crop_box_exact == pytest.approx(box, abs=1e-9)  # no drift: what the model saw, exactly
    assert (g.mode, g.region) == (mode, region)
    assert g.zoom == pytest.approx(zoom)
    assert crop.size == (384, 384)
    # the corners of what the model saw map to the corner patches, and nothing outside does
    l, t, r, b = box
    assert g.original_to_patch(l, t) == (0, 0)
    assert g.original_to_patch(r - 0.01, b - 0.01) == (23, 23)
    assert g.original_to_patch(r, b) is None and g.original_to_patch(l - 0.01, t) is None


def test_native_window_is_the_original_pixels(photo_1000):
    crop, g = crop_region(photo_1000, (100, 200, 300, 350), TRAINING)
    assert np.array_equal(np.asarray(crop), np.asarray(photo_1000.crop(g.crop_box)))
    assert g.patch_box_original(0, 0) == (8, 83, 24, 99)
    assert g.patch_box_original(23, 23) == (376, 451, 392, 467)
    # the region (input pixels (92, 117)-(292, 267)) covers rows 7..16, cols 5..18
    assert g.original_to_patch(100, 200) == (7, 5)
    assert g.original_to_patch(299.5, 349.5) == (16, 18)


def test_resized_window_is_the_square_brought_to_384(photo_1000):
    crop, g = crop_region(photo_1000, (100, 100, 900, 700), TRAINING)
    expected = photo_1000.resize((384, 384), Image.BILINEAR, box=(200, 100, 800, 700))
    assert np.array_equal(np.asarray(crop), np.asarray(expected))
    # a patch is 16 * 600 / 384 = 25 original pixels
    assert g.patch_box_original(0, 0) == (200, 100, 225, 125)
    assert g.patch_box_original(23, 23) == (775, 675, 800, 700)
    assert g.region_seen == pytest.approx(600 * 600 / (800 * 600))


def test_image_smaller_than_384_is_upscaled_around_the_region():
    img = make_photo(300, 200, seed=1)
    crop, g = crop_region(img, (250, 20, 290, 60), TRAINING)
    # the square is the image's short side, 200, shifted left to stay inside: (100, 0)-(300, 200)
    assert (g.crop_box, g.mode) == ((100, 0, 300, 200), "upscaled")
    assert g.zoom == pytest.approx(384 / 200)
    assert np.array_equal(np.asarray(crop), np.asarray(img.resize((384, 384), Image.BILINEAR, box=(100, 0, 300, 200))))


def test_region_past_the_border_is_clipped(photo_1000):
    _, g = crop_region(photo_1000, (-50, 700, 120.5, 900), TRAINING)
    assert g.region == (0, 700, 121, 800)  # floor the start, ceil the end, clip to the image
    assert g.crop_box == (0, 416, 384, 800)


@pytest.mark.parametrize("region, words", [
    ((), "four numbers"),
    ((1, 2, 3), "four numbers"),
    ((0, 0, 100, 100, 5), "four numbers"),
    ("0,0,100,100", "four numbers"),
    (42, "four numbers"),
    ((True, 0, 100, 100), "four numbers"),
    ((float("nan"), 0, 100, 100), "finite"),
    ((0, 0, float("inf"), 100), "finite"),
    ((100, 100, 50, 200), "inverted"),
    ((100, 100, 100, 200), "empty"),
    ((2000, 2000, 3000, 3000), "outside"),
    ((-100, -100, -10, -10), "outside"),
    ((10, 10, 15, 200), "at least 8x8"),
    ((995, 0, 1200, 100), "at least 8x8"),  # 5 pixels wide once clipped
])
def test_hostile_regions_raise_input_error(photo_1000, region, words):
    with pytest.raises(InputError, match=words):
        crop_region(photo_1000, region, TRAINING)


def test_analyze_region_records_it(tiny_detector, photo_1000):
    a = tiny_detector.analyze(photo_1000, region=(100, 200, 300, 350))
    assert (a.region, a.region_mode, a.region_scale) == ((100, 200, 300, 350), "native", 1.0)
    assert a.crop_box == (8, 83, 392, 467)
    assert np.array_equal(np.asarray(a.model_input), np.asarray(photo_1000.crop(a.crop_box)))
    assert any("native resolution" in n for n in a.notes())
    assert not any("centre crop" in n for n in a.notes())
    whole = tiny_detector.analyze(photo_1000)
    assert (whole.region, whole.region_mode, whole.region_scale) == (None, None, None)
    # the input tensor is exactly the window's pixels
    pixels = tiny_detector.preprocess(photo_1000, region=(100, 200, 300, 350))
    assert np.allclose(pixels.numpy(), tiny_detector.pixels([a.model_input]).numpy())


def test_partly_seen_region_says_so(tiny_detector, photo_1000):
    a = tiny_detector.analyze(photo_1000, region=(100, 100, 900, 700))
    assert a.region_mode == "resized"
    notes = " ".join(a.notes())
    assert "brought down to 384x384" in notes and "Only 75% of the region" in notes


def test_exif_rotated_region_is_in_upright_pixels(tiny_detector):
    upright = make_photo(1080, 1920, seed=2)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees clockwise
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # PIL: 90 counter-clockwise
    a = tiny_detector.analyze(encode(stored, "PNG", exif=exif.tobytes()), region=(100, 1500, 300, 1700))
    assert a.geometry.original_size == (1080, 1920)
    assert a.crop_box == (8, 1408, 392, 1792)
    assert np.array_equal(np.asarray(a.model_input), np.asarray(upright.crop(a.crop_box)))


def test_batch_with_regions(tiny_detector, photo_1000):
    from forensics.inputs.images import load_image
    decoded = load_image(photo_1000)
    faces = [(100, 200, 300, 350), (100, 100, 900, 700), None]
    out = tiny_detector.analyze_decoded([decoded] * 3, regions=faces)
    assert [a.region_mode for a in out] == ["native", "resized", None]
    single = tiny_detector.analyze(photo_1000, region=faces[0])
    assert out[0].fake_probability == pytest.approx(single.fake_probability, abs=1e-5)
    with pytest.raises(ValueError, match="one .* per image"):
        tiny_detector.analyze_decoded([decoded], regions=faces)


# -- region_shares -------------------------------------------------------------------------------

def _shares_reference(a, box) -> float:
    """Textbook: every original pixel centre in the box gets its patch's score / patch area."""
    g = a.geometry
    l, t, r, b = box
    total = 0.0
    for y in range(t, b):
        for x in range(l, r):
            hit = g.original_to_patch(x + 0.5, y + 0.5)
            if hit is not None:
                pl, pt, pr, pb = g.input_to_original(g.patch_box_input(*hit))
                total += a.patch_scores[hit] / ((pr - pl) * (pb - pt))
    return total


def test_region_shares_native(tiny_detector, photo_1000):
    a = tiny_detector.analyze(photo_1000)  # the whole image: the training centre crop
    uniform = dataclasses.replace(a, patch_scores=np.full((24, 24), 1 / 576))
    g = a.geometry
    crop, one_patch = g.crop_box_exact, g.input_to_original(g.patch_box_input(3, 4))
    shares = uniform.region_shares([crop, (0, 0, W, H), one_patch, (0, 0, 5, 5)])
    assert shares == pytest.approx([1.0, 1.0, 1 / 576, 0.0])
    scores = np.zeros((24, 24))
    scores[3, 4] = 1.0
    peaked = dataclasses.replace(a, patch_scores=scores)
    pl, pt, pr, pb = one_patch
    half = (pl, pt, (pl + pr) / 2, pb)
    assert peaked.region_shares([one_patch, half]) == pytest.approx([1.0, 0.5])


def test_region_shares_match_a_pixel_count(tiny_detector):
    img = make_photo(300, 260, seed=5)
    a = tiny_detector.analyze(img, region=(0, 0, 300, 260))  # resized: 260 -> 384 is upscaled
    rng = np.random.default_rng(0)
    scores = rng.random((24, 24))
    a = dataclasses.replace(a, patch_scores=scores / scores.sum())
    boxes = [(10, 20, 110, 90), (150, 0, 300, 260), (0, 0, 300, 260)]
    assert a.region_shares(boxes) == pytest.approx([_shares_reference(a, b) for b in boxes], abs=2e-3)


@pytest.mark.parametrize("box", [(1, 2, 3), (5, 5, 1, 10), (0, float("nan"), 4, 4), "box"])
def test_region_shares_refuse_bad_boxes(tiny_detector, box):
    a = tiny_detector.analyze(make_photo(400, 400))
    with pytest.raises(InputError, match="left < right"):
        a.region_shares([box])


# -- the CLI: --region ---------------------------------------------------------------------------

def test_cli_region_single_file(tiny_model_dir, tmp_path):
    import csv
    import json

    from forensics import cli
    make_photo(W, H).save(tmp_path / "a.png")
    out = tmp_path / "out"
    assert cli.main(["analyze", str(tmp_path / "a.png"), "--out", str(out), "--model", str(tiny_model_dir),
                     "--region", "100,200,300,350", "--format", "json"]) == 0
    (row,) = csv.DictReader(open(out / "summary.csv", encoding="utf-8"))
    assert (row["region"], row["region_mode"], row["region_scale"]) == ("100,200,300,350", "native", "1.0000")
    record = json.loads((out / "a.json").read_text())
    assert record["region"] == {"box": [100, 200, 300, 350], "mode": "native", "scale": 1.0, "share_seen": 1.0}
    assert record["crop_box"] == [8, 83, 392, 467]


def test_cli_region_outside_the_image_is_an_error_row(tiny_model_dir, tmp_path):
    import csv

    from forensics import cli
    make_photo(400, 300).save(tmp_path / "a.png")
    out = tmp_path / "out"
    assert cli.main(["analyze", str(tmp_path / "a.png"), "--out", str(out), "--model", str(tiny_model_dir),
                     "--region", "500,0,900,100", "--format", "json"]) == 1
    (row,) = csv.DictReader(open(out / "summary.csv", encoding="utf-8"))
    assert row["status"] == "error" and "outside the 400x300 image" in row["error"]


@pytest.mark.parametrize("extra", [["--region", "1,2,3"], ["--region", "a,b,c,d"],
                                   ["--region", "0,0,100,100", "--deep-check"]])
def test_cli_region_usage_errors(tmp_path, extra):
    from forensics import cli
    make_photo(400, 300).save(tmp_path / "a.png")
    with pytest.raises(SystemExit) as exc:
        cli.main(["analyze", str(tmp_path / "a.png"), "--out", str(tmp_path / "out"), "--demo", *extra])
    assert exc.value.code == 2


def test_cli_region_needs_a_single_file(tmp_path, capsys):
    from forensics import cli
    make_photo(400, 300).save(tmp_path / "a.png")
    make_photo(400, 300).save(tmp_path / "b.png")
    with pytest.raises(SystemExit) as exc:
        cli.main(["analyze", str(tmp_path), "--out", str(tmp_path / "out"), "--demo", "--region", "0,0,100,100"])
    assert exc.value.code == 2 and "one image file" in capsys.readouterr().err


def test_overlay_outlines_the_region_and_the_square(tiny_detector, photo_1000):
    from forensics import render
    a = tiny_detector.analyze(photo_1000, region=(100, 200, 300, 350))
    out = render.overlay_original(a, max_side=None)
    assert tuple(out[275, 100]) == render.REGION_COLOUR   # left edge of the region
    assert tuple(out[275, 8]) == (255, 255, 255)           # left edge of the square the model saw
    whole = render.overlay_original(tiny_detector.analyze(photo_1000), max_side=None)
    assert tuple(whole[275, 100]) != render.REGION_COLOUR


# -- the rule, for any image and any usable region ------------------------------------------------

@st.composite
def image_and_region(draw):
    w, h = draw(st.integers(8, 5000)), draw(st.integers(8, 5000))
    l, t = draw(st.integers(0, w - 8)), draw(st.integers(0, h - 8))
    r, b = draw(st.integers(l + 8, w)), draw(st.integers(t + 8, h))
    return (w, h), (l, t, r, b)


@settings(max_examples=400, deadline=None)
@given(image_and_region())
def test_window_rule_holds_for_any_region(case):
    (w, h), region = case
    box = check_region(region, (w, h))
    assert box == region
    left, top, side = region_window(box, (w, h))
    l, t, r, b = box
    assert 0 <= left and 0 <= top and left + side <= w and top + side <= h  # inside the image
    assert side == min(max(384, min(r - l, b - t)), w, h)
    if r - l <= side and b - t <= side:  # a region that fits the square lies wholly inside it
        assert left <= l and top <= t and r <= left + side and b <= top + side
    else:  # else the square covers the region's middle along its long side
        assert left <= (l + r) / 2 <= left + side and top <= (t + b) / 2 <= top + side
