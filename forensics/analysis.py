"""`Detector` (model + transform + device, loaded once) and `Analysis` (one immutable result)."""
from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from . import model as _model
from .explain import (AGREEMENT_THRESHOLD, AGREEMENT_TOP_FRACTION, HEAD_FUSIONS, attention_rollout,
                      check_discard_ratio, chefer_relevance, grad_rollout, head_fuser, top_patch_iou)
from .inputs import ImageSource, InputInfo, load_image
from .verdict import DEFAULT_INCONCLUSIVE_MARGIN, THRESHOLD, VERDICT_WORDING, sigmoid, verdict_for  # noqa: F401
from .preprocess import GRID, TRAINING, Geometry, Transform, crop_input, hub_transform, to_tensor

METHODS = ("attention-rollout", "grad-rollout")


@dataclass(frozen=True)
class Analysis:
    """Everything one analysis found, and how. Re-render with `with_rollout` (no new forward)."""

    fake_probability: float           # sigmoid(logit): P(AI-generated)
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

    # -- the public names of DESIGN.md ----------------------------------------------------
    @property
    def crop_box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the analysed region in original pixels."""
        return self.geometry.crop_box

    @property
    def input_sha256(self) -> str | None:
        return self.input.sha256

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
        if self.coverage < 0.999:
            l, t, r, b = self.crop_box
            out.append(f"Only the centre crop ({l}, {t})-({r}, {b}) was analysed: "
                       f"{self.coverage:.0%} of the image area.")
        out.extend(self.input.notes())
        if self.explanation_unstable:
            out.append(f"Attention rollout and grad-rollout disagree on where the evidence lies (their "
                       f"top-{AGREEMENT_TOP_FRACTION:.0%} patches overlap {self.method_agreement:.2f} IoU, below "
                       f"{AGREEMENT_THRESHOLD}): do not read the heatmap as a stable explanation.")
        return out

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


class Detector:
    """The Community Forensics detector with its input transform, loaded once and reused."""

    def __init__(self, model, model_info: _model.ModelInfo, transform: Transform = TRAINING,
                 device: str | torch.device = "auto",
                 inconclusive_margin: float = DEFAULT_INCONCLUSIVE_MARGIN):
        verdict_for(0.5, inconclusive_margin)  # validates the margin
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

    # -- steps ---------------------------------------------------------------------------
    def preprocess(self, image: ImageSource) -> torch.Tensor:
        """Exactly the (1, 3, 384, 384) float32 tensor the model is fed for `image`."""
        rgb, _ = load_image(image)
        crop, _ = crop_input(rgb, self.transform)
        return to_tensor([crop], self.transform)

    def analyze(self, image: ImageSource, head_fusion: str = "mean", discard_ratio: float = 0.0, *,
                method: str = "attention-rollout", name: str | None = None,
                keep_attention: bool = False, embeddings: bool = False) -> Analysis:
        """Verdict and explanation of one image (path, bytes or PIL image) from one forward pass.

        method: "attention-rollout" (class-agnostic, nearly free) or "grad-rollout" (Chefer et
          al. 2021, specific to the AI-generated logit; adds a backward pass, and computes
          both, so `method_agreement` is set).
        keep_attention: keep all three head fusions so `Analysis.with_rollout` can recompute.
        embeddings: also return the CLS embedding and the 576 patch embeddings.
        """
        return self.analyze_batch([image], head_fusion, discard_ratio, method=method, names=[name],
                                  keep_attention=keep_attention, embeddings=embeddings)[0]

    def analyze_batch(self, images: Sequence[ImageSource], head_fusion: str = "mean",
                      discard_ratio: float = 0.0, *, method: str = "attention-rollout",
                      names: Sequence[str | None] | None = None,
                      keep_attention: bool = False, embeddings: bool = False) -> list[Analysis]:
        """Like `analyze` for several images in one batched forward pass.

        Raises InputError for the first image that cannot be read; callers that must go on
        past broken files decode each with `load_image` and call `analyze_decoded` (the CLI does).
        """
        names = list(names) if names is not None else [None] * len(images)
        decoded = [load_image(img, name=n) for img, n in zip(images, names)]
        return self.analyze_decoded(decoded, head_fusion, discard_ratio, method=method,
                                    keep_attention=keep_attention, embeddings=embeddings)

    def analyze_decoded(self, decoded: Sequence[tuple[Image.Image, InputInfo]], head_fusion: str = "mean",
                        discard_ratio: float = 0.0, *, method: str = "attention-rollout",
                        keep_attention: bool = False, embeddings: bool = False) -> list[Analysis]:
        """`analyze_batch` for images already decoded by `load_image` (each decoded once only)."""
        if head_fusion not in HEAD_FUSIONS:
            raise ValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}")
        discard_ratio = check_discard_ratio(discard_ratio)
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        crops = [crop_input(rgb, self.transform) for rgb, _ in decoded]
        pixels = to_tensor([c for c, _ in crops], self.transform)
        fusions = HEAD_FUSIONS if keep_attention else (head_fusion,)
        result = _model.forward(self.model, pixels, fuse=head_fuser(fusions), keep_hidden=embeddings,
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
            p = sigmoid(logit)
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
                patch_embeddings=None if hidden is None else hidden[1:]))
        return analyses

    # -- measurements the deep checks and the evaluation ask for (no explanation attached) ---
    def pixels(self, crops: Sequence[Image.Image]) -> torch.Tensor:
        """384x384 RGB crops -> the normalised (B, 3, 384, 384) tensor this detector feeds."""
        return to_tensor(list(crops), self.transform)

    def probabilities(self, pixels: torch.Tensor) -> np.ndarray:
        """P(AI-generated) of each input in a (B, 3, 384, 384) batch: one plain forward pass."""
        logits = _model.forward(self.model, pixels).logits
        return torch.sigmoid(logits.float()).cpu().numpy().astype(np.float64)

    def rollout_crops(self, crops: Sequence[Image.Image], head_fusion: str = "mean",
                      discard_ratio: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """P(AI-generated) (B,) and attention-rollout patch scores (B, 24, 24) of 384x384 crops."""
        result = _model.forward(self.model, self.pixels(crops), fuse=head_fuser((head_fusion,)))
        probs = torch.sigmoid(result.logits.float()).cpu().numpy().astype(np.float64)
        return probs, attention_rollout(result.attention[head_fusion], check_discard_ratio(discard_ratio))

    def patch_embeddings(self, crop: Image.Image) -> np.ndarray:
        """The 576 final-layer patch token embeddings (576, hidden) of one 384x384 crop."""
        return _model.forward(self.model, self.pixels([crop]), keep_hidden=True).hidden[0, 1:].cpu().numpy()
