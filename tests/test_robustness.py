"""The delivery-path sweep (checks.robustness): its grid, its equality with an independent
re-encoding, region sweeps, the verdict comparison and its wording, and where it is exported."""
import csv
import io
import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

from forensics import checks, cli
from forensics.core.verdict import verdict_for
from forensics.explain.robustness import QUALITIES, Robustness, Variant, grid, variant_size
from forensics.report import records, render
from helpers import encode, hang_guard, make_photo


def reencoded(image: Image.Image, long_edge, quality) -> Image.Image:
    """The variant made the obvious way, without the sweep's code: Pillow, then decode."""
    if long_edge is not None:
        w, h = image.size
        k = long_edge / max(w, h)
        size = (long_edge, round(h * k)) if w >= h else (round(w * k), long_edge)
        image = image.resize(size, Image.LANCZOS)
    if quality is not None:
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=quality)
        image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return image


# -- the grid ------------------------------------------------------------------------------------

def test_a_1200_pixel_image_gives_27_variants_and_the_sizes_below_it():
    rows, cols, cells = grid((1200, 800))
    assert rows == (None, 1080, 720, 512) and cols == (None, *QUALITIES)
    assert len(cells) == 27 and (None, None) not in cells


@pytest.mark.parametrize("size, rows", [((2048, 1000), (None, 1080, 720, 512)),   # equal: not "below"
                                        ((600, 900), (None, 720, 512)),
                                        ((512, 300), (None,)),
                                        ((5000, 4000), (None, 2048, 1080, 720, 512))])
def test_only_sizes_below_the_original_long_edge(size, rows):
    assert grid(size)[0] == rows


def test_variant_size_keeps_the_long_edge_and_rounds_the_short():
    assert variant_size((1200, 801), 720) == (720, round(801 * 720 / 1200))
    assert variant_size((801, 1200), 720) == (round(801 * 720 / 1200), 720)
    assert variant_size((4000, 3), 512) == (512, 1)  # never zero


# -- every variant is what an independent re-encoding gives ----------------------------------------

def test_every_variant_equals_an_independent_reencoding(tiny_detector):
    image = make_photo(1200, 800, seed=3)
    a = tiny_detector.analyze(image)
    with hang_guard(300):
        rob = checks.robustness(tiny_detector, a)
    assert len(rob.variants) == 27
    for v in rob.variants:
        ref = tiny_detector.analyze(reencoded(image, v.long_edge, v.quality))
        assert abs(v.fake_probability - ref.fake_probability) < 1e-5, v.label
        assert v.verdict == ref.verdict


def test_a_region_sweeps_the_regions_window(tiny_detector):
    image = make_photo(1600, 1000, seed=4)
    region = (900, 300, 1400, 800)
    a = tiny_detector.analyze(image, region=region)
    rob = checks.robustness(tiny_detector, a, qualities=(75,))
    assert rob.region == region and rob.sizes == (None, 1080, 720, 512)
    for v in rob.variants:
        copy = reencoded(image, v.long_edge, v.quality)
        sx, sy = copy.width / image.width, copy.height / image.height
        box = (region[0] * sx, region[1] * sy, region[2] * sx, region[3] * sy)
        ref = tiny_detector.analyze(copy, region=box)
        assert abs(v.fake_probability - ref.fake_probability) < 1e-5, v.label
    whole = tiny_detector.analyze(reencoded(image, None, 75))  # the whole image says something else
    assert abs(rob.cell(None, 75).fake_probability - whole.fake_probability) > 1e-6


def test_one_batched_pass_per_chunk_and_none_for_the_original(tiny_detector, counted_forwards):
    a = tiny_detector.analyze(make_photo(1200, 800))
    counted_forwards.clear()
    rob = checks.robustness(tiny_detector, a)
    assert len(counted_forwards) == 1 and len(rob.variants) == 27  # one pass by default
    counted_forwards.clear()
    checks.robustness(tiny_detector, a, chunk=9)
    assert len(counted_forwards) == 3


def test_the_analysis_image_is_not_changed(tiny_detector):
    image = make_photo(900, 700)
    a = tiny_detector.analyze(image)
    before = np.asarray(a.image).copy()
    checks.robustness(tiny_detector, a)
    assert np.array_equal(before, np.asarray(a.image))


# -- the verdict comparison: a detector whose P follows the image's fine detail ---------------------

class DetailDetector:
    """Wraps a real detector; P is the crop's pixel-to-pixel energy against the original's, so
    small sizes (which average the noise away) move the verdict off "ai-generated"."""

    def __init__(self, det, reference: float):
        self.det, self.reference = det, reference
        self.transform, self.calibration = det.transform, det.calibration

    def pixels(self, crops):
        return self.det.pixels(crops)

    @staticmethod
    def energy(pixels: torch.Tensor) -> np.ndarray:
        x = pixels.mean(dim=1)                                          # (B, 384, 384)
        return (x[:, 1:, :] - x[:, :-1, :]).abs().mean(dim=(1, 2)).numpy()

    def probabilities(self, pixels):
        return np.clip(0.85 * self.energy(pixels) / self.reference, 0, 1)


