"""The native-resolution local scan (checks.local_scan): where its windows go, that each window's P
is the model's on those exact pixels, that a texture planted in a corner is found and a clean picture
gives no hotspot, the cap, the record, and the figure."""
import json
import math

import numpy as np
import pytest
from PIL import Image

from forensics import InputError, checks
from forensics.core import calibration
from forensics.core.verdict import verdict_for
from forensics.explain import local_scan
from forensics.explain.local_scan import (MAX_WINDOWS, STRIDE, WINDOW, LocalScan, ScanTile, find_hotspots, hotspot_groups,
                                          plan, window_offsets)
from forensics.report.scan_figure import HOTSPOT_COLOUR, draw_local_scan, scan_legend
from helpers import make_photo
from texture_detector import camera_like, plant_texture

PASTE = (1560, 1080, 2000, 1500)   # bottom-right corner of a 2000x1500 picture, 440x420


def overlap(a, b) -> int:
    """Area (px) shared by two (left, top, right, bottom) boxes."""
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def covered(size, boxes) -> np.ndarray:
    """(H, W) bool: the pixels inside any of the boxes."""
    mask = np.zeros(size[::-1], bool)
    for l, t, r, b in boxes:
        mask[t:b, l:r] = True
    return mask


@pytest.fixture(scope="module")
def clean_picture():
    return camera_like(2000, 1500, seed=0)


@pytest.fixture(scope="module")
def planted_scan(texture_detector, clean_picture):
    image = plant_texture(clean_picture, PASTE)
    a = texture_detector.analyze(image)
    return image, a, checks.local_scan(texture_detector, a)


@pytest.fixture(scope="module")
def clean_scan(texture_detector, clean_picture):
    a = texture_detector.analyze(clean_picture)
    return a, checks.local_scan(texture_detector, a)


# -- where the windows go ----------------------------------------------------------------------------

@pytest.mark.parametrize("length, starts", [(384, [0]), (385, [0, 1]), (576, [0, 192]), (600, [0, 192, 216]),
                                            (1500, [0, 192, 384, 576, 768, 960, 1116])])
def test_window_starts_every_stride_and_the_last_flush_with_the_edge(length, starts):
    assert window_offsets(length, STRIDE) == starts


def test_the_windows_cover_the_whole_image_and_the_last_row_and_column_are_flush(tiny_detector):
    image = make_photo(1000, 700, seed=2)
    scan = checks.local_scan(tiny_detector, tiny_detector.analyze(image))
    xs, ys = window_offsets(1000, STRIDE), window_offsets(700, STRIDE)
    assert len(scan.tiles) == len(xs) * len(ys) and scan.stride == STRIDE and scan.window == WINDOW
    assert all(t.box[2] - t.box[0] == WINDOW and t.box[3] - t.box[1] == WINDOW for t in scan.tiles)
    assert covered(image.size, [t.box for t in scan.tiles]).all()
    assert max(t.box[2] for t in scan.tiles) == 1000 and max(t.box[3] for t in scan.tiles) == 700
    assert sorted({t.box[0] for t in scan.tiles}) == xs and sorted({t.box[1] for t in scan.tiles}) == ys
    assert not scan.skipped and not scan.unscanned and scan.scanned_share == 1.0


def test_a_region_analysis_still_scans_the_whole_image(tiny_detector):
    image = make_photo(1000, 700, seed=2)
    whole = checks.local_scan(tiny_detector, tiny_detector.analyze(image))
    region = checks.local_scan(tiny_detector, tiny_detector.analyze(image, region=(100, 100, 400, 400)))
    assert [t.box for t in region.tiles] == [t.box for t in whole.tiles]


# -- what the model says about each window ---------------------------------------------------------------

def test_each_window_is_the_model_on_those_exact_pixels(texture_detector, planted_scan):
    image, _, scan = planted_scan
    crops = [image.crop(t.box) for t in scan.tiles]
    assert all(c.size == (WINDOW, WINDOW) for c in crops)  # fed as cut out: no resize
    for tile, crop in zip(scan.tiles, crops):
        alone = float(texture_detector.probabilities(texture_detector.pixels([crop]))[0])
        assert abs(tile.fake_probability - alone) < 1e-5, tile.box
        assert tile.verdict == verdict_for(tile.fake_probability, scan.margin)


