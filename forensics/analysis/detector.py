"""`Detector`: the model, its input transform and its device, loaded once and reused."""
from __future__ import annotations

import copy
import datetime as _dt
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from ..core.calibration import Calibration
from ..core.preprocess import Geometry, Transform, crop_input, crop_region, hub_transform, to_tensor
from ..core.verdict import DEFAULT_INCONCLUSIVE_MARGIN, sigmoid, verdict_for
from ..explain import registry
from ..explain.rollout import HEAD_FUSIONS, attention_rollout, check_discard_ratio, head_fuser
from ..inputs.images import ImageSource, InputInfo, load_image
from ..model import capture
from ..model import loading as _model
from ..model.spec import TRAINING
from . import video as _video
from . import applicability
from .cpu_parts import CpuParts
from .result import Analysis


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
        # A batch on the CPU is analysed in parts side by side, one a core (see cpu_parts.py).
        self.cpu_parts = CpuParts() if self.device.type == "cpu" else None

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
                method: str = registry.BASELINE, name: str | None = None,
                keep_attention: bool = False, embeddings: bool = False, region=None) -> Analysis:
        """Verdict and explanation of one image (path, bytes or PIL image) from one forward pass.

        method: a registered explanation method (`forensics.methods()`); the baseline,
          attention rollout, is class-agnostic and nearly free and always computed, so any other
          method is compared with it (`method_agreement`). Gradient methods add a backward pass.
        keep_attention: keep all three head fusions so `Analysis.with_rollout` can recompute.
        embeddings: also keep the 576 patch embeddings (the CLS embedding is always kept).
        region: (left, top, right, bottom) in pixels of the upright original: analyse that region
          at full resolution (see `preprocess.crop_region`); InputError when it is unusable.
        """
        return self.analyze_batch([image], head_fusion, discard_ratio, method=method, names=[name],
                                  keep_attention=keep_attention, embeddings=embeddings,
                                  regions=[region])[0]

    def analyze_batch(self, images: Sequence[ImageSource], head_fusion: str = "mean",
                      discard_ratio: float = 0.0, *, method: str = registry.BASELINE,
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
                        discard_ratio: float = 0.0, *, method: str = registry.BASELINE,
                        keep_attention: bool = False, embeddings: bool = False,
                        regions: Sequence | None = None) -> list[Analysis]:
        """`analyze_batch` for images already decoded by `load_image` (each decoded once only).

        regions: one region or None per image; the same decoded image may appear several times
        with different regions (the faces of a photo in one forward pass).
        """
        if head_fusion not in HEAD_FUSIONS:
            raise ValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}")
        discard_ratio = check_discard_ratio(discard_ratio)
        registry.get(method)  # ValueError naming the registered methods
        decoded = list(decoded)
        regions = list(regions) if regions is not None else [None] * len(decoded)
        if len(regions) != len(decoded):
            raise ValueError(f"{len(regions)} regions for {len(decoded)} images: give one (or None) per image")
        settings = dict(head_fusion=head_fusion, discard_ratio=discard_ratio, method=method,
                        keep_attention=keep_attention, embeddings=embeddings)
        if self.cpu_parts is None:
            return self._analyze_part(decoded, regions, **settings)
        return self.cpu_parts.map(lambda part, its_regions: self._analyze_part(part, its_regions, **settings),
                                  decoded, regions)

    def _analyze_part(self, decoded, regions, *, head_fusion, discard_ratio, method, keep_attention,
                      embeddings) -> list[Analysis]:
        """`analyze_decoded` of checked settings in one forward pass."""
        explainer = registry.get(method)
        crops = [self._crop(rgb, region) for (rgb, _), region in zip(decoded, regions)]
        pixels = to_tensor([c for c, _ in crops], self.transform)
        fusions = HEAD_FUSIONS if keep_attention else (head_fusion,)
        result = capture.forward(self.model, pixels, fuse=head_fuser(fusions), keep_hidden=embeddings,
                                 gradients=explainer.needs_gradients)
        captures = registry.Captures(result.attention, result.attention_probs, result.attention_grads)
        rollout = registry.get(registry.BASELINE).scores(captures, head_fusion, discard_ratio)  # (B, 24, 24)
        other = None if method == registry.BASELINE else explainer.scores(captures, head_fusion, discard_ratio)
        primary = rollout if other is None else other
        created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

        analyses = []
        for i, ((rgb, info), (crop, geometry)) in enumerate(zip(decoded, crops)):
            logit = float(result.logits[i])
            p = self._calibrated(sigmoid(logit))
            kept = {f: result.attention[f][i].cpu() for f in fusions} if keep_attention else {}
            hidden = result.hidden[i].cpu().numpy() if embeddings else None
            analyses.append(Analysis(
                fake_probability=p, logit=logit,
                model_verdict=verdict_for(p, self.inconclusive_margin),
                inconclusive_margin=self.inconclusive_margin,
                patch_scores=primary[i], head_fusion=head_fusion, discard_ratio=discard_ratio,
                method=method, rollout_scores=rollout[i],
                method_scores={} if other is None else {method: other[i]},
                geometry=geometry, input=info, image=rgb, model_input=crop, model=self.model_info,
                preprocessing=self.transform, created_utc=created, attention=kept,
                embedding=result.final_cls[i].cpu().numpy().astype(np.float32),
                patch_embeddings=None if hidden is None else hidden[1:], calibration=self.calibration,
                applicability=applicability.conditions(rgb, info, geometry)))
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
                      method: str = registry.BASELINE, batch_size: int = 8,
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