def test_changed_verdicts_are_counted_against_the_original(tiny_detector):
    rng = np.random.default_rng(0)
    noisy = np.asarray(make_photo(1200, 800), dtype=np.float64) + rng.normal(0, 20, (800, 1200, 3))
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    a = tiny_detector.analyze(image)
    ref = float(DetailDetector.energy(tiny_detector.pixels([a.model_input]))[0])
    det = DetailDetector(tiny_detector, ref)
    import dataclasses
    a = dataclasses.replace(a, fake_probability=0.85, model_verdict=verdict_for(0.85))  # what det says of it
    rob = checks.robustness(det, a)
    expected = [verdict_for(float(det.probabilities(det.pixels([tiny_detector.analyze(
        reencoded(image, v.long_edge, v.quality)).model_input]))[0])) for v in rob.variants]
    assert [v.verdict for v in rob.variants] == expected
    changed = [v for v, e in zip(rob.variants, expected) if e != "ai-generated"]
    assert 0 < len(changed) < len(rob.variants)          # the grid both keeps and loses the verdict
    assert rob.changed == tuple(changed)
    assert rob.holds == pytest.approx(1 - len(changed) / 27)
    assert rob.cell(512, 30).verdict != "ai-generated" and rob.cell(None, 95).verdict == "ai-generated"
    assert rob.summary.startswith("Depends on the delivery path: calls it ")
    assert checks.robustness_judgement(rob).level == "warn"


# -- wording, from hand-made grids ---------------------------------------------------------------

SIZES = (None, 1080, 720, 512)
QS = (None, 95, 85, 75, 60, 45, 30)


def made(rule, p0=0.8) -> Robustness:
    """A grid where rule(long_edge, quality) gives P."""
    variants = tuple(Variant(L, q, rule(L, q), verdict_for(rule(L, q))) for L in SIZES for q in QS
                     if (L, q) != (None, None))
    return Robustness(p0, verdict_for(p0), 1200, SIZES, QS, variants)


def test_robust_when_every_verdict_holds():
    rob = made(lambda L, q: 0.75)
    assert rob.robust and rob.holds == 1.0 and rob.first_quality_change is None and rob.first_size_change is None
    assert rob.summary.startswith("Robust to re-encoding: the verdict (AI-generated) holds in all 27")
    j = checks.robustness_judgement(rob)
    assert (j.key, j.label, j.level) == ("robustness", "ROBUST TO RE-ENCODING", "ok")


def test_quality_threshold_wording():
    rob = made(lambda L, q: 0.2 if q is not None and q <= 45 else 0.8)
    assert rob.first_quality_change == 45 and rob.first_size_change == 1080
    assert len(rob.changed) == 8 and rob.holds == pytest.approx(19 / 27)
    assert "calls it real at JPEG q45 and below (the verdict holds in 19 of 27 copies; P 0.20-0.80)" in rob.summary
    assert rob.lowest_probability == 0.2 and rob.highest_probability == 0.8


def test_size_and_scattered_wording():
    rob = made(lambda L, q: 0.5 if L is not None and L <= 720 and q is None else 0.8)
    assert "calls it inconclusive at 720 px and smaller" in rob.summary
    rob = made(lambda L, q: 0.2 if q in (85, 45) and L is None else 0.8)
    assert "at JPEG q85, q45 " in rob.summary
    rob = made(lambda L, q: 0.2 if (L, q) == (512, 30) else 0.8)
    assert "when resized and re-encoded (first at 512 px, JPEG q30)" in rob.summary


def test_a_comparison_with_the_wrong_reference_would_show():
    """The original's verdict is the reference, not the first variant's nor P's side of 0.5."""
    rob = made(lambda L, q: 0.55, p0=0.8)  # every copy inconclusive
    assert rob.holds == 0.0 and not rob.robust


# -- where it shows ------------------------------------------------------------------------------

def test_record_and_figure(tiny_detector):
    rob = made(lambda L, q: 0.2 if q == 30 else 0.8)
    # the analysis the sweep was made for: P 0.8, "ai-generated"
    a = dataclasses.replace(tiny_detector.analyze(make_photo(800, 600)), fake_probability=0.8,
                            model_verdict="ai-generated")
    section = records.robustness_record(rob)
    assert section["holds"] == pytest.approx(23 / 27) and len(section["variants"]) == 27
    assert section["variants"][0] == {"long_edge": None, "quality": 95, "fake_probability": 0.8,
                                      "verdict": "ai-generated"}
    assert section["judgement"]["label"] == "DEPENDS ON THE DELIVERY PATH"
    assert json.loads(json.dumps(records.record(a, robustness=rob)))["robustness"]["summary"] == rob.summary
    assert "robustness" not in records.record(a)
    fig = render.robustness_figure(rob)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 28 and sum(t.endswith("*") for t in texts) == 4  # 4 sizes at q30 changed


def test_cli_robustness_flag_writes_the_section_and_the_column(tmp_path, tiny_model_dir):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(encode(make_photo(700, 500), "JPEG", quality=90))
    out = tmp_path / "out"
    assert cli.main(["analyze", str(tmp_path / "in"), "--out", str(out), "--model", str(tiny_model_dir),
                     "--format", "json", "--robustness"]) == 0
    section = json.loads((out / "a.json").read_text())["robustness"]
    assert len(section["variants"]) == 13 and section["long_edges"] == [None, 512]
    rows = list(csv.DictReader(open(out / "summary.csv", encoding="utf-8")))
    assert rows[0]["robustness"] == section["summary"]
