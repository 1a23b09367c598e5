"""What the page keeps between events for one visitor: the analysed image (`Analysis` with its
kept attention) and the deep checks run on it, by explainer settings.

The explainer controls recompute the rollout from the kept attention without another forward
pass; the first switch to another method runs it once (a forward, plus a backward for a
gradient method), which computes both, so switching back and forth afterwards is free.
"""
from __future__ import annotations

import dataclasses

from forensics import Analysis, Detector, InputError, checks, methods

DEEP_CACHE = 8  # deep checks kept per image, one per explainer setting tried


def analyze_for_page(detector: Detector, path: str, method: str, head_fusion: str,
                     discard_ratio: float) -> Analysis:
    """An analysis that keeps what every later control needs: all head fusions, the embeddings."""
    return detector.analyze(path, head_fusion, discard_ratio, method=method, keep_attention=True,
                            embeddings=True)


def pick_method(detector: Detector, a: Analysis, path: str | None, method: str) -> Analysis:
    """`a` showing `method`'s patch scores. While `method` has not been run for this image, one
    pass on the same file runs it (and the baseline with it, with the same settings); from then
    on both are kept and switching costs no pass at all."""
    if method == methods.BASELINE or method in a.method_scores:
        return a.with_method(method)
    if not path:
        raise InputError("the image is no longer on the page; drop it again")
    fresh = analyze_for_page(detector, path, method, a.head_fusion, a.discard_ratio)
    if fresh.input_sha256 != a.input_sha256:
        raise InputError("the file on the page is not the one analysed; press Analyze")
    # the same image and model: its sweep and local scan still hold, and still take part in the call
    return fresh.with_robustness(a.robustness).with_local_scan(a.local_scan)


@dataclasses.dataclass(frozen=True)
class HeldRobustness:
    """The delivery-path sweep run for the image with this SHA-256 (it depends on the image only)."""
    sha256: str | None
    result: checks.Robustness


def robustness_for(a: Analysis | None, held: HeldRobustness | None) -> checks.Robustness | None:
    """The sweep run for the image `a` shows, if any: never another image's."""
    if a is None or held is None or held.sha256 != a.input_sha256:
        return None
    return held.result


def explainer_settings(a: Analysis) -> tuple[str, str, float]:
    """What a deep check depends on besides the image: method, head fusion, discard ratio."""
    return a.method, a.head_fusion, round(float(a.discard_ratio), 6)


def deep_for(a: Analysis | None, held: dict | None) -> checks.DeepCheck | None:
    """The deep check already run for what `a` shows now, if any."""
    return None if a is None or not held else held.get(explainer_settings(a))


def refresh_deep(detector: Detector, a: Analysis, held: dict | None,
                 progress=None) -> tuple[dict, checks.DeepCheck]:
    """The deep check of what `a` shows, with the updated checks kept for this image.

    `held` maps explainer settings to the checks run on this image so far. A setting tried
    before costs no pass; a change of method alone re-runs only the deletion check (stability,
    coverage and reliability use attention rollout or pixels whichever map is shown); any
    other change runs every check. `progress(fraction, text)` (a gr.Progress will do) hears of
    each step.
    """
    held = dict(held or {})
    key = explainer_settings(a)
    deep = held.pop(key, None)
    if deep is None:
        sibling = next((d for k, d in held.items() if k[1:] == key[1:]), None)
        if sibling is not None:
            if progress is not None:  # gr.Progress is falsy: test for None
                progress(0.0, "deep check: faithfulness")
            deep = dataclasses.replace(sibling, faithfulness=checks.faithfulness(detector, a))
        else:
            deep = checks.deep_check(detector, a, progress=progress)
    held[key] = deep  # newest last
    while len(held) > DEEP_CACHE:
        held.pop(next(iter(held)))
    return held, deep


def only_method_changed(a: Analysis, held: dict | None) -> bool:
    """True when a check for the same rollout settings but the other method is held."""
    return any(k[1:] == explainer_settings(a)[1:] for k in held or ())