def test_a_texture_pasted_in_a_corner_is_found_there(planted_scan):
    _, a, scan = planted_scan
    assert a.verdict == "real"            # the whole-image call, shrunk ~3.4x, does not see it
    assert scan.whole_image_probability == a.fake_probability and scan.margin == a.inconclusive_margin
    assert scan.called and scan.top is not None and scan.top.fake_probability > 0.9
    top = scan.top
    # the hotspot sits on the paste: most of its box is the paste, and all its windows touch it
    assert overlap(top.box, PASTE) >= 0.8 * (top.box[2] - top.box[0]) * (top.box[3] - top.box[1])
    assert all(overlap(scan.tiles[i].box, PASTE) > 0 for i in top.tiles)
    assert all(scan.tiles[i].verdict == "ai-generated" for i in top.tiles)
    # windows that do not touch the paste stay below 0.5
    far = [t for t in scan.tiles if overlap(t.box, PASTE) == 0]
    assert len(far) > 50 and max(t.fake_probability for t in far) < 0.5
    # the window lying wholly inside the paste is called
    inside = [t for t in scan.tiles if overlap(t.box, PASTE) == WINDOW * WINDOW]
    assert inside and all(t.verdict == "ai-generated" for t in inside)
    l, t_, r, b = top.box
    assert scan.summary.startswith(f"{len(top.tiles)} of {len(scan.tiles)} windows called AI-generated, "
                                   f"in one region at ({l}, {t_})-({r}, {b}), P {top.fake_probability:.2f}")
    assert scan.summary.endswith("the rest below 0.5.")


def test_the_same_picture_without_the_paste_has_no_hotspot(clean_scan):
    a, scan = clean_scan
    assert a.verdict == "real"
    assert not scan.called and scan.top is None and scan.hotspots == ()
    assert max(t.fake_probability for t in scan.tiles) < 0.5
    assert scan.summary == f"No window called AI-generated (max P {scan.max_probability:.2f} of 70 windows)."


def test_the_p_map_is_the_max_of_the_windows_over_each_cell(planted_scan):
    image, _, scan = planted_scan
    cell = scan.p_map_scale
    assert scan.p_map.shape == (math.ceil(1500 / cell), math.ceil(2000 / cell)) and scan.aggregation == "max"
    for r in range(0, scan.p_map.shape[0], 3):
        for c in range(0, scan.p_map.shape[1], 3):
            box = (c * cell, r * cell, (c + 1) * cell, (r + 1) * cell)
            expected = max(t.fake_probability for t in scan.tiles if overlap(t.box, box) > 0)
            assert scan.p_map[r, c] == pytest.approx(expected, abs=1e-6)
    corner = scan.p_map[-1, -1]   # the bottom-right cell lies in the paste
    assert corner == pytest.approx(scan.top.fake_probability, abs=1e-6)


def test_windows_are_batched_and_progress_is_reported(tiny_detector, counted_forwards):
    image = make_photo(1000, 700, seed=2)
    a = tiny_detector.analyze(image)
    counted_forwards.clear()
    calls = []
    scan = checks.local_scan(tiny_detector, a, batch_size=4, progress=lambda done, total: calls.append((done, total)))
    n = len(scan.tiles)
    assert len(counted_forwards) == math.ceil(n / 4)
    assert calls == [(min(k + 4, n), n) for k in range(0, n, 4)]


def test_rollout_on_request_keeps_each_windows_map_and_the_same_p(texture_detector):
    small = plant_texture(camera_like(800, 600, seed=1), (400, 200, 800, 600))
    a = texture_detector.analyze(small)
    with_maps = checks.local_scan(texture_detector, a, rollout=True)
    without = checks.local_scan(texture_detector, a)
    assert all(t.rollout is None for t in without.tiles)
    for t, u in zip(with_maps.tiles, without.tiles):
        assert t.rollout.shape == (24, 24) and t.rollout.sum() == pytest.approx(1.0, abs=1e-5)
        assert abs(t.fake_probability - u.fake_probability) < 1e-5


# -- the rule: which windows make a hotspot ----------------------------------------------------------------

def tiles_from(grid: np.ndarray, margin: float = 0.1, flat: float = 0.0) -> tuple[ScanTile, ...]:
    """Tiles on a (rows, cols) grid of P, 100 px apart (the boxes only need to be distinct)."""
    return tuple(ScanTile((c * 100, r * 100, c * 100 + WINDOW, r * 100 + WINDOW), float(p), verdict_for(p, margin),
                          flat, (r, c)) for (r, c), p in np.ndenumerate(grid))


def test_hotspots_are_the_windows_called_ai_generated_grouped_by_eight_neighbours():
    grid = np.array([[0.95, 0.1, 0.1, 0.1],
                     [0.1, 0.70, 0.1, 0.55],    # 0.95 and 0.70 touch diagonally; 0.55 is inconclusive
                     [0.1, 0.1, 0.1, 0.99]])
    spots = find_hotspots(tiles_from(grid))
    assert [s.fake_probability for s in spots] == [0.99, 0.95]      # strongest first
    assert spots[0].tiles == (11,) and spots[1].tiles == (0, 5)
    assert spots[1].box == (0, 0, 100 + WINDOW, 100 + WINDOW)        # the union of its windows
    # the inconclusive band is not a call; with no margin, 0.55 is, and it joins 0.99 below it
    loose = find_hotspots(tiles_from(grid, margin=0.0))
    assert loose[0].tiles == (7, 11)


