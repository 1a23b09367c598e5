"""Classic views: error level analysis and the noise residual (forensics/classic.py)."""
import io

from helpers import hang_guard

import numpy as np
import pytest
from PIL import Image

from forensics import classic


def textured(h=192, w=256, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 120 + 60 * np.sin(x / 9.0) * np.cos(y / 13.0)
    arr = base[..., None] + rng.normal(0, 6, (h, w, 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


def jpeg_round_trip(arr: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


@pytest.mark.parametrize("view", [classic.error_level_analysis, classic.noise_residual])
def test_views_are_rgb_uint8_of_the_same_size_with_a_caption(view):
    arr = textured(101, 77)
    out = view(arr)
    assert out.image.shape == arr.shape and out.image.dtype == np.uint8
    assert "cannot" in out.caption and "\n" not in out.caption
    assert out.to_record()["name"] == out.name


def test_ela_states_its_quality_and_shows_a_region_saved_differently():
    # The whole image saved once at q90; a block pasted in from a q60 copy: its error level differs.
    clean = jpeg_round_trip(textured(), 90)
    spliced = clean.copy()
    spliced[64:128, 96:160] = jpeg_round_trip(textured(seed=3), 60)[64:128, 96:160]
    spliced = jpeg_round_trip(spliced, 95)
    ela = classic.error_level_analysis(spliced, quality=90)
    assert "quality 90" in ela.caption
    inside = ela.image[72:120, 104:152].mean()
    outside = np.concatenate([ela.image[:56].ravel(), ela.image[136:].ravel()]).mean()
    assert inside != pytest.approx(outside, rel=0.1)


def test_noise_residual_is_flat_grey_on_a_flat_image_and_shows_added_noise():
    flat = np.full((64, 64, 3), 90, np.uint8)
    assert np.all(classic.noise_residual(flat).image == 128)
    noisy = flat.copy()
    noisy[16:48, 16:48] = np.clip(noisy[16:48, 16:48] + np.random.default_rng(1).normal(0, 8, (32, 32, 3)),
                                  0, 255).astype(np.uint8)
    res = classic.noise_residual(noisy).image.astype(float)
    assert np.abs(res[20:44, 20:44] - 128).mean() > 10 * (np.abs(res[:8] - 128).mean() + 0.1)


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        classic.error_level_analysis(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError):
        classic.noise_residual(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError):
        classic.error_level_analysis(textured(8, 8), quality=0)


def test_views_of_a_large_photo_finish():
    arr = textured(1080, 1920)
    with hang_guard():
        ela, noise = classic.classic_views(arr)
    assert ela.image.shape[:2] == noise.image.shape[:2] == (1080, 1920)
