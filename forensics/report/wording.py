"""What the exports say beside the pictures: the model's and the method's limits, the probability
line, the colour-bar label, the deep-check headline, and the colours of verdicts and levels.

The words for deep-check judgements come from `checks.judgements`; the colour-scale wording from
`render.scale_text`; the demo warning from `model.DEMO_WARNING`. This module only phrases them
for paper.
"""
from __future__ import annotations

from ..explain import registry
from ..explain import checks
from . import render
from ..model.loading import DEMO_WARNING
from ..core.preprocess import INPUT_SIZE
from ..model.spec import DEFAULT_SPEC, TRAINING
from ..core.likelihood import NO_LR_NOTE
from ..core.verdict import THRESHOLD

DEMO_BANNER = DEMO_WARNING.upper()
DEMO_BANNER_COLOUR = "#c00000"  # the banner behind it, in every picture and PDF
VERDICT_COLOURS = render.VERDICT_COLOURS
LEVEL_COLOURS = {"ok": "#1b7837", "warn": "#8a6100", "bad": "#b2182b", "info": "#5a5a5a"}  # checks.LEVELS
WARNING_COLOUR = "#8a3b00"  # caveats and notes about the weights

# What the published model can and cannot tell, from its spec (with the sources); printed
# before every verdict's colour. The crop sentence points at the outline the pictures draw.
CROP_LIMIT = (f"The model sees only the {INPUT_SIZE}\u00d7{INPUT_SIZE} centre crop of the image resized so its "
              f"short side is {TRAINING.size} px; anything outside the outlined box was not examined.")
CUTOFF_LIMIT = (f"P(AI-generated) is sigmoid(logit); the authors' cut-off is {THRESHOLD}; results near it are "
                "reported as inconclusive.")
MODEL_LIMITS = (CROP_LIMIT, DEFAULT_SPEC.limit("training"), DEFAULT_SPEC.limit("benchmark"),
                DEFAULT_SPEC.limit("re-encoding"), CUTOFF_LIMIT)


# What a verdict that moves under the delivery-path sweep means (the PDF and the page say it alike).
ROBUSTNESS_MEANING = ("A verdict that moves with re-encoding says the detector depends on how the copy travelled, "
                      "not that the picture changed.")


# What a tile scan can and cannot show (docs/METHODS.md, "Local scan").
LOCAL_SCAN_LIMIT = ("The detector was trained on whole pictures shrunk to 440 px; native-scale windows are a different "
                    "view of the image. An edit much smaller than a window is diluted by its surroundings, and flat, "
                    "smooth windows are weak evidence either way. A hotspot says where to look, not that the region "
                    "was edited.")


REGION_LIMIT = (f"The model saw only a {INPUT_SIZE}\u00d7{INPUT_SIZE} window around the region asked for "
                "(outlined); the rest of the image was not examined, and a region says nothing about the "
                "image around it.")


def limits(analysis, robustness=None) -> list[str]:
    """The model's limits (what it saw: the centre crop, or a region's window; its training data;
    what independent tests found; that re-encoding moves it, with this image's own sweep when one
    was run) and what this explanation method can show."""
    seen = CROP_LIMIT if getattr(analysis, "region", None) is None else REGION_LIMIT
    reencoding = DEFAULT_SPEC.limit("re-encoding")
    if robustness is not None:
        reencoding += f" For this image: {robustness.summary}"
    out = [seen, DEFAULT_SPEC.limit("training"), DEFAULT_SPEC.limit("benchmark"), reencoding, CUTOFF_LIMIT,
           registry.get(analysis.method).limit]
    return [line for line in out if line]


def before_verdict(lines) -> list[str]:
    """The limits a reader must meet before a verdict (from `limits`, or a stored record's):
    without the cut-off line, which the probability line under the verdict states, and without
    a method's own line, which goes beside its map."""
    method_lines = {m.limit for m in registry.methods()}
    return [line for line in lines if line != CUTOFF_LIMIT and line not in method_lines]


def reason_lines(analysis) -> list[str]:
    """Why the final call differs from what P alone says, one line each (empty: it does not)."""
    return [f"Why inconclusive: {reason}." for reason in analysis.verdict_reasons]


def condition_lines(analysis) -> list[str]:
    """The applicability conditions not already given as a reason (stated, or blocking a call that P
    alone already left inconclusive)."""
    reasons = set(analysis.verdict_reasons)
    return [f"Outside the validated domain ({c.name}{', blocks a call' if c.blocks_verdict else ''}): {c.detail}."
            for c in analysis.applicability if c.reason not in reasons]


# One line for a page of paper; the page on screen and the JSON give `core.likelihood.NO_LR_NOTE` in full.
NO_LR_SHORT = ("No likelihood ratio can be given until the tool is validated on your own material "
               "(forensics evaluate).")


def likelihood_line(analysis, short: bool = False) -> str:
    """The likelihood ratio in the ENFSI words with its figures and validation, or why there is none."""
    lr = analysis.likelihood_ratio
    if lr is None:
        return NO_LR_SHORT if short else NO_LR_NOTE
    return f"{lr.verbal} ({lr.summary})."


def caveats(analysis) -> list[str]:
    """The analysis' own notes (demo weights, centre crop, input facts, unstable explanation)."""
    return list(analysis.notes())


def probability_line(analysis) -> str:
    """P(AI-generated) with the cut-off and the inconclusive band around it."""
    a = analysis
    lo, hi = THRESHOLD - a.inconclusive_margin, THRESHOLD + a.inconclusive_margin
    calibrated = (f" calibrated (raw model P {a.raw_probability:.3f})" if a.calibration is not None else "")
    return (f"P(AI-generated) = {a.fake_probability:.3f}{calibrated}   (cut-off {THRESHOLD}; "
            f"inconclusive between {lo:.2f} and {hi:.2f})")


def score_label(analysis) -> str:
    """What a heatmap colours, e.g. "share of attention flow"."""
    return registry.get(analysis.method).score_label


def scale_label(analysis, color_scale: str) -> str:
    """The colour bar label: what is coloured, and on which scale."""
    what = f"{score_label(analysis)} per patch (%)"
    if render.scale_vmax(color_scale) is None:
        return f"{what}\nper-image scale: full colour = strongest patch"
    return f"{what}\nabsolute scale: full colour = {100 * render.ABSOLUTE_VMAX:g}%"


def deep_headline(items) -> tuple[str, str]:
    """The one-line deep-check headline of the PNG and the PDF, and its colour (the worst level)."""
    return f"Deep check: {checks.judgement_line(items)}", LEVEL_COLOURS[checks.worst_level(items)]
