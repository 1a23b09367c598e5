"""Explanations: per-block attention -> 24x24 patch scores.

Attention rollout (Abnar & Zuidema 2020), class-agnostic:

For each block l: fuse heads into W (mean | max | min); optionally zero the weakest
`discard_ratio` fraction of W's entries, never the attention paid to CLS (column 0);
A = 0.5 W + 0.5 I (the residual); row-normalise A. Rollout = A_L ... A_1, and the patch
scores are its CLS row without the CLS column, scaled to sum to 1.

Only the CLS row is needed, so a row vector is carried through the blocks (L vector-matrix
products) and A is never built: v A = 0.5 (u W) + 0.5 u with u = v / rowsum(0.5 W + 0.5 I).
"""
from __future__ import annotations

import numpy as np
import torch

from .method import BASELINE, Captures, ExplanationMethod, register

HEAD_FUSIONS = ("mean", "max", "min")
# Top-10% patch IoU of the two methods below which the explanation is called unstable. Two
# independent random top-10% sets have an expected IoU of about 0.05; 0.25 means the methods
# share under two fifths of their strongest patches.
AGREEMENT_THRESHOLD = 0.25
AGREEMENT_TOP_FRACTION = 0.1


def fuse_heads(probs: torch.Tensor, fusion: str) -> torch.Tensor:
    """(B, heads, T, T) -> (B, T, T)."""
    if fusion == "mean":
        return probs.mean(dim=1)
    if fusion == "max":
        return probs.amax(dim=1)
    if fusion == "min":
        return probs.amin(dim=1)
    raise ValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {fusion!r}")


# Each fusion as a running reduction over heads (the CPU forward folds in one head at a time):
# how a head joins the partial result in place, and how the result is finished in place.
_HEAD_REDUCERS = {"mean": (torch.add, lambda m, heads: m.div_(heads)),
                  "max": (torch.maximum, lambda m, heads: m),
                  "min": (torch.minimum, lambda m, heads: m)}


class HeadFuser:
    """What the forward pass applies to each block's attention so that only the head-fused maps
    rollout needs are ever kept: `fuser(probs)` on (B, heads, T, T) -> {fusion: (B, T, T)}, or
    one head at a time into given (T, T) maps (`fold`, then `finish`): exactly the same maps."""

    def __init__(self, fusions: tuple[str, ...]):
        for fusion in fusions:
            if fusion not in HEAD_FUSIONS:
                raise ValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {fusion!r}")
        self.fusions = tuple(fusions)

    def __call__(self, probs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {f: fuse_heads(probs, f) for f in self.fusions}

    def fold(self, into: dict[str, torch.Tensor], head: torch.Tensor, first: bool) -> None:
        """Fold one head's (T, T) map into `into` (fusion -> (T, T)), in place."""
        for f in self.fusions:
            if first:
                into[f].copy_(head)
            else:
                _HEAD_REDUCERS[f][0](into[f], head, out=into[f])

    def finish(self, into: dict[str, torch.Tensor], heads: int) -> None:
        for f in self.fusions:
            _HEAD_REDUCERS[f][1](into[f], heads)


def head_fuser(fusions: tuple[str, ...]) -> HeadFuser:
    """The fuser the forward pass applies to each block's attention (see `HeadFuser`)."""
    return HeadFuser(fusions)


def check_discard_ratio(discard_ratio: float) -> float:
    discard_ratio = float(discard_ratio)
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1), got {discard_ratio}")
    return discard_ratio


def discard_weakest(fused: torch.Tensor, discard_ratio: float) -> torch.Tensor:
    """Zero the weakest `discard_ratio` fraction of each map's non-CLS-column entries.

    fused: (B, T, T). Returns a new tensor; ties are broken by position (topk).
    """
    b, t, _ = fused.shape
    body = fused[:, :, 1:].reshape(b, -1)  # (B, T*(T-1)): every entry but attention to CLS
    k = int(discard_ratio * body.shape[1])
    if k == 0:
        return fused
    weakest = body.topk(k, dim=1, largest=False).indices
    body = body.scatter(1, weakest, 0.0).reshape(b, t, t - 1)
    return torch.cat([fused[:, :, :1], body], dim=2)


def rollout_cls_row(fused: torch.Tensor, discard_ratio: float = 0.0) -> torch.Tensor:
    """Fused attention (B, L, T, T), block 1 first -> CLS row of the rollout, (B, T)."""
    discard_ratio = check_discard_ratio(discard_ratio)
    b, n_blocks, t, _ = fused.shape
    v = torch.zeros(b, t, dtype=torch.float32, device=fused.device)
    v[:, 0] = 1.0  # e_CLS
    # Rollout = A_L ... A_1, so the CLS row meets A_L first.
    for layer in reversed(range(n_blocks)):
        w = fused[:, layer].float()
        if discard_ratio:
            w = discard_weakest(w, discard_ratio)
        row_sums = 0.5 * w.sum(dim=2) + 0.5          # (B, T): rows of 0.5 W + 0.5 I
        u = v / row_sums
        v = 0.5 * torch.bmm(u.unsqueeze(1), w).squeeze(1) + 0.5 * u
    return v


def patch_scores_from_row(cls_row: torch.Tensor) -> np.ndarray:
    """(B, T) CLS row -> (B, g, g) float64 patch scores, row-major, each summing to 1."""
    patches = cls_row[:, 1:].double().cpu().numpy()
    g = int(round(patches.shape[1] ** 0.5))
    if g * g != patches.shape[1]:
        raise ValueError(f"{patches.shape[1]} patch tokens do not form a square grid")
    patches = np.clip(patches, 0.0, None)
    totals = patches.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1.0
    return (patches / totals).reshape(-1, g, g)


def attention_rollout(fused: torch.Tensor, discard_ratio: float = 0.0) -> np.ndarray:
    """Fused attention (B, L, T, T) -> patch scores (B, g, g)."""
    return patch_scores_from_row(rollout_cls_row(fused, discard_ratio))


def top_patch_iou(a: np.ndarray, b: np.ndarray, fraction: float = AGREEMENT_TOP_FRACTION) -> float:
    """Intersection over union of the strongest `fraction` of patches of two score maps."""
    k = max(1, int(round(fraction * a.size)))
    top_a = set(np.argsort(-a.ravel(), kind="stable")[:k].tolist())
    top_b = set(np.argsort(-b.ravel(), kind="stable")[:k].tolist())
    return len(top_a & top_b) / len(top_a | top_b)


class AttentionRollout(ExplanationMethod):
    def scores(self, captures: Captures, head_fusion: str, discard_ratio: float) -> np.ndarray:
        return attention_rollout(captures.attention[head_fusion], discard_ratio)


ATTENTION_ROLLOUT = register(AttentionRollout(
    name=BASELINE, label="attention rollout", choice="attention rollout (class-agnostic)",
    quantity="attention", score_label="share of attention flow",
    meaning="where the classification token's attention flowed; the same whichever way the verdict goes",
    limit="Attention rollout shows where the model's attention flowed, not proof that those pixels are "
          "synthetic or manipulated.",
    help="where attention flowed through all 12 blocks, class-agnostic and nearly free",
    citation="Abnar & Zuidema, Quantifying Attention Flow in Transformers, ACL 2020"))
