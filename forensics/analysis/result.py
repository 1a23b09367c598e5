"""`Analysis`: everything one analysis found, and how, as one immutable result."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..core.calibration import Calibration
from ..core.errors import InputError
from ..core.preprocess import GRID, Geometry, Transform
from ..core.verdict import VERDICT_WORDING, sigmoid
from ..explain import registry
from ..explain.rollout import AGREEMENT_THRESHOLD, AGREEMENT_TOP_FRACTION, attention_rollout, top_patch_iou
from ..inputs.images import InputInfo
from ..model.loading import DEMO_WARNING, ModelInfo


@dataclass(frozen=True)
class Analysis:
    """Everything one analysis found, and how. Re-render with `with_rollout` (no new forward)."""

    fake_probability: float           # P(AI-generated) the verdict uses: sigmoid(logit), or calibrated when `calibration`
    logit: float
    verdict: str                      # "ai-generated" | "real" | "inconclusive"
    inconclusive_margin: float
    patch_scores: np.ndarray          # (24, 24) float64, >= 0, sums to 1: scores of `method`
    head_fusion: str
    discard_ratio: float
    geometry: Geometry
    input: InputInfo
    image: Image.Image = field(repr=False)        # upright RGB original
    model_input: Image.Image = field(repr=False)  # the 384x384 RGB crop the model saw
    model: ModelInfo = field(repr=False)
    preprocessing: Transform = field(repr=False)
    method: str = registry.BASELINE   # the registered explanation method `patch_scores` shows
    created_utc: str = ""
    rollout_scores: np.ndarray | None = field(default=None, repr=False)    # the baseline (attention rollout), always
    # The other registered methods computed for this image: name -> (24, 24) scores.
    method_scores: dict = field(default_factory=dict, repr=False)
    # Kept from the forward pass so the explanation can be recomputed without another one:
    attention: dict = field(default_factory=dict, repr=False)   # fusion -> (L, T, T) float32 tensor
    cls_embedding: np.ndarray | None = field(default=None, repr=False)      # (hidden,)
    patch_embeddings: np.ndarray | None = field(default=None, repr=False)   # (576, hidden)
    calibration: Calibration | None = field(default=None, repr=False)  # the map P went through; None: raw

    # -- the public names (README, "Python") ------------------------------------------------
    @property
    def crop_box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the analysed region in original pixels."""
        return self.geometry.crop_box

    @property
    def input_sha256(self) -> str | None:
        return self.input.sha256

    @property
    def raw_probability(self) -> float:
        """The model's own P(AI-generated), sigmoid(logit), before any calibration."""
        return sigmoid(self.logit)

    @property
    def verdict_text(self) -> str:
        return VERDICT_WORDING[self.verdict]

    @property
    def demo(self) -> bool:
        return self.model.demo

    @property
    def coverage(self) -> float:
        """Share of the original image's area the model saw (the centre crop)."""
        l, t, r, b = self.geometry.crop_box_exact
        w, h = self.geometry.original_size
        return min(1.0, (r - l) * (b - t) / (w * h))

    def notes(self) -> list[str]:
        """Plain-language caveats to print beside the verdict."""
        out = []
        if self.demo:
            out.append(DEMO_WARNING.upper() + ".")
        if self.calibration is not None:  # nobody sees a calibrated P without being told so, and on what
            out.append(f"{self.calibration.label}. Calibrated P(AI-generated) {self.fake_probability:.3f} "
                       f"(the verdict uses it); the model's raw P {self.raw_probability:.3f}.")
        if self.region is not None:
            out.extend(self.region_notes())
        elif self.coverage < 0.999:
            l, t, r, b = self.crop_box
            out.append(f"Only the centre crop ({l}, {t})-({r}, {b}) was analysed: "
                       f"{self.coverage:.0%} of the image area.")
        out.extend(self.input.notes())
        if self.explanation_unstable:
            other = registry.get(self.compared_method).label
            out.append(f"{registry.get(registry.BASELINE).label.capitalize()} and {other} disagree on where the "
                       f"evidence lies (their top-{AGREEMENT_TOP_FRACTION:.0%} patches overlap "
                       f"{self.method_agreement:.2f} IoU, below {AGREEMENT_THRESHOLD}): do not read the heatmap as "
                       "a stable explanation.")
        return out

    # -- regions (det.analyze(image, region=...)) -------------------------------------------
    @property
    def region(self) -> tuple[int, int, int, int] | None:
        """The region asked for, clipped to the image, original pixels; None for a whole image."""
        return self.geometry.region

    @property
    def region_mode(self) -> str | None:
        """"native" (1:1), "resized" (downscaled to 384), "upscaled" (small image); None: whole image."""
        return None if self.geometry.region is None else self.geometry.mode

    @property
    def region_scale(self) -> float | None:
        """Model-input pixels per original pixel for a region (1.0 native); None: whole image."""
        return None if self.geometry.region is None else self.geometry.zoom

    def region_notes(self) -> list[str]:
        l, t, r, b = self.region
        cl, ct, cr, cb = self.crop_box
        window = f"({cl}, {ct})-({cr}, {cb})"
        out = [{
            "native": f"Region ({l}, {t})-({r}, {b}) analysed at native resolution (one original pixel "
                      f"per model pixel) in the 384x384 window {window}.",
            "resized": f"Region ({l}, {t})-({r}, {b}) is larger than 384 pixels: the square {window} "
                       f"was brought down to 384x384 (scale {self.region_scale:.3g}).",
            "upscaled": f"Region ({l}, {t})-({r}, {b}): the image is under 384 pixels on a side, so the "
                        f"square {window} was upscaled to 384x384 (scale {self.region_scale:.3g}).",
        }[self.region_mode]]
        seen = self.geometry.region_seen
        if seen < 0.999:
            out.append(f"Only {seen:.0%} of the region lies inside what the model saw ({window}).")
        return out

    def region_shares(self, boxes) -> list[float]:
        """Share of the patch scores (sum 1 over the analysed square) falling on each box.

        Boxes are (left, top, right, bottom) in original pixels; a patch counts in proportion to
        the part of its area inside the box. Boxes may overlap each other and run past the edges.
        """
        g = self.geometry
        edges = np.arange(GRID + 1) * (g.input_size / GRID)                    # (25,) input pixels
        x_edges = (g.crop_offset[0] + edges) * g.scale[0]                       # (25,) original x
        y_edges = (g.crop_offset[1] + edges) * g.scale[1]
        shares = []
        for box in boxes:
            l, t, r, b = _check_box(box)
            fx = np.clip(np.minimum(r, x_edges[1:]) - np.maximum(l, x_edges[:-1]), 0, None) / np.diff(x_edges)
            fy = np.clip(np.minimum(b, y_edges[1:]) - np.maximum(t, y_edges[:-1]), 0, None) / np.diff(y_edges)
            shares.append(float(fy @ self.patch_scores @ fx))                   # (24,) @ (24, 24) @ (24,)
        return shares

    @property
    def compared_method(self) -> str | None:
        """The method compared with the baseline: the one shown, else the first other one computed."""
        if self.method != registry.BASELINE and self.method in self.method_scores:
            return self.method
        return next(iter(self.method_scores), None)

    @property
    def relevance_scores(self) -> np.ndarray | None:
        """Scores of `compared_method` (None: only the baseline was run)."""
        name = self.compared_method
        return None if name is None else self.method_scores[name]

    @property
    def method_agreement(self) -> float | None:
        """IoU of the top-10% patches of the baseline and `compared_method` (None: one method run)."""
        if self.relevance_scores is None or self.rollout_scores is None:
            return None
        return top_patch_iou(self.rollout_scores, self.relevance_scores, AGREEMENT_TOP_FRACTION)

    @property
    def explanation_unstable(self) -> bool:
        """True when the two methods disagree on where the evidence lies (agreement < threshold)."""
        agreement = self.method_agreement
        return agreement is not None and agreement < AGREEMENT_THRESHOLD

    # -- recomputing and reading the explanation ------------------------------------------
    def with_rollout(self, head_fusion: str = "mean", discard_ratio: float = 0.0) -> "Analysis":
        """The same analysis with the rollout recomputed from the kept attention."""
        if head_fusion not in self.attention:
            kept = ", ".join(self.attention) or "none"
            raise ValueError(f"attention fused by {head_fusion!r} was not kept (kept: {kept}); "
                             "analyze with keep_attention=True to recompute with other settings")
        scores = attention_rollout(self.attention[head_fusion].unsqueeze(0), discard_ratio)[0]
        primary = scores if self.method == registry.BASELINE else self.patch_scores
        return dataclasses.replace(self, patch_scores=primary, rollout_scores=scores,
                                   head_fusion=head_fusion, discard_ratio=float(discard_ratio))

    def with_method(self, method: str) -> "Analysis":
        """Show another method's scores; it must have been computed (method= at analyze)."""
        registry.get(method)  # ValueError naming the registered methods
        scores = self.rollout_scores if method == registry.BASELINE else self.method_scores.get(method)
        if scores is None:
            raise ValueError(f"{method} was not computed for this analysis; analyze with method={method!r}")
        return dataclasses.replace(self, patch_scores=scores, method=method)

    def top_patches(self, k: int | None = None) -> list[dict]:
        """The patch ledger, strongest first: rank, row, col, boxes, score, share %."""
        flat = self.patch_scores.ravel()
        order = np.argsort(-flat, kind="stable")[: (k or flat.size)]
        rows = []
        for rank, index in enumerate(order, start=1):
            row, col = divmod(int(index), GRID)
            rows.append({
                "rank": rank, "row": row, "col": col,
                "box_input": self.geometry.patch_box_input(row, col),
                "box_original": self.geometry.patch_box_original(row, col),
                "score": float(flat[index]),
                "share_percent": 100.0 * float(flat[index]),
            })
        return rows

    def patch_at(self, x: float, y: float) -> dict | None:
        """Ledger row of the patch covering original pixel (x, y); None outside the crop."""
        hit = self.geometry.original_to_patch(x, y)
        if hit is None:
            return None
        row, col = hit
        rank = 1 + int((self.patch_scores > self.patch_scores[row, col]).sum())
        return {"rank": rank, "row": row, "col": col,
                "box_input": self.geometry.patch_box_input(row, col),
                "box_original": self.geometry.patch_box_original(row, col),
                "score": float(self.patch_scores[row, col]),
                "share_percent": 100.0 * float(self.patch_scores[row, col])}

    def top_share(self, fraction: float = 0.1) -> float:
        """Share of the attention flow held by the strongest `fraction` of patches."""
        k = max(1, int(round(fraction * self.patch_scores.size)))
        return float(np.sort(self.patch_scores.ravel())[::-1][:k].sum())


def _check_box(box) -> tuple[float, float, float, float]:
    """Four finite numbers with left < right, top < bottom, else InputError."""
    try:
        values = tuple(float(v) for v in box)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4 or not np.all(np.isfinite(values)) or values[2] <= values[0] or values[3] <= values[1]:
        raise InputError(f"A box is (left, top, right, bottom) in original pixels with left < right and "
                         f"top < bottom; got {box!r}.")
    return values
