"""Laundering indicators: signs in the file that it is a re-shared copy, shown with the metadata
and never in P; and the double-JPEG test behind one of them."""
import io

import numpy as np
import pytest
from PIL import Image

from forensics.inputs.metadata import LAUNDERING_NOTE, double_jpeg, laundering, panel_rows, read_metadata
from helpers import encode, make_photo


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

def resaved(image: Image.Image, first: int, second: int) -> bytes:
    once = Image.open(io.BytesIO(encode(image, "JPEG", quality=first))).convert("RGB")
    return encode(once, "JPEG", quality=second)


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
