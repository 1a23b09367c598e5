"""Grad-rollout: Chefer et al.'s relevance propagation, specific to the AI-generated logit.

Chefer, Gur & Wolf, "Transformer Interpretability Beyond Attention Visualization", CVPR 2021:
per block, the heads-mean of the positive part of gradient x attention; R = (I + A_L)...(I + A_1).
It needs the per-head attention and its gradient, so the forward pass runs with a backward.
"""
from __future__ import annotations

import numpy as np
import torch

from .method import Captures, ExplanationMethod, register
from .rollout import patch_scores_from_row


def chefer_relevance(probs: list[torch.Tensor], grads: list[torch.Tensor]) -> torch.Tensor:
    """Chefer et al.'s per-block relevance: the heads-mean of the positive part of grad x attention.

    probs, grads: per block (B, heads, T, T), block 1 first -> (B, L, T, T) float32.
    """
    return torch.stack([(g * p).clamp(min=0).mean(dim=1).float() for p, g in zip(probs, grads)], dim=1)


def grad_rollout_cls_row(relevance: torch.Tensor) -> torch.Tensor:
    """Chefer et al. 2021 relevance propagation, CLS row. relevance: (B, L, T, T), block 1 first.

    R starts as I and each block adds its relevance: R <- R + A_l R, so R = (I + A_L)...(I + A_1);
    its CLS row is carried as a vector from block L down, as in rollout.
    """
    b, n_blocks, t, _ = relevance.shape
    v = torch.zeros(b, t, dtype=torch.float32, device=relevance.device)
    v[:, 0] = 1.0
    for layer in reversed(range(n_blocks)):
        v = v + torch.bmm(v.unsqueeze(1), relevance[:, layer].float()).squeeze(1)
    return v


def grad_rollout(relevance: torch.Tensor) -> np.ndarray:
    """Positive grad x attention per block (B, L, T, T) -> patch scores (B, g, g), sum 1 (or all 0)."""
    return patch_scores_from_row(grad_rollout_cls_row(relevance))

class GradRollout(ExplanationMethod):
    def scores(self, captures: Captures, head_fusion: str, discard_ratio: float) -> np.ndarray:
        if captures.attention_grads is None:
            raise ValueError(f"{self.name} needs the attention gradients: run the forward with gradients=True")
        return grad_rollout(chefer_relevance(captures.attention_probs, captures.attention_grads))


GRAD_ROLLOUT = register(GradRollout(
    name="grad-rollout", label="grad-rollout", choice="grad-rollout (evidence for AI-generated)",
    quantity="relevance", score_label="share of relevance",
    meaning="patches whose attention raised the AI-generated score; evidence for &ldquo;real&rdquo; is not shown",
    limit="Grad-rollout shows which patches pushed the AI-generated score, as the model weighs them; it is "
          "not proof that those pixels are synthetic or manipulated.",
    help="what pushed the AI-generated score (adds a backward pass; reports how far it agrees with attention "
         "rollout)",
    citation="Chefer, Gur & Wolf, Transformer Interpretability Beyond Attention Visualization, CVPR 2021",
    needs_gradients=True))
