"""The programmatic endpoints (`/analyze` for gradio_client, also an MCP tool): file in,
JSON-friendly results out. The record is the JSON export's, so every client reads one format.
"""
from __future__ import annotations

import gradio as gr

from forensics import Analysis, Detector, InputError, checks, render, report
from forensics.analysis import METHODS


def record(a: Analysis, deep: checks.DeepCheck | None = None) -> dict:
    """What /analyze returns: the JSON export's record, plus the ten strongest patches."""
    top = [{k: list(v) if isinstance(v, tuple) else v for k, v in e.items()} for e in a.top_patches(10)]
    return {**report.record(a, deep=deep), "top_patches": top}


def analyze(detector: Detector, path, method: str = "attention-rollout", deep_check: bool = False):
    """-> (record, heatmap on the model input, heatmap on the original). Errors a caller can fix
    become gr.Error with the package's message."""
    if not path:
        raise gr.Error("Give one image file.", print_exception=False)
    if method not in METHODS:
        raise gr.Error(f"method must be one of {', '.join(METHODS)}", print_exception=False)
    try:
        a = detector.analyze(path, method=method, embeddings=bool(deep_check))
    except InputError as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    deep = checks.deep_check(detector, a) if deep_check else None
    return record(a, deep), render.overlay_input(a), render.overlay_original(a)
