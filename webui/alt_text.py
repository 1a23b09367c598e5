"""Text alternatives of the page's heatmaps (issue 31): each heatmap sent to the page goes with words
that say where its strongest patches lie (`views.heatmap_alt`), so a screen reader hears what the
picture shows, not only what it is. Handlers return arrays; the tab modules pass their results
through `described` on the way to the page."""
from __future__ import annotations

import gradio as gr
import numpy as np

from forensics import Analysis

from . import views

IMAGE_HEATMAPS = {"overlay_orig": "original", "overlay_in": "input"}
FRAME_HEATMAPS = {"frame_overlay": "original", "frame_input": "input"}


def described(result, a: Analysis | None, heatmaps: dict[str, str] = IMAGE_HEATMAPS):
    """`result` ({name: value}) with each heatmap array of `a` sent as an update that also sets its
    alt_text. `heatmaps`: component name -> "original" or "input". Anything else passes unchanged.
    (gr.update, not gr.Image(value=...): a component built here would encode the picture once more.)"""
    if not isinstance(result, dict) or not isinstance(a, Analysis):
        return result
    return {name: gr.update(value=value, alt_text=views.heatmap_alt(a, heatmaps[name]))
            if name in heatmaps and isinstance(value, np.ndarray) else value for name, value in result.items()}
