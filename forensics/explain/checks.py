"""Deep checks: is the explanation faithful, is the verdict stable, what does the rest of the
image say, and which patches are weak evidence. Each runs extra forward passes on demand.

All take the `Detector` and the `Analysis` it produced, and return small frozen dataclasses
that the app, the JSON record and the PDF show as they are. They use the detector only
through its public measurements (`probabilities`, `rollout_crops`, `patch_embeddings`,
`analyze_batch`). `judgements` is the one place where a deep check becomes a verdict on the
explanation (FAITHFUL, FRAGILE, ...): the page, the PNG, the PDF and the JSON all show it.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from PIL import Image

from . import registry
from ..core.verdict import verdict_for
from .local_scan import FLAT_STD  # patch pixel std (0..255) below this: flat, no texture to judge (one rule)
from .rollout import AGREEMENT_THRESHOLD, AGREEMENT_TOP_FRACTION
from ..core.preprocess import GRID, INPUT_SIZE, PATCH_SIZE, Geometry, resized_size

DELETION_FRACTIONS = (0.05, 0.10, 0.20, 0.30, 0.40, 0.50)
FAITHFUL_RATIO = 1.5       # top-k removal must move P this many times more than random removal
FAITHFUL_MIN_AUC = 0.01    # ...and by at least one percentage point on average over k
FRAGILE_CORRELATION = 0.5  # heatmap correlation below this (or a verdict flip) flags fragility
CLIPPED_SHARE = 0.5        # more than this share of a patch's samples at 0 or 255: clipped
OUTLIER_MADS = 6.0         # token norm this many MADs above the median: high-norm outlier token
MAX_TILES = 24
STABILITY_SHIFT = 8        # pixels: the shifted re-run drops this many rows and columns


# -- 1. faithfulness: delete the strongest patches, compare with deleting random ones ----------

@dataclass(frozen=True)
class Faithfulness:
    fractions: tuple[float, ...]
    probability: float                    # P(AI-generated) of the untouched input
    top_removed: tuple[float, ...]        # P after mean-filling the top-k patches, per fraction
    random_removed: tuple[float, ...]     # P after mean-filling as many random patches
    auc_top: float                        # area under |P - P0| over k, top patches
    auc_random: float
    method: str = "mean-fill deletion"

    @property
    def faithful(self) -> bool:
        """The highlighted patches move the verdict more than random ones do."""
        return self.auc_top > FAITHFUL_RATIO * self.auc_random and self.auc_top >= FAITHFUL_MIN_AUC

    @property
    def summary(self) -> str:
        word = "faithful" if self.faithful else "not shown faithful"
        return (f"Deletion check {word}: removing the top patches moved P(AI) by "
                f"{self.auc_top:.3f} (area under curve) vs {self.auc_random:.3f} for random patches.")


def mean_fill(pixels: torch.Tensor, patches: np.ndarray) -> torch.Tensor:
    """(1, 3, 384, 384) -> copy with the given flat patch indices set to the image's mean colour."""
    out = pixels.clone()
    mean = pixels.mean(dim=(2, 3), keepdim=True)  # (1, 3, 1, 1)
    for index in patches:
        r, c = divmod(int(index), GRID)
        out[:, :, r * PATCH_SIZE:(r + 1) * PATCH_SIZE, c * PATCH_SIZE:(c + 1) * PATCH_SIZE] = mean
    return out


def faithfulness(detector, analysis, fractions=DELETION_FRACTIONS, seed: int = 0) -> Faithfulness:
    pixels = detector.pixels([analysis.model_input])
    order = np.argsort(-analysis.patch_scores.ravel(), kind="stable")
    rng = np.random.default_rng(seed)
    random_order = rng.permutation(GRID * GRID)
    counts = [max(1, int(round(f * GRID * GRID))) for f in fractions]
    variants = [mean_fill(pixels, order[:k]) for k in counts] + [mean_fill(pixels, random_order[:k]) for k in counts]
    probs = detector.probabilities(torch.cat(variants))
    top, rand = probs[:len(counts)], probs[len(counts):]
    p0 = analysis.fake_probability
    x = np.asarray(fractions, dtype=np.float64)
    auc = lambda p: float(np.trapezoid(np.abs(p - p0), x) / (x[-1] - x[0]))  # noqa: E731
    return Faithfulness(tuple(fractions), p0, tuple(map(float, top)), tuple(map(float, rand)), auc(top), auc(rand))


# -- 2. stability: re-run on mild, innocent changes ---------------------------------------------

@dataclass(frozen=True)
class Perturbation:
    name: str
    probability: float
    verdict: str
    flipped: bool                 # verdict differs from the original's
    heatmap_correlation: float    # Pearson, over the region both runs analysed, in original pixels


