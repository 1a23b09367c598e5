"""The decisions, not the maths: when is an explanation FAITHFUL, a verdict FRAGILE, the two
methods in agreement, a probability inconclusive; and does the stability check compare the
re-runs' heatmaps where they really lie in the original image.

Each test here fails when its decision is quietly broken (a threshold ignored, a correlation or
an agreement forced to a constant, the shifted re-run registered at the wrong offset), which the
tests of the maths elsewhere would not notice. The deep-check dataclasses are built directly
where that states the rule most plainly; the rest runs the real code on the tiny model.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from forensics import Detector
from forensics import checks
from forensics.explain.checks import FAITHFUL_MIN_AUC, FAITHFUL_RATIO, FRAGILE_CORRELATION, STABILITY_SHIFT, Coverage, DeepCheck, Faithfulness, Perturbation, Reliability, Stability, Tile
from forensics.explain.rollout import AGREEMENT_THRESHOLD, AGREEMENT_TOP_FRACTION, top_patch_iou
from forensics.core.preprocess import GRID, PATCH_SIZE
from forensics.core.verdict import DEFAULT_INCONCLUSIVE_MARGIN, THRESHOLD, verdict_for
from helpers import make_photo
from model_factory import build_model, save_checkpoint, tiny_config


@pytest.fixture(scope="module")
def analysis(tiny_detector):
    return tiny_detector.analyze(make_photo(400, 300, seed=2))


def faithfulness(auc_top: float, auc_random: float) -> Faithfulness:
    return Faithfulness((0.1, 0.5), 0.7, (0.6, 0.5), (0.65, 0.6), auc_top, auc_random)


def stability(*perturbations: tuple[bool, float]) -> Stability:
    """(flipped, heatmap correlation) per re-run."""
    return Stability(0.7, tuple(Perturbation(f"run {i}", 0.7, "ai-generated", flipped, corr)
                                for i, (flipped, corr) in enumerate(perturbations)))


def coverage(probability: float) -> Coverage:
    tiles = (Tile((0, 0, 10, 10), probability), Tile((5, 0, 15, 10), probability / 2))
    return Coverage(tiles, probability, "max", np.full((4, 4), 1 / 16, np.float32), 1.0, 0.5)


NO_WEAK = Reliability(np.zeros((GRID, GRID), bool), np.zeros((GRID, GRID), bool), np.zeros((GRID, GRID), bool))


def deep(f=None, s=None, c="default") -> DeepCheck:
    return DeepCheck(f or faithfulness(0.3, 0.01), s or stability((False, 0.9)),
                     coverage(0.2) if c == "default" else c, NO_WEAK, None if c else "too elongated")


def by_key(analysis, d: DeepCheck) -> dict:
    items = checks.judgements(analysis, d)
    assert [j.key for j in items] == ["faithfulness", "stability", "agreement", "coverage"]
    assert all(j.level in checks.LEVELS for j in items)
    return {j.key: j for j in items}


# -- FAITHFUL: top patches must beat random ones by FAITHFUL_RATIO, and move P at all ------------

def test_faithful_needs_the_ratio_over_the_random_baseline():
    assert FAITHFUL_RATIO > 1
    assert faithfulness(0.20, 0.10).faithful                      # twice random
    assert not faithfulness(0.10, 0.08).faithful                  # more than random, but only 1.25x
    assert not faithfulness(0.10, 0.10).faithful
    assert not faithfulness(0.05, 0.30).faithful                  # random patches matter more
    just = 0.08 * FAITHFUL_RATIO
    assert faithfulness(just * 1.01, 0.08).faithful and not faithfulness(just * 0.99, 0.08).faithful


def test_faithful_needs_a_minimum_effect():
    assert not faithfulness(FAITHFUL_MIN_AUC * 0.9, 0.0).faithful  # infinitely better than random, but tiny
    assert faithfulness(FAITHFUL_MIN_AUC * 1.1, 0.0).faithful


def test_faithfulness_judgement_and_summary(analysis):
    ok = by_key(analysis, deep(f=faithfulness(0.20, 0.10)))["faithfulness"]
    assert (ok.label, ok.level) == ("FAITHFUL", "ok")
    weak = by_key(analysis, deep(f=faithfulness(0.10, 0.08)))["faithfulness"]
    assert (weak.label, weak.level) == ("NOT SHOWN FAITHFUL", "warn")
    assert "0.100" in weak.detail and "0.080" in weak.detail
    assert "not shown faithful" in faithfulness(0.10, 0.08).summary


# -- FRAGILE: any verdict flip, or any heatmap correlation below FRAGILE_CORRELATION -------------

def test_fragile_on_a_flip_or_a_low_correlation(analysis):
    assert not stability((False, 0.95), (False, FRAGILE_CORRELATION)).fragile
    assert stability((False, 0.95), (True, 0.99)).fragile                       # a flip alone
    assert stability((False, 0.95), (False, FRAGILE_CORRELATION - 0.01)).fragile  # a low r alone
    steady = by_key(analysis, deep(s=stability((False, 0.95), (False, 0.8))))["stability"]
    assert (steady.label, steady.level) == ("STABLE", "ok") and "0.80" in steady.detail
    flipped = by_key(analysis, deep(s=stability((True, 0.95), (False, 0.8), (False, 0.9))))["stability"]
    assert (flipped.label, flipped.level) == ("FRAGILE", "bad") and "1 of 3" in flipped.detail
    low = by_key(analysis, deep(s=stability((False, 0.95), (False, 0.2))))["stability"]
    assert (low.label, low.level) == ("FRAGILE", "bad") and "0.20" in low.detail


# -- coverage: the level follows the verdict band of the full-image probability -----------------

def test_coverage_level_follows_the_verdict_band(analysis):
    margin = analysis.inconclusive_margin
    for p, verdict, level in [(0.95, "ai-generated", "bad"), (0.05, "real", "ok"),
                              (THRESHOLD + margin / 2, "inconclusive", "warn"),
                              (THRESHOLD - margin / 2, "inconclusive", "warn")]:
        j = by_key(analysis, deep(c=coverage(p)))["coverage"]
        assert j.label == f"FULL IMAGE P {p:.2f}" and j.level == level and verdict in j.detail, p
    wider = dataclasses.replace(analysis, inconclusive_margin=0.3)  # the analysis's own band decides
    assert by_key(wider, deep(c=coverage(0.75)))["coverage"].level == "warn"
    assert by_key(analysis, deep(c=coverage(0.75)))["coverage"].level == "bad"
    missing = by_key(analysis, deep(c=None))["coverage"]
    assert (missing.label, missing.level) == ("COVERAGE NOT RUN", "info")


def test_worst_level_colours_the_headline(analysis):
    calm = checks.judgements(analysis, deep())
    assert checks.worst_level(calm) == "info"  # one method run: agreement is "info", the rest "ok"
    alarm = checks.judgements(analysis, deep(s=stability((True, 0.9))))
    assert checks.worst_level(alarm) == "bad"
    assert checks.judgement_line(alarm).split(" \u00b7 ")[:2] == ["FAITHFUL", "FRAGILE"]


# -- the inconclusive band ------------------------------------------------------------------------

def test_verdict_band():
    m = DEFAULT_INCONCLUSIVE_MARGIN
    assert 0 < m < 0.5
    assert verdict_for(THRESHOLD + m / 2) == "inconclusive"
    assert verdict_for(THRESHOLD - m / 2) == "inconclusive"
    assert verdict_for(THRESHOLD) == "inconclusive"
    assert verdict_for(THRESHOLD + 1.5 * m) == "ai-generated"
    assert verdict_for(THRESHOLD - 1.5 * m) == "real"
    assert verdict_for(0.7, margin=0.25) == "inconclusive" and verdict_for(0.7, margin=0.1) == "ai-generated"
    assert verdict_for(0.51, margin=0.0) == "ai-generated" and verdict_for(0.49, margin=0.0) == "real"
    assert verdict_for(0.5, margin=0.0) == "inconclusive"  # exactly at the cut-off: no call


def detector_with_probability(folder, p: float, **kwargs) -> Detector:
    """A tiny real-format checkpoint whose classifier ignores the image: P(AI) = p for every input."""
    model = build_model(tiny_config())
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.fill_(math.log(p / (1 - p)))
    return Detector.from_pretrained(save_checkpoint(model, folder), device="cpu", **kwargs)


def test_analyze_attaches_the_inconclusive_verdict(tmp_path):
    img = make_photo(600, 440)  # not enlarged by the transform: no applicability condition blocks a call
    just_above = detector_with_probability(tmp_path / "above", THRESHOLD + DEFAULT_INCONCLUSIVE_MARGIN / 2)
    a = just_above.analyze(img)
    assert a.fake_probability == pytest.approx(THRESHOLD + DEFAULT_INCONCLUSIVE_MARGIN / 2, abs=1e-6)
    assert a.verdict == "inconclusive" and a.verdict_text.startswith("Inconclusive")
    just_below = detector_with_probability(tmp_path / "below", THRESHOLD - DEFAULT_INCONCLUSIVE_MARGIN / 2)
    assert just_below.analyze(img).verdict == "inconclusive"
    clear = detector_with_probability(tmp_path / "clear", 0.9)
    assert clear.analyze(img).verdict == "ai-generated"
    # The detector's own margin is the one applied, to every image of a batch.
    wide = detector_with_probability(tmp_path / "wide", 0.7, inconclusive_margin=0.3)
    assert [x.verdict for x in wide.analyze_batch([img, make_photo(200, 300)])] == ["inconclusive"] * 2
    assert wide.analyze(img).inconclusive_margin == 0.3


# -- method agreement -----------------------------------------------------------------------------

def overlapping_maps(shared: int) -> tuple[np.ndarray, np.ndarray]:
    """Two 24x24 maps whose top-10% patch sets share exactly `shared` patches."""
    k = round(AGREEMENT_TOP_FRACTION * GRID * GRID)
    a = np.linspace(1.0, 0.0, GRID * GRID)  # patch i is the i-th strongest
    b = a.copy()
    # Swap the weakest (k - shared) of a's top-k with patches far outside it.
    for i, j in zip(range(shared, k), range(GRID * GRID - 1, 0, -1)):
        b[i], b[j] = b[j], b[i]
    return a.reshape(GRID, GRID) / a.sum(), b.reshape(GRID, GRID) / b.sum()


def test_top_patch_iou_counts_the_shared_top_patches():
    k = round(AGREEMENT_TOP_FRACTION * GRID * GRID)
    for shared in (0, 10, k // 2, k):
        a, b = overlapping_maps(shared)
        assert top_patch_iou(a, b) == pytest.approx(shared / (2 * k - shared))


def with_relevance(analysis, relevance: np.ndarray):
    return dataclasses.replace(analysis, method_scores={"grad-rollout": relevance}, method="grad-rollout", patch_scores=relevance)


def test_disagreeing_methods_make_an_unstable_explanation(analysis):
    k = round(AGREEMENT_TOP_FRACTION * GRID * GRID)
    rollout, relevance = overlapping_maps(10)
    iou = 10 / (2 * k - 10)
    assert iou < AGREEMENT_THRESHOLD
    a = with_relevance(dataclasses.replace(analysis, rollout_scores=rollout), relevance)
    assert a.method_agreement == pytest.approx(iou)
    assert a.explanation_unstable
    assert any("disagree" in note for note in a.notes())
    j = checks.agreement_judgement(a)
    assert (j.label, j.level) == ("EXPLANATION UNSTABLE", "bad") and f"{iou:.2f}" in j.detail
    assert by_key(a, deep())["agreement"] == j
    assert checks.worst_level(checks.judgements(a, deep())) == "bad"


def test_agreeing_methods_are_not_flagged(analysis):
    k = round(AGREEMENT_TOP_FRACTION * GRID * GRID)
    shared = k - 8
    rollout, relevance = overlapping_maps(shared)
    a = with_relevance(dataclasses.replace(analysis, rollout_scores=rollout), relevance)
    assert a.method_agreement == pytest.approx(shared / (2 * k - shared))
    assert AGREEMENT_THRESHOLD < a.method_agreement < 1
    assert not a.explanation_unstable and not any("disagree" in note for note in a.notes())
    j = checks.agreement_judgement(a)
    assert (j.label, j.level) == ("METHODS AGREE", "ok")
    one = checks.agreement_judgement(analysis)  # grad-rollout not run: no claim either way
    assert analysis.method_agreement is None and (one.label, one.level) == ("ONE METHOD RUN", "info")


def test_real_grad_rollout_agreement_is_the_top_patch_iou(tiny_detector):
    a = tiny_detector.analyze(make_photo(400, 300, seed=2), method="grad-rollout")
    expected = top_patch_iou(a.rollout_scores, a.relevance_scores, AGREEMENT_TOP_FRACTION)
    assert a.method_agreement == expected
    assert a.explanation_unstable is (expected < AGREEMENT_THRESHOLD)
    reversed_relevance = a.rollout_scores.max() - a.rollout_scores
    b = with_relevance(a, reversed_relevance / reversed_relevance.sum())
    assert b.method_agreement == 0.0 and b.explanation_unstable


# -- stability: correlation and registration of the re-runs --------------------------------------

def test_correlation_is_pearson():
    rng = np.random.default_rng(0)
    x = rng.random(500)
    assert checks._correlation(x, x) == 1.0
    assert checks._correlation(x, 3 * x + 2) == pytest.approx(1.0, abs=1e-12)
    assert checks._correlation(x, -x) == pytest.approx(-1.0, abs=1e-12)
    y = rng.random(500)
    assert checks._correlation(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)
    assert abs(checks._correlation(x, y)) < 0.2
    assert checks._correlation(x, np.full(500, 0.3)) == 0.0       # one flat map, one not
    assert checks._correlation(np.ones(500), np.full(500, 0.3)) == 1.0


def stripes(x, y, period: float = 16.0):
    """A heat pattern over original pixels that an 8-pixel shift turns into its negative."""
    return 2.0 + np.sin(2 * np.pi * x / period) + np.sin(2 * np.pi * y / period)


def sampled(pattern, geometry, scale: float = 1.0, offset=(0.0, 0.0)) -> np.ndarray:
    """The pattern at each patch centre of an analysis with `geometry`, whose image maps to the
    original by original = scale * pixel + offset; (24, 24), sums to 1."""
    sx, sy = geometry.scale
    ox, oy = geometry.crop_offset
    centres = np.arange(GRID) * PATCH_SIZE + PATCH_SIZE / 2
    x = scale * (ox + centres)[None, :] * sx + offset[0]
    y = scale * (oy + centres)[:, None] * sy + offset[1]
    m = pattern(x, y)
    return m / m.sum()


class Replay:
    """A detector for `checks.stability` whose re-runs are the real tiny model's, except that the
    P, the verdict and the map are chosen: `answer(image, run)` returns (rollout, flipped)."""

    def __init__(self, detector, original, answer):
        self.detector, self.original, self.answer = detector, original, answer

    def analyze_batch(self, images, head_fusion="mean", discard_ratio=0.0, **kwargs):
        runs = self.detector.analyze_batch(images, head_fusion, discard_ratio, **kwargs)
        out = []
        for image, run in zip(images, runs):
            rollout, flipped = self.answer(image, run)
            verdict = "real" if flipped and self.original.model_verdict != "real" else self.original.model_verdict
            out.append(dataclasses.replace(run, rollout_scores=rollout, patch_scores=rollout,
                                           fake_probability=self.original.fake_probability, model_verdict=verdict))
        return out


def variant_mapping(original_size, image) -> tuple[float, tuple[float, float]]:
    """How the stability re-run of this size maps to the original: (scale, offset)."""
    w, h = original_size
    if image.size == (w, h):
        return 1.0, (0.0, 0.0)                                     # JPEG q90
    if image.size == (w - STABILITY_SHIFT, h - STABILITY_SHIFT):
        return 1.0, (float(STABILITY_SHIFT), float(STABILITY_SHIFT))  # cropped by the shift
    return w / image.width, (0.0, 0.0)                             # 0.9x rescale


@pytest.fixture(scope="module")
def striped(tiny_detector):
    """A small image (one patch is ~3.6 original pixels, so an 8-pixel shift spans two patches)
    whose explanation is the stripe pattern where the model looked."""
    a = tiny_detector.analyze(make_photo(100, 100, seed=4))
    truth = sampled(stripes, a.geometry)
    return dataclasses.replace(a, patch_scores=truth, rollout_scores=truth)


def test_shifted_rerun_is_registered_where_it_lies_in_the_original(tiny_detector, striped):
    def same_pattern(image, run):  # each re-run sees the same stripes, in its own pixels
        scale, offset = variant_mapping(striped.image.size, image)
        return sampled(stripes, run.geometry, scale, offset), False

    s = checks.stability(Replay(tiny_detector, striped, same_pattern), striped)
    corr = {p.name: p.heatmap_correlation for p in s.perturbations}
    assert set(corr) == {"JPEG q90", "0.9x rescale", f"{STABILITY_SHIFT}-pixel shift"}
    assert corr["JPEG q90"] == pytest.approx(1.0, abs=1e-12)  # the same map on the same geometry
    # Registered right, the shifted run's stripes fall on the original's; 8 pixels off, they
    # would be the negative of them (r near -1).
    assert corr[f"{STABILITY_SHIFT}-pixel shift"] > 0.7
    assert corr["0.9x rescale"] > 0.7
    assert not s.fragile


def test_misplaced_explanation_is_fragile(tiny_detector, striped):
    def displaced(image, run):  # the shifted run's stripes land 8 pixels off in the original
        scale, offset = variant_mapping(striped.image.size, image)
        if offset != (0.0, 0.0):
            offset = (0.0, 0.0)
        return sampled(stripes, run.geometry, scale, offset), False

    s = checks.stability(Replay(tiny_detector, striped, displaced), striped)
    shift = s.perturbations[-1]
    assert shift.name == f"{STABILITY_SHIFT}-pixel shift" and shift.heatmap_correlation < -0.5
    assert s.fragile and by_key(striped, deep(s=s))["stability"].label == "FRAGILE"


def test_stability_reports_opposite_maps_and_flips(tiny_detector, striped):
    def inverted(image, run):  # the same stripes, hot where the original is cold
        scale, offset = variant_mapping(striped.image.size, image)
        m = sampled(stripes, run.geometry, scale, offset)
        return (m.max() - m) / (m.max() - m).sum(), False

    s = checks.stability(Replay(tiny_detector, striped, inverted), striped)
    assert s.perturbations[0].name == "JPEG q90" and s.perturbations[0].heatmap_correlation == pytest.approx(-1.0)
    assert all(p.heatmap_correlation < 0 for p in s.perturbations)
    assert s.fragile and not any(p.flipped for p in s.perturbations)

    def flip_only(image, run):  # the very same map, but the verdict changes
        return striped.rollout_scores, True

    s = checks.stability(Replay(tiny_detector, striped, flip_only), striped)
    assert s.perturbations[0].heatmap_correlation == pytest.approx(1.0, abs=1e-12)
    assert all(p.flipped for p in s.perturbations)
    assert s.fragile and "flips under" in s.summary


def hot_box(heat: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(heat == 1.0)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_heat_moves_a_patch_by_the_offset_and_keeps_its_size(tiny_detector):
    a = tiny_detector.analyze(make_photo(640, 480, seed=1))
    one = np.zeros((GRID, GRID))
    one[5, 7] = 1.0
    l, t, r, b = hot_box(checks._heat(one, a.geometry, 1.0, (0.0, 0.0), (640, 480), 1.0))  # canvas = original
    pl, pt, pr, pb = a.geometry.patch_box_original(5, 7)
    assert abs((r - l) - (pr - pl)) <= 1 and abs((b - t) - (pb - pt)) <= 1
    shifted = hot_box(checks._heat(one, a.geometry, 1.0, (8.0, 8.0), (640, 480), 1.0))
    assert shifted == (l + 8, t + 8, r + 8, b + 8)
    twice = hot_box(checks._heat(one, a.geometry, 2.0, (0.0, 0.0), (1280, 960), 1.0))  # a half-size re-run
    assert abs(twice[0] - 2 * l) <= 2 and abs(twice[2] - 2 * r) <= 2


def test_heat_places_a_patch_on_its_box(tiny_detector):
    a = tiny_detector.analyze(make_photo(640, 480, seed=1))
    one = np.zeros((GRID, GRID))
    one[5, 7] = 1.0
    l, t, r, b = hot_box(checks._heat(one, a.geometry, 1.0, (0.0, 0.0), (640, 480), 1.0))
    pl, pt, pr, pb = a.geometry.patch_box_original(5, 7)
    assert abs(l - pl) <= 1 and abs(t - pt) <= 1 and abs(r - pr) <= 1 and abs(b - pb) <= 1