def test_no_window_called_no_hotspot_and_every_window_called_one():
    assert find_hotspots(tiles_from(np.full((3, 4), 0.45))) == ()
    everything = find_hotspots(tiles_from(np.full((3, 4), 0.9)))
    assert len(everything) == 1 and everything[0].tiles == tuple(range(12))


def test_groups_use_the_eight_neighbourhood():
    called = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0], [1, 1, 0]], bool)
    assert hotspot_groups(called) == [[(0, 0), (1, 1)], [(3, 0), (3, 1)]]


def make_scan(grid, flat=0.0, **kw) -> LocalScan:
    tiles = tiles_from(np.asarray(grid), flat=flat)
    return LocalScan(tiles, find_hotspots(tiles), STRIDE, WINDOW, (1000, 1000), np.zeros((1, 1), np.float32), **kw)


def test_a_mostly_flat_hotspot_is_called_weak_evidence():
    flat = make_scan([[0.9, 0.1], [0.1, 0.1]], flat=0.8)
    textured = make_scan([[0.9, 0.1], [0.1, 0.1]], flat=0.1)
    assert flat.top.mostly_flat and "mostly flat: weak evidence" in flat.summary
    assert not textured.top.mostly_flat and "weak evidence" not in textured.summary
    assert flat.tiles[0].weak and not textured.tiles[0].weak


def test_the_summary_says_what_the_rest_of_the_windows_are():
    assert make_scan([[0.9, 0.2], [0.3, 0.1]]).summary.endswith("the rest below 0.5.")
    assert make_scan([[0.9, 0.2], [0.3, 0.55]]).summary.endswith("the rest up to P 0.55.")
    assert "in 2 regions, the strongest at" in make_scan([[0.9, 0.1, 0.8]]).summary
    assert make_scan([[0.3, 0.55]]).summary == "No window called AI-generated (max P 0.55 of 2 windows, 1 inconclusive)."


def test_flat_means_what_the_reliability_mask_means():
    assert local_scan.FLAT_STD == checks.FLAT_STD


def test_flat_windows_are_marked(tiny_detector):
    arr = np.asarray(make_photo(1000, 600, seed=1)).copy()
    arr[:, :500] = 128                              # the left half one flat grey
    scan = checks.local_scan(tiny_detector, tiny_detector.analyze(Image.fromarray(arr)))
    left = [t for t in scan.tiles if t.box[2] <= 500]
    right = [t for t in scan.tiles if t.box[0] >= 500]
    assert left and all(t.flat_share == 1.0 and t.weak for t in left)
    assert right and all(t.flat_share < 0.5 and not t.weak for t in right)


# -- refusals and the cap ---------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(300, 200), (500, 383)])
def test_an_image_under_384_on_its_short_side_is_refused_with_a_message(tiny_detector, size):
    a = tiny_detector.analyze(make_photo(*size))
    with pytest.raises(InputError) as err:
        checks.local_scan(tiny_detector, a)
    w, h = size
    assert f"is {w}x{h}; the local scan needs at least 384 px on the short side" in str(err.value)


def test_another_detectors_calibration_is_refused(tiny_detector):
    a = tiny_detector.analyze(make_photo(500, 400))
    other = tiny_detector.with_calibration(calibration.fit(np.array([0.2, 0.4, 0.6, 0.8]), np.array([0, 0, 1, 1])))
    with pytest.raises(ValueError, match="calibration"):
        checks.local_scan(other, a)


@pytest.mark.parametrize("stride", [0, 385, 19.5])
def test_a_stride_outside_one_to_the_window_is_refused(tiny_detector, stride):
    with pytest.raises(InputError, match="stride"):
        checks.local_scan(tiny_detector, tiny_detector.analyze(make_photo(500, 400)), stride=stride)


def test_the_cap_widens_the_stride_first_and_still_covers_everything(tiny_detector):
    image = make_photo(1200, 800, seed=5)
    scan = checks.local_scan(tiny_detector, tiny_detector.analyze(image), max_windows=12)
    assert len(scan.tiles) <= 12 and STRIDE < scan.stride <= WINDOW
    assert covered(image.size, [t.box for t in scan.tiles]).all() and not scan.skipped
    assert scan.notes == [f"Stride widened from {STRIDE} to {scan.stride} px to stay within the cap of 12 windows."]
    record = scan.to_record()["cap"]
    assert record == {"max_windows": 12, "requested_stride": STRIDE, "stride": scan.stride, "reached": True}


