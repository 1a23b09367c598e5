"""Laundering indicators: signs in the file that it is a re-shared copy, shown with the metadata
and never in P; and the double-JPEG test behind one of them."""
import functools
import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from forensics.inputs.metadata import LAUNDERING_NOTE, double_jpeg, laundering, panel_rows, read_metadata
from helpers import encode, make_photo

DALLE = Path(__file__).parent / "data" / "commfor-dalle2"


def textured(width: int, height: int, seed: int = 0) -> Image.Image:
    """A test photo with sensor-like noise: enough DCT energy for coefficient histograms."""
    rng = np.random.default_rng(seed)
    noisy = np.asarray(make_photo(width, height, seed), dtype=np.float64) + rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def camera_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS R5"
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 10:00:00"
    return exif


def keys(data: bytes, image=None) -> set[str]:
    return {i.key for i in read_metadata(data, image=image).laundering}


def test_a_q70_jpeg_at_1080_without_metadata_shows_at_least_two():
    data = encode(textured(1080, 720), "JPEG", quality=70)
    meta = read_metadata(data)
    assert {"no-metadata", "jpeg-quality", "platform-size"} <= {i.key for i in meta.laundering}
    quality = next(i for i in meta.laundering if i.key == "jpeg-quality")
    assert "70" in quality.evidence
    record = meta.to_record()
    assert len(record["laundering_indicators"]) >= 2 and record["laundering_note"] == LAUNDERING_NOTE
    assert "not manipulation" in LAUNDERING_NOTE
    assert sum(label == "Re-shared copy indicator" for label, _ in panel_rows(meta)) == len(meta.laundering)


def test_a_full_size_camera_jpeg_at_q95_shows_none():
    data = encode(textured(4000, 3000), "JPEG", quality=95, exif=camera_exif(), subsampling="4:2:2")
    assert keys(data) == set()
    assert read_metadata(data).laundering_note == laundering.NONE_NOTE


@pytest.mark.parametrize("quality, expected", [(85, True), (86, False), (95, False)])
def test_quality_threshold(quality, expected):
    data = encode(textured(900, 600), "JPEG", quality=quality, exif=camera_exif(), subsampling="4:4:4")
    assert ("jpeg-quality" in keys(data)) is expected


def test_non_standard_tables_are_not_called_low_quality():
    table = [2 * v for v in range(1, 65)]  # no IJG scaling of the standard tables looks like this
    data = encode(textured(600, 400), "JPEG", qtables=[table, table], exif=camera_exif())
    meta = read_metadata(data)
    assert meta.jpeg.quality_note.startswith("non-standard") and "jpeg-quality" not in keys(data)


@pytest.mark.parametrize("long_edge, expected", [(1080, True), (1280, True), (1600, True), (2048, True),
                                                 (1079, False), (1920, False)])
def test_platform_long_edge(long_edge, expected):
    data = encode(make_photo(long_edge, 500), "JPEG", quality=95, exif=camera_exif(), subsampling="4:4:4")
    assert ("platform-size" in keys(data)) is expected


@pytest.mark.parametrize("make, sampling, expected", [("Canon", "4:2:0", True), ("Canon", "4:2:2", False),
                                                      ("Apple", "4:2:0", False), (None, "4:2:0", False)])
def test_420_only_on_a_camera_make(make, sampling, expected):
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    else:
        exif[0x0131] = "an editor"
    data = encode(make_photo(900, 600), "JPEG", quality=95, exif=exif, subsampling=sampling)
    assert ("chroma-subsampling" in keys(data)) is expected


def test_a_metadata_free_screen_sized_png_looks_like_a_screenshot():
    shot = make_photo(1920, 1080)
    assert "screenshot" in keys(encode(shot, "PNG"))
    assert "screenshot" not in keys(encode(make_photo(1000, 1000), "PNG"))      # not a screen size
    assert "screenshot" not in keys(encode(shot, "PNG", exif=camera_exif()))    # carries metadata
    assert "screenshot" not in keys(encode(shot, "JPEG", quality=95))


# -- double JPEG compression ----------------------------------------------------------------------

def resaved(image: Image.Image, first: int, second: int, **options) -> bytes:
    once = Image.open(io.BytesIO(encode(image, "JPEG", quality=first)))
    return encode(once if once.mode == "L" else once.convert("RGB"), "JPEG", quality=second, **options)


