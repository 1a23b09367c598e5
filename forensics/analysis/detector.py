"""`Detector` (model + transform + device, loaded once) and `Analysis` (one immutable result)."""
from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from ..model import capture
from ..model import loading as _model
from . import video as _video
from ..explain.rollout import (AGREEMENT_THRESHOLD, AGREEMENT_TOP_FRACTION, HEAD_FUSIONS, attention_rollout,
                               check_discard_ratio, chefer_relevance, grad_rollout, head_fuser, top_patch_iou)
from ..inputs.images import ImageSource, InputInfo, load_image
from ..core.errors import InputError
from ..core.calibration import Calibration
from ..core.verdict import (DEFAULT_INCONCLUSIVE_MARGIN, THRESHOLD, VERDICT_WORDING, sigmoid, verdict_for)  # noqa: F401
from ..core.preprocess import GRID, Geometry, Transform, crop_input, crop_region, hub_transform, to_tensor
from ..model.spec import TRAINING

METHODS = ("attention-rollout", "grad-rollout")


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
    model: _model.ModelInfo = field(repr=False)
    preprocessing: Transform = field(repr=False)
    method: str = "attention-rollout"
    created_utc: str = ""
    rollout_scores: np.ndarray | None = field(default=None, repr=False)    # attention rollout, always
    relevance_scores: np.ndarray | None = field(default=None, repr=False)  # grad-rollout, when run
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
            out.append(_model.DEMO_WARNING.upper() + ".")
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
            out.append(f"Attention rollout and grad-rollout disagree on where the evidence lies (their "
                       f"top-{AGREEMENT_TOP_FRACTION:.0%} patches overlap {self.method_agreement:.2f} IoU, below "
                       f"{AGREEMENT_THRESHOLD}): do not read the heatmap as a stable explanation.")
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
    def method_agreement(self) -> float | None:
        """IoU of the top-10% patches of attention rollout and grad-rollout (None: one method run)."""
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
        primary = scores if self.method == "attention-rollout" else self.patch_scores
        return dataclasses.replace(self, patch_scores=primary, rollout_scores=scores,
                                   head_fusion=head_fusion, discard_ratio=float(discard_ratio))

    def with_method(self, method: str) -> "Analysis":
        """Show the other method's scores; grad-rollout must have been run (method= at analyze)."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        scores = self.rollout_scores if method == "attention-rollout" else self.relevance_scores
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


class Detector:
    """The Community Forensics detector with its input transform, loaded once and reused."""

    def __init__(self, model, model_info: _model.ModelInfo, transform: Transform = TRAINING,
                 device: str | torch.device = "auto",
                 inconclusive_margin: float = DEFAULT_INCONCLUSIVE_MARGIN, calibration: Calibration | None = None):
        verdict_for(0.5, inconclusive_margin)  # validates the margin
        self.calibration = calibration  # applied to every P this detector reports (see `with_calibration`)
        self.device = _model.pick_device(device)
        self.model = model.to(self.device)
        self.model_info = model_info
        self.transform = transform
        self.inconclusive_margin = inconclusive_margin

    @classmethod
    def from_pretrained(cls, source: str | Path | None = None, *, revision: str | None = None,
                        device: str = "auto", preprocessing: str = "training",
                        inconclusive_margin: float = DEFAULT_INCONCLUSIVE_MARGIN) -> "Detector":
        """Load from the pinned hub model (None), another hub id, or a local folder.

        `FORENSICS_MODEL` names the source when `source` is None. Raises
        `ModelUnavailableError` with the ways to provide weights when none can be had.
        """
        folder, label, revision = _model.resolve_source(source, revision)
        net, info = _model.load_model(folder, source=label, revision=revision)
        if preprocessing == "training":
            transform = TRAINING
        elif preprocessing == "hub":
            try:
                transform = hub_transform(folder / "preprocessor_config.json")
            except (FileNotFoundError, ValueError) as exc:
                raise _model.ModelUnavailableError(f"preprocessing='hub': {exc}") from None
        else:
            raise ValueError(f"preprocessing must be 'training' or 'hub', got {preprocessing!r}")
        return cls(net, info, transform, device, inconclusive_margin)

    @classmethod
    def demo(cls, seed: int = 0, *, device: str = "auto",
             inconclusive_margin: float = DEFAULT_INCONCLUSIVE_MARGIN) -> "Detector":
        """The real architecture with seeded random weights: for trying the tool, not for evidence."""
        net, info = _model.build_demo_model(seed)
        return cls(net, info, TRAINING, device, inconclusive_margin)

    @classmethod
    def load(cls, source: str | Path | None = None, *, demo: bool = False, revision: str | None = None,
             device: str = "auto", preprocessing: str = "training",
             inconclusive_margin: float = DEFAULT_INCONCLUSIVE_MARGIN,
             calibration: Calibration | None = None) -> "Detector":
        """`demo()` or `from_pretrained(source, ...)`, with `calibration` applied: what the CLI, the
        app and each Ray worker build from the same settings."""
        if demo:
            det = cls.demo(device=device, inconclusive_margin=inconclusive_margin)
        else:
            det = cls.from_pretrained(source, revision=revision, device=device, preprocessing=preprocessing,
                                      inconclusive_margin=inconclusive_margin)
        return det if calibration is None else det.with_calibration(calibration)

    # -- steps ---------------------------------------------------------------------------
    def preprocess(self, image: ImageSource, region=None) -> torch.Tensor:
        """Exactly the (1, 3, 384, 384) float32 tensor the model is fed for `image` (or its region)."""
        rgb, _ = load_image(image)
        crop, _ = self._crop(rgb, region)
        return to_tensor([crop], self.transform)

    def _crop(self, rgb: Image.Image, region=None) -> tuple[Image.Image, Geometry]:
        """The whole image's training crop, or a region's window (InputError for a bad region)."""
        return crop_input(rgb, self.transform) if region is None else crop_region(rgb, region, self.transform)

    def analyze(self, image: ImageSource, head_fusion: str = "mean", discard_ratio: float = 0.0, *,
                method: str = "attention-rollout", name: str | None = None,
                keep_attention: bool = False, embeddings: bool = False, region=None) -> Analysis:
        """Verdict and explanation of one image (path, bytes or PIL image) from one forward pass.

        method: "attention-rollout" (class-agnostic, nearly free) or "grad-rollout" (Chefer et
          al. 2021, specific to the AI-generated logit; adds a backward pass, and computes
          both, so `method_agreement` is set).
        keep_attention: keep all three head fusions so `Analysis.with_rollout` can recompute.
        embeddings: also return the CLS embedding and the 576 patch embeddings.
        region: (left, top, right, bottom) in pixels of the upright original: analyse that region
          at full resolution (see `preprocess.crop_region`); InputError when it is unusable.
        """
        return self.analyze_batch([image], head_fusion, discard_ratio, method=method, names=[name],
                                  keep_attention=keep_attention, embeddings=embeddings,
                                  regions=[region])[0]

    def analyze_batch(self, images: Sequence[ImageSource], head_fusion: str = "mean",
                      discard_ratio: float = 0.0, *, method: str = "attention-rollout",
                      names: Sequence[str | None] | None = None,
                      keep_attention: bool = False, embeddings: bool = False,
                      regions: Sequence | None = None) -> list[Analysis]:
        """Like `analyze` for several images in one batched forward pass.

        Raises InputError for the first image that cannot be read; callers that must go on
        past broken files decode each with `load_image` and call `analyze_decoded` (the CLI does).
        """
        names = list(names) if names is not None else [None] * len(images)
        decoded = [load_image(img, name=n) for img, n in zip(images, names)]
        return self.analyze_decoded(decoded, head_fusion, discard_ratio, method=method,
                                    keep_attention=keep_attention, embeddings=embeddings, regions=regions)

    def analyze_decoded(self, decoded: Sequence[tuple[Image.Image, InputInfo]], head_fusion: str = "mean",
                        discard_ratio: float = 0.0, *, method: str = "attention-rollout",
                        keep_attention: bool = False, embeddings: bool = False,
                        regions: Sequence | None = None) -> list[Analysis]:
        """`analyze_batch` for images already decoded by `load_image` (each decoded once only).

        regions: one region or None per image; the same decoded image may appear several times
        with different regions (the faces of a photo in one forward pass).
        """
        if head_fusion not in HEAD_FUSIONS:
            raise ValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}")
        discard_ratio = check_discard_ratio(discard_ratio)
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        regions = list(regions) if regions is not None else [None] * len(decoded)
        if len(regions) != len(decoded):
            raise ValueError(f"{len(regions)} regions for {len(decoded)} images: give one (or None) per image")
        crops = [self._crop(rgb, region) for (rgb, _), region in zip(decoded, regions)]
        pixels = to_tensor([c for c, _ in crops], self.transform)
        fusions = HEAD_FUSIONS if keep_attention else (head_fusion,)
        result = capture.forward(self.model, pixels, fuse=head_fuser(fusions), keep_hidden=embeddings,
                                gradients=method == "grad-rollout")
        rollout = attention_rollout(result.attention[head_fusion], discard_ratio)  # (B, 24, 24)
        relevance = None
        if result.attention_grads is not None:
            relevance = grad_rollout(chefer_relevance(result.attention_probs, result.attention_grads))
        primary = relevance if relevance is not None else rollout
        created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

        analyses = []
        for i, ((rgb, info), (crop, geometry)) in enumerate(zip(decoded, crops)):
            logit = float(result.logits[i])
            p = self._calibrated(sigmoid(logit))
            kept = {f: result.attention[f][i].cpu() for f in fusions} if keep_attention else {}
            hidden = result.hidden[i].cpu().numpy() if embeddings else None
            analyses.append(Analysis(
                fake_probability=p, logit=logit,
                verdict=verdict_for(p, self.inconclusive_margin),
                inconclusive_margin=self.inconclusive_margin,
                patch_scores=primary[i], head_fusion=head_fusion, discard_ratio=discard_ratio,
                method=method, rollout_scores=rollout[i],
                relevance_scores=None if relevance is None else relevance[i],
                geometry=geometry, input=info, image=rgb, model_input=crop, model=self.model_info,
                preprocessing=self.transform, created_utc=created, attention=kept,
                cls_embedding=None if hidden is None else hidden[0],
                patch_embeddings=None if hidden is None else hidden[1:], calibration=self.calibration))
        return analyses

    # -- calibration -----------------------------------------------------------------------
    def with_calibration(self, calibration: Calibration | None) -> "Detector":
        """The same model (shared, not copied) reporting calibrated P; the verdict band applies to it."""
        other = copy.copy(self)
        other.calibration = calibration
        return other

    def _calibrated(self, p):
        return p if self.calibration is None else self.calibration.apply(p)

    def _reported(self, logits: torch.Tensor) -> np.ndarray:
        """(B,) logits -> the P(AI-generated) this detector reports: sigmoid, then its calibration."""
        return self._calibrated(torch.sigmoid(logits.float()).cpu().numpy().astype(np.float64))

    # -- measurements the deep checks and the evaluation ask for (no explanation attached) ---
    def pixels(self, crops: Sequence[Image.Image]) -> torch.Tensor:
        """384x384 RGB crops -> the normalised (B, 3, 384, 384) tensor this detector feeds."""
        return to_tensor(list(crops), self.transform)

    def probabilities(self, pixels: torch.Tensor) -> np.ndarray:
        """P(AI-generated) of each input in a (B, 3, 384, 384) batch: one plain forward pass
        (calibrated when this detector has a calibration, like every P it reports)."""
        return self._reported(capture.forward(self.model, pixels).logits)

    def rollout_crops(self, crops: Sequence[Image.Image], head_fusion: str = "mean",
                      discard_ratio: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """P(AI-generated) (B,) and attention-rollout patch scores (B, 24, 24) of 384x384 crops."""
        result = capture.forward(self.model, self.pixels(crops), fuse=head_fuser((head_fusion,)))
        scores = attention_rollout(result.attention[head_fusion], check_discard_ratio(discard_ratio))
        return self._reported(result.logits), scores

    def patch_embeddings(self, crop: Image.Image) -> np.ndarray:
        """The 576 final-layer patch token embeddings (576, hidden) of one 384x384 crop."""
        return capture.forward(self.model, self.pixels([crop]), keep_hidden=True).hidden[0, 1:].cpu().numpy()

    # -- video ---------------------------------------------------------------------------
    def analyze_video(self, path, frames: int | None = _video.DEFAULT_FRAMES, every: float | None = None,
                      head_fusion: str = "mean", discard_ratio: float = 0.0, *,
                      method: str = "attention-rollout", batch_size: int = 8,
                      limits: _video.VideoLimits = _video.DEFAULT_LIMITS, keep_attention: bool = False,
                      name: str | None = None, progress=None) -> _video.VideoAnalysis:
        """Sample a clip (`frames` evenly, or one each `every` seconds) and analyse each frame as an image.

        Returns a `VideoAnalysis`: `.frames` (timestamp, index, analysis), `.timeline`, `.verdict`
        (rule: `video.CLIP_RULE`), `.strongest(k)`, `.info` (provenance). Frames go through
        `analyze_decoded` `batch_size` at a time; InputError for clips that cannot be used.
        `progress(done, total)` is called after each batch.
        """
        return _video.analyze_video(self, path, frames, every, head_fusion, discard_ratio, method=method,
                                    batch_size=batch_size, limits=limits, keep_attention=keep_attention,
                                    name=name, progress=progress)
