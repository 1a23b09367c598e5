"""What an explanation method is, and the registry that holds them by name.

A method is one small object (as pytorch-grad-cam's one class per CAM, or zennit's registered
composites): its name, its words for people, whether it needs gradients, and how it turns the
forward pass's captures into 24x24 patch scores. Everything that offers, runs, words or stores
an explanation (the CLI's --method, the page's radio, the reports, the JSON record, the deep
checks, the Ray engine) reads this registry, so a new method is one module that calls
`register`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Captures:
    """What one forward pass kept for the explanation, for a batch of B images.

    attention: head fusion -> (B, L, T, T) float32 head-fused attention, block 1 first.
    attention_probs / attention_grads: per block (B, heads, T, T), only when a method that
    needs gradients ran (the AI-generated logit back-propagated to every block's attention).
    """

    attention: dict[str, torch.Tensor]
    attention_probs: list[torch.Tensor] | None = None
    attention_grads: list[torch.Tensor] | None = None


@dataclass(frozen=True)
class ExplanationMethod:
    """One way of scoring the 576 patches. Subclasses override `scores` only."""

    name: str                 # the id: --method NAME, record["method"]
    label: str                # for people, short: "attention rollout"
    choice: str               # the page's radio: label and what it answers
    quantity: str             # what is shared out over the patches: "attention", "relevance"
    score_label: str          # the colour bar and the ledger: "share of attention flow"
    meaning: str              # one sentence: what the map shows (HTML-safe text)
    limit: str                # one sentence for the limits list of every export
    help: str                 # the CLI's --method help for this method
    citation: str = ""
    needs_gradients: bool = False

    def scores(self, captures: Captures, head_fusion: str, discard_ratio: float) -> np.ndarray:
        """Captures of B images -> (B, 24, 24) float64 scores, >= 0, each summing to 1 (or all 0)."""
        raise NotImplementedError


_REGISTRY: dict[str, ExplanationMethod] = {}
BASELINE = "attention-rollout"  # class-agnostic and nearly free: always computed, the others are compared to it


def register(method: ExplanationMethod) -> ExplanationMethod:
    """Add a method (or replace one of the same name); returns it, so a module can keep a handle."""
    if not method.name or not method.name.replace("-", "").isalnum():
        raise ValueError(f"a method name is letters, digits and hyphens, got {method.name!r}")
    _REGISTRY[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a method (tests that register a toy one clean up with this)."""
    if name == BASELINE:
        raise ValueError(f"{BASELINE} is the baseline every analysis computes; it cannot be removed")
    _REGISTRY.pop(name, None)


def get(name: str) -> ExplanationMethod:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"method must be one of {', '.join(names())}, got {name!r}") from None


def names() -> tuple[str, ...]:
    """The registered method names, the baseline first."""
    return tuple(_REGISTRY)


def methods() -> tuple[ExplanationMethod, ...]:
    return tuple(_REGISTRY.values())