def test_double_compression_with_a_coarser_first_step_is_found():
    image = textured(1024, 768, seed=1)
    for first, second in ((60, 90), (50, 80), (70, 90)):
        data = resaved(image, first, second)
        assert "double-jpeg" in keys(data), (first, second)
        result = double_jpeg.check(data, list(Image.open(io.BytesIO(data)).quantization[0]), (1024, 768))
        assert result.detected and result.judged >= 10
        assert all(q1 > q2 for _, q1, q2 in result.votes)  # the earlier step was the coarser one


@pytest.mark.parametrize("quality", [30, 60, 75, 85, 90, 95])
def test_a_single_compression_is_not_called_double(quality):
    data = encode(textured(1024, 768, seed=2), "JPEG", quality=quality)
    assert "double-jpeg" not in keys(data)


def test_the_decoded_pixels_and_a_second_decode_agree():
    data = resaved(textured(800, 600, seed=3), 60, 90)
    table = list(Image.open(io.BytesIO(data)).quantization[0])
    decoded = Image.open(io.BytesIO(data)).convert("RGB")
    a, b = double_jpeg.check(data, table, (800, 600), decoded), double_jpeg.check(data, table, (800, 600))
    assert a.detected and b.detected and abs(len(a.votes) - len(b.votes)) <= 2


def test_the_work_is_bounded_to_the_centre_window():
    data = encode(textured(3000, 2000), "JPEG", quality=90)
    result = double_jpeg.check(data, list(Image.open(io.BytesIO(data)).quantization[0]), (3000, 2000))
    assert result.window == (double_jpeg.MAX_WINDOW, double_jpeg.MAX_WINDOW)
    assert double_jpeg.check(encode(make_photo(40, 40), "JPEG"), [16] * 64, (40, 40)) is None  # too small


def test_indicators_never_change_the_probability(tiny_detector):
    data = encode(textured(1080, 720), "JPEG", quality=70)
    with_meta = tiny_detector.analyze(data)
    pixels_only = tiny_detector.analyze(Image.open(io.BytesIO(data)).convert("RGB"))
    assert with_meta.input.metadata.laundering and with_meta.fake_probability == pixels_only.fake_probability


def test_a_truncated_jpeg_still_reads():
    data = encode(textured(800, 600), "JPEG", quality=70)[:5000]
    meta = read_metadata(data)
    assert "jpeg-quality" in {i.key for i in meta.laundering}  # the tables come before the cut


# -- the fast double-JPEG test against its textbook form --------------------------------------------
# The loop implementation the indicator shipped with (issue 23), kept as it was (names prefixed,
# settings read from the module) as the reference: one 8x8 matrix product per block, one
# histogram per first step q1, one coefficient at a time.

_C = np.array([[np.sqrt((1 if u == 0 else 2) / 8) * np.cos((2 * x + 1) * u * np.pi / 16) for x in range(8)]
               for u in range(8)])  # (8, 8) orthonormal DCT-II: JPEG's forward DCT


def reference_block_dct(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = y.shape
    blocks = y.reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)  # (N, 8, 8)
    keep = (blocks.min(axis=(1, 2)) > 0) & (blocks.max(axis=(1, 2)) < 255)
    return _C @ (blocks[keep] - 128.0) @ _C.T, keep


def reference_histogram(k: np.ndarray, weights=None) -> np.ndarray:
    index = np.clip(k + double_jpeg.BINS, 0, 2 * double_jpeg.BINS).astype(np.int64)
    counts = np.bincount(index, weights=weights, minlength=2 * double_jpeg.BINS + 1)
    return np.delete(counts, double_jpeg.BINS).astype(np.float64)


def reference_error(simulated: np.ndarray, observed: np.ndarray) -> float:
    s, o = simulated / max(simulated.sum(), 1.0), observed / max(observed.sum(), 1.0)
    return float(((s - o) ** 2).sum())


