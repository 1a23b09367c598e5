"""What every tab shares: the component registry (`Page`), the upload component that keeps the
file's bytes, HTML panels, the page header and the queue settings."""
from __future__ import annotations

import gradio as gr

from forensics import GRID, MODEL_SPEC, Detector, __version__

from . import cards

CONCURRENCY_LIMIT = 2        # analyses at once: a ViT-S forward uses both cores of a small CPU box
QUEUE_MAX_SIZE = 64          # further visitors are told the queue is full instead of waiting forever
DELETE_CACHE = (3600, 3600)  # every hour, delete uploads and exports older than an hour
STATE_TTL_S = 3600           # an Analysis with kept attention is ~50 MB (ViT-S): drop idle ones
PRIVATE = dict(api_visibility="private")  # only the API section's events are endpoints


class ImageFile(gr.Image):
    """gr.Image whose handlers get the uploaded file's path, bytes untouched.

    Stock gr.Image opens every upload with Pillow before a handler runs, so a broken or
    disguised file fails inside Gradio with Pillow's words. Handing the path on lets the
    package's own decoder hash the exact bytes and say what is wrong.
    """

    is_template = True  # drawn by the frontend's Image component

    def preprocess(self, payload):
        if payload is None or (payload.url or "").startswith("data:"):
            return super().preprocess(payload)  # a data URL: Gradio writes it to a file
        return payload.path


class Page(dict):
    """name -> component; `out` maps a handler's {name: value} to {component: value}."""

    def out(self, result):
        if not isinstance(result, dict) or "__type__" in result:
            return result  # gr.skip(), or a tuple for positional outputs
        return {self[name]: value for name, value in result.items()}

    def each(self, *names):
        """Components by name (components given as they are)."""
        return [self[n] if isinstance(n, str) else n for n in names]


def html_panel(value: str, elem_id: str) -> gr.HTML:
    return gr.HTML(value, js_on_load=None, elem_id=elem_id)


def header(detector: Detector) -> None:
    gr.Markdown(
        "# Is this image AI-generated? Where did the model look?\n"
        f"The [Community Forensics](https://huggingface.co/{MODEL_SPEC.repo_id}) "
        "detector's verdict on one image, where it looked as a heatmap (attention rollout, or another "
        "explanation method), a score for "
        f"each of the {GRID}&times;{GRID} patches it saw, and on request deep checks of the explanation. "
        f"Version {__version__}.")
    if detector.model_info.demo:
        html_panel(cards.DEMO_BANNER, "demo-banner")
