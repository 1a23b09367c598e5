"""From the one logit to words: P(AI-generated), the cut-off and the inconclusive band.

The only place the verdict rule lives; images, regions, video frames and evaluations use it.
"""
from __future__ import annotations

import math

DEFAULT_INCONCLUSIVE_MARGIN = 0.10  # P within 0.5 +/- this is "inconclusive"
THRESHOLD = 0.5  # the authors' cut-off on P(AI-generated)

VERDICT_WORDING = {
    "ai-generated": "Likely AI-generated",
    "real": "Likely real (camera or non-AI)",
    "inconclusive": "Inconclusive: too close to the model's 0.5 threshold to call",
}


def verdict_for(probability: float, margin: float = DEFAULT_INCONCLUSIVE_MARGIN) -> str:
    """"ai-generated" above 0.5 + margin, "real" below 0.5 - margin, else "inconclusive"."""
    if not 0.0 <= margin < 0.5:
        raise ValueError(f"inconclusive margin must be in [0, 0.5), got {margin}")
    if probability >= THRESHOLD + margin and probability > THRESHOLD:
        return "ai-generated"
    if probability <= THRESHOLD - margin and probability < THRESHOLD:
        return "real"
    return "inconclusive"


def sigmoid(logit: float) -> float:
    """P(AI-generated) from the one logit, without overflow for large |logit|."""
    return 1.0 / (1.0 + math.exp(-logit)) if logit >= 0 else math.exp(logit) / (1.0 + math.exp(logit))
