"""Deep checks: the maths of deletion, tiling, stability mapping and reliability."""
import numpy as np
import pytest
import torch

from conftest import make_photo
from forensics import checks
from forensics.model.capture import forward
from forensics.core.preprocess import to_tensor
from forensics.model.spec import TRAINING


def test_deleting_zero_patches_changes_nothing(tiny_detector):
    a = tiny_detector.analyze(make_photo(500, 400))
    pixels = to_tensor([a.model_input], TRAINING)
    same = checks.mean_fill(pixels, np.array([], dtype=int))
    assert torch.equal(same, pixels)
    p = torch.sigmoid(forward(tiny_detector.model, same).logits).item()
    assert p == pytest.approx(a.fake_probability, abs=1e-6)


def test_mean_fill_touches_only_the_named_patches(tiny_detector):
    a = tiny_detector.analyze(make_photo(500, 400))
    pixels = to_tensor([a.model_input], TRAINING)
    filled = checks.mean_fill(pixels, np.array([0, 24 * 3 + 5]))
    changed = (filled != pixels).any(dim=1)[0]  # (384, 384)
    assert changed[:16, :16].any() and changed[48:64, 80:96].any()
    changed[:16, :16] = False
    changed[48:64, 80:96] = False
    assert not changed.any()


def test_faithfulness_shapes(tiny_detector):
    a = tiny_detector.analyze(make_photo(500, 400))
    f = checks.faithfulness(tiny_detector, a)
    assert len(f.top_removed) == len(f.random_removed) == len(checks.DELETION_FRACTIONS)
    assert f.auc_top >= 0 and f.auc_random >= 0 and isinstance(f.faithful, bool)
    assert "Deletion check" in f.summary


@pytest.mark.parametrize("size", [(1000, 1000), (1920, 1080), (1080, 1920), (3000, 500), (384, 384), (50, 30)])
def test_full_coverage_tiles_cover_every_pixel(tiny_detector, size):
    a = tiny_detector.analyze(make_photo(*size))
    cov = checks.coverage(tiny_detector, a)
    covered = np.zeros(size[::-1], bool)
    for tile in cov.tiles:
        l, t, r, b = tile.box_original
        covered[t:b, l:r] = True
    assert covered.all()
    assert cov.probability == max(t.probability for t in cov.tiles)
    assert cov.heatmap.sum() == pytest.approx(1.0, abs=1e-5)
    if size[0] == size[1]:
        assert len(cov.tiles) == 4  # 440 = 384 + 56: two tiles per side


def test_tile_offsets_overlap():
    offs = checks.tile_offsets(1000)
    assert offs[0] == 0 and offs[-1] == 1000 - 384
    assert all(b - a <= 384 * 0.75 + 1 for a, b in zip(offs, offs[1:]))
    assert checks.tile_offsets(384) == [0]


def test_too_elongated_for_coverage_is_reported(tiny_detector):
    a = tiny_detector.analyze(make_photo(4000, 20))
    with pytest.raises(ValueError, match="elongated"):
        checks.coverage(tiny_detector, a)
    deep = checks.deep_check(tiny_detector, a)
    assert deep.coverage is None and "elongated" in deep.coverage_error


def test_stability_of_identical_maps_is_one(tiny_detector):
    a = tiny_detector.analyze(make_photo(640, 480))
    zoom = 0.3
    canvas = (round(640 * zoom), round(480 * zoom))
    base = checks._heat(a.patch_scores, a.geometry, 1.0, (0.0, 0.0), canvas, zoom)
    seen = ~np.isnan(base)
    assert 0.3 < seen.mean() < 0.9  # only the centre crop is drawn
    again = checks._heat(a.patch_scores.copy(), a.geometry, 1.0, (0.0, 0.0), canvas, zoom)
    np.testing.assert_array_equal(np.isnan(again), ~seen)
    assert checks._correlation(base[seen], again[seen]) == pytest.approx(1.0, abs=1e-12)
    # A re-run that sees the very same map, on the same geometry, correlates exactly 1.
    same = type("SameMaps", (), {"analyze_batch": lambda self, images, *args, **kw: [a] * len(images)})()
    s = checks.stability(same, a)
    assert [p.name for p in s.perturbations] == ["JPEG q90", "0.9x rescale", "8-pixel shift"]
    assert s.perturbations[0].heatmap_correlation == pytest.approx(1.0, abs=1e-12)
    assert not s.perturbations[0].flipped
    # The real re-runs: correlations are Pearson r, and mild changes keep the map recognisable.
    s = checks.stability(tiny_detector, a)
    assert all(-1.0 <= p.heatmap_correlation <= 1.0 for p in s.perturbations)
    assert s.perturbations[0].heatmap_correlation > 0.5  # JPEG q90 of a PNG barely moves the map


def test_reliability_flags_flat_and_clipped(tiny_detector):
    from PIL import Image
    flat = Image.new("RGB", (500, 500), (128, 128, 128))
    r = checks.reliability(tiny_detector, tiny_detector.analyze(flat))
    assert r.flat.all() and not r.clipped.any()
    white = Image.new("RGB", (500, 500), (255, 255, 255))
    assert checks.reliability(tiny_detector, tiny_detector.analyze(white)).clipped.all()
    textured = checks.reliability(tiny_detector, tiny_detector.analyze(make_photo(500, 500)))
    assert textured.flat.mean() < 0.5 and textured.outliers.shape == (24, 24)


def test_coverage_keeps_the_centre_verdict_beside_the_max_of_tiles(tiny_detector):
    img = make_photo(1200, 500)
    centre = tiny_detector.analyze(img)
    full = checks.coverage(tiny_detector, centre)
    assert full.probability == max(t.probability for t in full.tiles)
    assert full.centre_probability == centre.fake_probability
    assert len(full.tiles) > 1