def test_beyond_the_cap_at_no_overlap_it_says_exactly_what_was_left_out(tiny_detector):
    image = make_photo(1200, 800, seed=5)
    scan = checks.local_scan(tiny_detector, tiny_detector.analyze(image), max_windows=4)
    assert len(scan.tiles) == 4 and scan.stride == WINDOW
    scanned = covered(image.size, [t.box for t in scan.tiles])
    left_out = covered(image.size, scan.unscanned)
    assert (scanned ^ left_out).all()          # every pixel either scanned or named as left out, never both
    assert len(scan.skipped) == len(scan.unscanned) > 0
    for (l, t, r, b), line in zip(scan.unscanned, scan.skipped):
        assert line == f"({l}, {t})-({r}, {b}) not scanned: beyond the cap of 4 windows"
    share = 1 - scanned.mean()
    assert scan.scanned_share == pytest.approx(scanned.mean())
    assert scan.summary.endswith(f"; {share:.0%} of the image not scanned (cap).")
    # the P map is NaN exactly where nothing was scanned
    cell = scan.p_map_scale
    reached = np.zeros(scan.p_map.shape, bool)
    for l, t, r, b in (tile.box for tile in scan.tiles):
        reached[t // cell:math.ceil(b / cell), l // cell:math.ceil(r / cell)] = True
    assert (np.isnan(scan.p_map) == ~reached).all()


@pytest.mark.parametrize("size, windows, stride, skipped", [
    ((1000, 1000), 25, 192, 0),        # 1 MP: the default stride
    ((4000, 3000), 88, 374, 0),        # 12 MP: the stride widened, everything covered
    ((8000, 6000), 96, 384, 4),        # 48 MP: a centred block at the cap, four strips left out
])
def test_the_default_cap_on_1_12_and_48_megapixels(size, windows, stride, skipped):
    used, xs, ys, unscanned = plan(size)
    assert (len(xs) * len(ys), used, len(unscanned)) == (windows, stride, skipped)
    assert len(xs) * len(ys) <= MAX_WINDOWS


# -- the record and the figure ---------------------------------------------------------------------------

def test_the_record_is_plain_json(planted_scan):
    _, _, scan = planted_scan
    record = json.loads(json.dumps(scan.to_record()))
    assert len(record["tiles"]) == len(scan.tiles)
    assert record["tiles"][0]["box"] == list(scan.tiles[0].box)
    assert record["hotspots"][0] == {"box": list(scan.top.box), "fake_probability": scan.top.fake_probability,
                                     "tiles": list(scan.top.tiles), "flat_share": scan.top.flat_share,
                                     "mostly_flat": False}
    assert record["summary"] == scan.summary and record["stride"] == STRIDE and record["window"] == WINDOW
    assert record["aggregation"] == "max" and record["skipped"] == [] and record["cap"]["reached"] is False


def test_the_figure_keeps_the_aspect_and_boxes_each_hotspot(planted_scan, clean_scan, clean_picture):
    image, _, scan = planted_scan
    fig = draw_local_scan(image, scan)
    assert isinstance(fig, Image.Image) and fig.size == (1600, 1200)   # 2000x1500 shown at 0.8
    arr = np.asarray(fig)
    cyan = np.all(arr == HOTSPOT_COLOUR, axis=-1)
    l, t, r, b = (round(v * 0.8) for v in scan.top.box)
    rows, cols = np.nonzero(cyan)
    assert rows.size and l - 3 <= cols.min() and cols.max() <= r + 3   # the outline (and its number) at the box
    assert t - 40 <= rows.min() and rows.max() <= b + 3
    assert cyan[t + 2, (l + r) // 2] or cyan[t + 1, (l + r) // 2]        # its top edge
    clean = np.asarray(draw_local_scan(clean_picture, clean_scan[1]))
    assert not np.all(clean == HOTSPOT_COLOUR, axis=-1).any()          # no hotspot, no box
    small = draw_local_scan(image, scan, max_side=400)
    assert small.size == (400, 300)


def test_the_figure_dims_what_the_cap_left_out(tiny_detector):
    image = Image.new("RGB", (1200, 800), (200, 200, 200))
    scan = checks.local_scan(tiny_detector, tiny_detector.analyze(image), max_windows=4)
    arr = np.asarray(draw_local_scan(image, scan, max_side=None)).astype(int)
    l, t, r, b = scan.unscanned[0]
    assert (arr[t:b, l:r] == int(200 * 0.35)).all()                  # dimmed, no colour layer
    x, y = scan.tiles[0].box[:2]
    assert (arr[y + 10, x + 10] != int(200 * 0.35)).any()


def test_the_legend_is_a_colour_bar():
    legend = np.asarray(scan_legend(400))
    assert legend.shape[1] == 400 and legend.shape[0] > 30
    assert not np.array_equal(legend[10, 20], legend[10, 380])          # the ramp changes colour