@dataclass(frozen=True)
class Stability:
    probability: float
    perturbations: tuple[Perturbation, ...]

    @property
    def fragile(self) -> bool:
        return any(p.flipped or p.heatmap_correlation < FRAGILE_CORRELATION for p in self.perturbations)

    @property
    def summary(self) -> str:
        flips = [p.name for p in self.perturbations if p.flipped]
        corr = min(p.heatmap_correlation for p in self.perturbations)
        head = "Fragile verdict" if self.fragile else "Stable verdict"
        flip_text = f"the verdict flips under {', '.join(flips)}" if flips else "no verdict flips"
        return f"{head}: {flip_text}; lowest heatmap correlation {corr:.2f}."


def _jpeg(image: Image.Image, quality: int = 90) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def stability(detector, analysis, canvas_side: int = 192) -> Stability:
    image = analysis.image
    w, h = image.size
    shift = STABILITY_SHIFT
    variants = [("JPEG q90", _jpeg(image), 1.0, (0.0, 0.0))]
    small = image.resize((max(1, round(w * 0.9)), max(1, round(h * 0.9))), Image.BICUBIC)
    variants.append(("0.9x rescale", small, w / small.width, (0.0, 0.0)))
    if w > shift and h > shift:
        variants.append((f"{shift}-pixel shift", image.crop((shift, shift, w, h)), 1.0, (float(shift), float(shift))))
    runs = detector.analyze_batch([v[1] for v in variants], analysis.head_fusion, analysis.discard_ratio)
    zoom = canvas_side / max(w, h)
    canvas = (max(1, round(w * zoom)), max(1, round(h * zoom)))
    base = _heat(analysis.rollout_scores if analysis.rollout_scores is not None else analysis.patch_scores,
                 analysis.geometry, 1.0, (0.0, 0.0), canvas, zoom)
    out = []
    for (name, _, scale, offset), run in zip(variants, runs):
        heat = _heat(run.rollout_scores, run.geometry, scale, offset, canvas, zoom)
        both = ~np.isnan(base) & ~np.isnan(heat)
        # what P says of each re-run against what P says of the original (the final call also weighs
        # applicability, which a shrunk or shifted re-run changes by construction)
        out.append(Perturbation(name, run.fake_probability, run.model_verdict, run.model_verdict != analysis.model_verdict,
                                _correlation(base[both], heat[both])))
    return Stability(analysis.fake_probability, tuple(out))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r; two constant maps agree (1.0), one constant and one not do not (0.0)."""
    if a.size < 3:
        return 0.0
    flat_a, flat_b = np.ptp(a) < 1e-12, np.ptp(b) < 1e-12
    if flat_a or flat_b:
        return 1.0 if flat_a and flat_b else 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _heat(scores, geometry: Geometry, scale: float, offset, canvas, zoom) -> np.ndarray:
    """Patch scores on the canvas (original image at `zoom`), NaN outside the analysed crop."""
    sx, sy = geometry.scale
    ox, oy = geometry.crop_offset
    # grid cell (c, r) -> input pixel 16c -> variant pixel (ox + 16c) * sx -> original scale * that + offset
    ax, ay = zoom * scale * sx * PATCH_SIZE, zoom * scale * sy * PATCH_SIZE  # canvas pixels per grid cell
    # warpAffine maps pixel centres: shift by half a cell (less half a canvas pixel) so that cell c
    # covers canvas [a c + b, a (c + 1) + b), its patch box, rather than straddling it.
    m = np.float32([[ax, 0, zoom * (scale * sx * ox + offset[0]) + ax / 2 - 0.5],
                    [0, ay, zoom * (scale * sy * oy + offset[1]) + ay / 2 - 0.5]])
    return cv2.warpAffine(scores.astype(np.float32), m, canvas, flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))


# -- 3. coverage: tile the whole resized image, not just the centre crop ------------------------

@dataclass(frozen=True)
class Tile:
    box_original: tuple[int, int, int, int]
    probability: float


@dataclass(frozen=True)
class Coverage:
    tiles: tuple[Tile, ...]
    probability: float            # aggregated over tiles
    aggregation: str              # how: "max" (the most suspicious tile decides)
    heatmap: np.ndarray = field(repr=False)  # (H, W) float32 over the original at `heatmap_scale`, sums to 1
    heatmap_scale: float = 1.0    # heatmap pixels per original pixel
    centre_probability: float = 0.0

    @property
    def summary(self) -> str:
        return (f"Full coverage: {len(self.tiles)} overlapping 384-pixel tiles; P(AI) per tile "
                f"{min(t.probability for t in self.tiles):.2f}-{max(t.probability for t in self.tiles):.2f}, "
                f"aggregated by {self.aggregation}: {self.probability:.2f} "
                f"(centre crop alone: {self.centre_probability:.2f}).")


def tile_offsets(length: int, tile: int = INPUT_SIZE, min_overlap: float = 0.25) -> list[int]:
    """Start positions of tiles covering [0, length) with at least `min_overlap` overlap."""
    if length <= tile:
        return [0]
    n = math.ceil((length - tile) / (tile * (1 - min_overlap))) + 1
    return sorted({int(round(x)) for x in np.linspace(0, length - tile, n)})


def coverage(detector, analysis, max_tiles: int = MAX_TILES, heat_side: int = 512) -> Coverage:
    image, transform = analysis.image, analysis.preprocessing
    if transform.resize == "exact":
        raise ValueError("full coverage needs the shortest-edge transform; this one sees the whole image already")
    new_w, new_h = resized_size(image.width, image.height, transform.size)
    xs, ys = tile_offsets(new_w), tile_offsets(new_h)
    if len(xs) * len(ys) > max_tiles:
        raise ValueError(f"full coverage needs {len(xs) * len(ys)} tiles for a {image.width}x{image.height} "
                         f"image (limit {max_tiles}); the image is too elongated")
    resized = image.resize((new_w, new_h), transform.resample)
    crops = [resized.crop((x, y, x + INPUT_SIZE, y + INPUT_SIZE)) for y in ys for x in xs]
    probs, scores = detector.rollout_crops(crops, analysis.head_fusion, analysis.discard_ratio)  # (n,), (n, 24, 24)

    # Stitch in resized-image pixels, where the tiles are exact integer boxes covering everything.
    total = np.zeros((new_h, new_w), np.float64)
    weight = np.zeros_like(total)
    tiles = []
    for (y, x), p, s in zip(((y, x) for y in ys for x in xs), probs, scores):
        tiles.append(Tile(Geometry(image.size, (new_w, new_h), (x, y)).crop_box, float(p)))
        total[y:y + INPUT_SIZE, x:x + INPUT_SIZE] += np.kron(s, np.ones((PATCH_SIZE, PATCH_SIZE)))
        weight[y:y + INPUT_SIZE, x:x + INPUT_SIZE] += 1
    zoom = min(1.0, heat_side / max(image.size))
    canvas = (max(1, round(image.width * zoom)), max(1, round(image.height * zoom)))
    stitched = cv2.resize((total / weight).astype(np.float32), canvas, interpolation=cv2.INTER_AREA)
    stitched /= stitched.sum() or 1.0
    return Coverage(tuple(tiles), float(probs.max()), "max", stitched, zoom,
                    analysis.fake_probability)


# -- 4. reliability: which patches are weak evidence ---------------------------------------------

@dataclass(frozen=True)
class Reliability:
    flat: np.ndarray = field(repr=False)       # (24, 24) bool: too little texture to judge
    clipped: np.ndarray = field(repr=False)    # (24, 24) bool: saturated / crushed pixels
    outliers: np.ndarray = field(repr=False)   # (24, 24) bool: high-norm outlier tokens

    @property
    def weak(self) -> np.ndarray:
        return self.flat | self.clipped

    @property
    def summary(self) -> str:
        return (f"Reliability: {int(self.flat.sum())} flat and {int(self.clipped.sum())} clipped patches "
                f"are weak evidence (greyed); {int(self.outliers.sum())} high-norm outlier tokens marked.")


def reliability(detector, analysis) -> Reliability:
    crop = np.asarray(analysis.model_input, dtype=np.float32)  # (384, 384, 3)
    blocks = crop.reshape(GRID, PATCH_SIZE, GRID, PATCH_SIZE, 3).transpose(0, 2, 1, 3, 4).reshape(GRID, GRID, -1)
    flat = blocks.std(axis=2) < FLAT_STD
    clipped = ((blocks <= 0) | (blocks >= 255)).mean(axis=2) > CLIPPED_SHARE
    embeddings = analysis.patch_embeddings
    if embeddings is None:
        embeddings = detector.patch_embeddings(analysis.model_input)
    norms = np.linalg.norm(embeddings, axis=1)
    median = np.median(norms)
    mad = np.median(np.abs(norms - median)) or 1e-12
    outliers = ((norms - median) / mad > OUTLIER_MADS).reshape(GRID, GRID)
    return Reliability(flat, clipped, outliers)


# -- all together ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeepCheck:
    faithfulness: Faithfulness
    stability: Stability
    coverage: Coverage | None
    reliability: Reliability
    coverage_error: str | None = None

    def summaries(self) -> list[str]:
        lines = [self.faithfulness.summary, self.stability.summary]
        lines.append(self.coverage.summary if self.coverage else f"Full coverage not run: {self.coverage_error}")
        lines.append(self.reliability.summary)
        return lines


def deep_check(detector, analysis, progress=None) -> DeepCheck:
    """Run every check; `progress(fraction, text)` is called between steps when given."""
    steps = {}
    for i, (name, fn) in enumerate([("faithfulness", faithfulness), ("stability", stability),
                                    ("coverage", coverage), ("reliability", reliability)]):
        if progress is not None:  # gr.Progress is falsy
            progress(i / 4, f"deep check: {name}")
        try:
            steps[name] = fn(detector, analysis)
        except ValueError as exc:  # only coverage refuses (too elongated): report, do not fail
            if name != "coverage":
                raise
            steps[name], steps["coverage_error"] = None, str(exc)
    if progress is not None:
        progress(1.0, "deep check: done")
    return DeepCheck(steps["faithfulness"], steps["stability"], steps["coverage"], steps["reliability"],
                     steps.get("coverage_error"))


# -- judgements: the one place a deep check becomes words and a level --------------------------

LEVELS = ("ok", "info", "warn", "bad")   # ascending severity


@dataclass(frozen=True)
class Judgement:
    """One verdict on the explanation, as every view shows it."""
    key: str          # "faithfulness" | "stability" | "agreement" | "coverage"
    label: str        # e.g. "FAITHFUL", "FRAGILE"
    level: str        # one of LEVELS
    detail: str       # the numbers behind it, one short line


def agreement_judgement(analysis) -> Judgement:
    """Do the baseline and the compared method point at the same patches? (needs both run)"""
    agreement = analysis.method_agreement
    if agreement is None:
        return Judgement("agreement", "ONE METHOD RUN", "info", f"only {registry.get(registry.BASELINE).label} run")
    top = f"top-{AGREEMENT_TOP_FRACTION:.0%}"
    if agreement < AGREEMENT_THRESHOLD:
        return Judgement("agreement", "EXPLANATION UNSTABLE", "bad",
                         f"methods' {top} IoU {agreement:.2f} < {AGREEMENT_THRESHOLD:g}")
    return Judgement("agreement", "METHODS AGREE", "ok", f"methods' {top} IoU {agreement:.2f}")


def judgements(analysis, deep: DeepCheck) -> tuple[Judgement, ...]:
    """The deep check at a glance, in order: faithfulness, stability, method agreement, coverage."""
    f, s, c = deep.faithfulness, deep.stability, deep.coverage
    out = [Judgement("faithfulness", "FAITHFUL" if f.faithful else "NOT SHOWN FAITHFUL",
                     "ok" if f.faithful else "warn", f"AUC {f.auc_top:.3f} vs {f.auc_random:.3f} random")]
    flips = [p.name for p in s.perturbations if p.flipped]
    low = min(p.heatmap_correlation for p in s.perturbations)
    out.append(Judgement("stability", "FRAGILE" if s.fragile else "STABLE", "bad" if s.fragile else "ok",
                         f"verdict flips in {len(flips)} of {len(s.perturbations)} re-runs" if flips
                         else f"no flips; lowest heatmap r {low:.2f}"))
    out.append(agreement_judgement(analysis))
    if c is None:
        out.append(Judgement("coverage", "COVERAGE NOT RUN", "info", "image too elongated to tile"))
    else:
        verdict = verdict_for(c.probability, analysis.inconclusive_margin)
        out.append(Judgement("coverage", f"FULL IMAGE P {c.probability:.2f}",
                             {"ai-generated": "bad", "real": "ok"}.get(verdict, "warn"),
                             f"max of {len(c.tiles)} tiles: {verdict}"))
    return tuple(out)


def worst_level(items) -> str:
    """The most severe level among judgements: the colour of any one-line deep-check headline."""
    return max((j.level for j in items), key=LEVELS.index, default="info")


def judgement_line(items) -> str:
    """The judgements' labels as one line, for captions and tables."""
    return " \u00b7 ".join(j.label for j in items)


# -- robustness along the delivery path (explain/robustness.py) ----------------------------------

def robustness_judgement(rob) -> Judgement:
    """The delivery-path sweep at a glance: does the verdict survive re-sizing and re-encoding?"""
    n, kept = len(rob.variants), len(rob.variants) - len(rob.changed)
    span = f"P {rob.lowest_probability:.2f}-{rob.highest_probability:.2f}"
    if rob.robust:
        return Judgement("robustness", "ROBUST TO RE-ENCODING", "ok", f"verdict holds in all {n} copies; {span}")
    return Judgement("robustness", "DEPENDS ON THE DELIVERY PATH", "warn",
                     f"verdict holds in {kept} of {n} copies; {span}")


from .robustness import Robustness, Variant, robustness  # noqa: E402,F401  (checks.robustness)
from .local_scan import Hotspot, LocalScan, ScanTile, local_scan  # noqa: E402,F401  (checks.local_scan)
from .local_scan import MAX_WINDOWS as LOCAL_SCAN_MAX_WINDOWS  # noqa: E402,F401
