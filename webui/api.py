"""The programmatic endpoints (`/analyze` for gradio_client, also an MCP tool): file in,
JSON-friendly results out. The record is the JSON export's, so every client reads one format.

Over MCP a file arrives as a URL or as base64 (Gradio saves it to its cache first), which
bypasses the upload limit; the same limit is applied here.
"""
from __future__ import annotations

import os

import gradio as gr

from forensics import Analysis, Detector, InputError, checks, methods, render, report

MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # uploads, API and MCP files alike


def check_size(path) -> None:
    size = os.path.getsize(path)
    if size > MAX_UPLOAD_BYTES:
        raise gr.Error(f"The file is {size / 2**20:.1f} MB; the limit here is {MAX_UPLOAD_BYTES // 2**20} MB. "
                       "Downscale or re-compress it, or use the command line (python -m forensics analyze).",
                       print_exception=False)


def record(a: Analysis, deep: checks.DeepCheck | None = None, robustness: checks.Robustness | None = None) -> dict:
    """What /analyze returns: the JSON export's record, plus the ten strongest patches."""
    top = [{k: list(v) if isinstance(v, tuple) else v for k, v in e.items()} for e in a.top_patches(10)]
    return {**report.record(a, deep=deep, robustness=robustness), "top_patches": top}


def analyze(detector: Detector, path, method: str = methods.BASELINE, deep_check: bool = False,
            robustness: bool = False, local_scan: bool = False):
    """-> (record, heatmap on the model input, heatmap on the original). Errors a caller can fix
    become gr.Error with the package's message."""
    if not path:
        raise gr.Error("Give one image file.", print_exception=False)
    if method not in methods.names():
        raise gr.Error(f"method must be one of {', '.join(methods.names())}", print_exception=False)
    check_size(path)
    try:
        a = detector.analyze(path, method=method, embeddings=bool(deep_check))
    except InputError as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    deep = checks.deep_check(detector, a) if deep_check else None
    sweep = checks.robustness(detector, a) if robustness else None
    if local_scan:
        try:
            a = a.with_local_scan(checks.local_scan(detector, a))
        except InputError as exc:  # too small to scan: the record says why, the rest stands
            return ({**record(a, deep, sweep), "local_scan": {"refused": str(exc)}}, render.overlay_input(a),
                    render.overlay_original(a))
    return record(a, deep, sweep), render.overlay_input(a), render.overlay_original(a)