def reference_judge(observed: np.ndarray, estimate: np.ndarray, q2: int):
    h_obs = reference_histogram(np.round(observed / q2))
    if h_obs.sum() < double_jpeg.MIN_COEFFICIENTS:
        raise ValueError("too few coefficients")
    values, counts = np.unique(np.round(estimate * 4) / 4, return_counts=True)
    single = reference_error(reference_histogram(np.round(values / q2), counts), h_obs)
    best, best_err = None, np.inf
    for q1 in range(max(q2 + 1, math.ceil(double_jpeg.MIN_STEP_RATIO * q2)), max(double_jpeg.MAX_Q1, 2 * q2) + 1):
        err = reference_error(reference_histogram(np.round(np.round(values / q1) * q1 / q2), counts), h_obs)
        if err < best_err:
            best, best_err = q1, err
    return best if best_err < double_jpeg.DOUBLE_RATIO * single else None


def reference_check(data: bytes, luma_table, size, image=None):
    """double_jpeg.check as a textbook loop: the slow reference for the vectorised one."""
    if luma_table is None or len(luma_table) != 64:
        return None
    q = np.asarray(luma_table, dtype=np.int64).reshape(8, 8)
    w, h = size
    win_w, win_h = (min(double_jpeg.MAX_WINDOW, w - 8) // 8) * 8, (min(double_jpeg.MAX_WINDOW, h - 8) // 8) * 8
    if win_w < 64 or win_h < 64:
        return None
    x0, y0 = ((w - 8 - win_w) // 2) // 8 * 8, ((h - 8 - win_h) // 2) // 8 * 8
    if image is not None and image.size == (w, h):
        window = image.crop((x0, y0, x0 + win_w + 4, y0 + win_h + 4)).convert("L")
        y, x0, y0 = np.asarray(window, dtype=np.float64), 0, 0
    else:
        y = double_jpeg.luminance(data)
        if y is None or y.shape != (h, w):
            return None
    aligned, _ = reference_block_dct(y[y0:y0 + win_h, x0:x0 + win_w])
    shifted, _ = reference_block_dct(y[y0 + 4:y0 + 4 + win_h, x0 + 4:x0 + 4 + win_w])
    votes, judged = [], 0
    for u, v in double_jpeg.FREQUENCIES:
        q2 = int(q[u, v])
        if not 2 <= q2 <= double_jpeg.MAX_STEP:
            continue
        try:
            q1 = reference_judge(aligned[:, u, v], shifted[:, u, v], q2)
        except ValueError:
            continue
        judged += 1
        if q1 is not None:
            votes.append((f"({u},{v})", q1, q2))
    return double_jpeg.DoubleJpeg(judged, tuple(votes), (win_w, win_h))


def _jpeg_cases() -> dict:
    """label -> how the file is made: the files the tests above judge, then a sweep of first and
    second qualities over sizes that are and are not multiples of 8 (noisy photos, and a smooth
    one with a clipped disc), 4:4:4 chroma, a greyscale file and the five DALL-E 2 test images."""
    cases = {f"q{a}->q{b}": (lambda a=a, b=b: resaved(textured(1024, 768, seed=1), a, b))
             for a, b in ((60, 90), (50, 80), (70, 90))}
    cases.update({f"single q{q}": (lambda q=q: encode(textured(1024, 768, seed=2), "JPEG", quality=q))
                  for q in (30, 60, 75, 85, 90, 95)})
    cases["800x600 q60->q90"] = lambda: resaved(textured(800, 600, seed=3), 60, 90)
    cases["1080x720 q70"] = lambda: encode(textured(1080, 720), "JPEG", quality=70)
    for (w, h), seed in (((1001, 777), 4), ((333, 517), 5), ((640, 480), 6), ((1600, 1200), 7)):
        for a, b in ((40, 75), (60, 85), (80, 95), (90, 70), (75, 90), (55, 60)):
            cases[f"{w}x{h} q{a}->q{b}"] = lambda w=w, h=h, s=seed, a=a, b=b: resaved(textured(w, h, s), a, b)
        cases[f"{w}x{h} smooth q50->q90"] = lambda w=w, h=h, s=seed: resaved(make_photo(w, h, s), 50, 90)
        cases[f"{w}x{h} smooth q88"] = lambda w=w, h=h, s=seed: encode(make_photo(w, h, s), "JPEG", quality=88)
    cases["700x500 4:4:4 q60->q90"] = lambda: resaved(textured(700, 500, 8), 60, 90, subsampling="4:4:4")
    cases["600x456 grey q50->q85"] = lambda: resaved(textured(600, 456, 9).convert("L"), 50, 85)
    for path in sorted(DALLE.glob("*.png")):  # generator output, as METHODS.md's figures were measured
        generated = lambda p=path: Image.open(p).convert("RGB")  # noqa: E731
        for a, b in ((60, 90), (80, 95)):
            cases[f"DALL-E {path.stem} q{a}->q{b}"] = lambda g=generated, a=a, b=b: resaved(g(), a, b)
        cases[f"DALL-E {path.stem} q90"] = lambda g=generated: encode(g(), "JPEG", quality=90)
    return cases


JPEG_CASES = _jpeg_cases()


@functools.cache
def jpeg_case(label: str) -> tuple[bytes, list[int], tuple[int, int]]:
    """-> (file, luminance table, size)"""
    data = JPEG_CASES[label]()
    stored = Image.open(io.BytesIO(data))
    return data, list(stored.quantization[0]), stored.size


@pytest.mark.parametrize("label", JPEG_CASES)
def test_the_fast_check_decides_as_the_textbook_loop(label):
    data, table, size = jpeg_case(label)
    decoded = Image.open(io.BytesIO(data)).convert("RGB")
    fast, slow = double_jpeg.check(data, table, size, decoded), reference_check(data, table, size, decoded)
    assert fast == slow  # judged, every vote (coefficient, q1, q2) and the window
    assert all(type(q1) is int and type(q2) is int for _, q1, q2 in fast.votes)  # plain ints for the JSON


def test_the_sweep_holds_both_kinds_of_file():
    """So that the comparison above exercises both calls and many first-step estimates."""
    calls = [double_jpeg.check(*jpeg_case(label)) for label in JPEG_CASES]
    assert sum(c.detected for c in calls) >= 10 and sum(not c.detected for c in calls) >= 10
    assert len({q1 for c in calls for _, q1, _ in c.votes}) >= 8


@pytest.mark.parametrize("label", ["800x600 q60->q90", "333x517 q60->q85", "600x456 grey q50->q85", "single q75"])
def test_the_fast_check_decides_as_the_textbook_loop_on_a_second_decode(label):
    data, table, size = jpeg_case(label)
    assert double_jpeg.check(data, table, size) == reference_check(data, table, size)


def test_the_block_dct_is_the_textbook_one():
    y = np.clip(np.asarray(textured(136, 72, seed=10).convert("L"), dtype=np.float64), 1, 254)
    y[:8, :8] = 255  # the one clipped block
    every = [(u, v) for u in range(8) for v in range(8)]
    fast = double_jpeg.block_dct(y - 128.0, every)[:, double_jpeg.unclipped(y)]  # (64, N)
    slow, keep = reference_block_dct(y)
    assert np.array_equal(double_jpeg.unclipped(y), keep) and not keep[0] and keep[1:].all()
    np.testing.assert_allclose(fast, slow.reshape(-1, 64).T, rtol=0, atol=1e-9)


def test_with_no_estimate_no_double_fit_is_claimed():
    """Every shifted block clipped: the textbook loop judged the coefficient and found nothing."""
    observed = np.repeat(np.arange(-50.0, 50.0), 10) * 5
    h_obs = double_jpeg._histograms(np.round(observed / 5)[None])[0]
    assert reference_judge(observed, np.empty(0), 5) is None
    assert double_jpeg.judge(h_obs, np.empty(0), np.empty(0, np.int64), 5) is None


def test_equal_fits_name_the_finest_first_step():
    """Values near +-24 stored in step 5 as +-20: every first step q1 with round(24 / q1) q1 in
    17.5..22.5 (7, 10, 11, 20, 21, 22) fits exactly; the loop kept the first, 7."""
    rng = np.random.default_rng(0)
    sign = np.where(rng.random(1200) < 0.5, -1.0, 1.0)
    observed, estimate = 20.0 * sign, sign * (24 + rng.choice([-0.25, 0.0, 0.25], 1200))
    h_obs = double_jpeg._histograms(np.round(observed / 5)[None])[0]
    values, counts = np.unique(np.round(estimate * 4) / 4, return_counts=True)
    assert reference_judge(observed, estimate, 5) == 7
    assert double_jpeg.judge(h_obs, values, counts, 5) == 7
