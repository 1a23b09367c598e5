"""The browser page: drop an image, see the verdict, where the model looked, and per-patch scores.

    python app.py                  # the pinned Community Forensics weights (downloaded once)
    python app.py --model DIR      # local weights: config.json + model.safetensors
    python app.py --demo           # untrained weights, to explore the interface only

Host and port also follow Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, the model
FORENSICS_MODEL, so a Hugging Face Space starts it with no arguments.

The handlers only translate between component values and package types. The current
image's `Analysis` (with its kept attention maps) lives in `gr.State`, so the explainer
controls recompute the rollout without another forward pass; the first switch to
grad-rollout runs one forward + backward, which computes both methods, so switching back and
forth afterwards is free. The deep checks run for the current image live in a second
`gr.State`, by explainer settings, and are dropped when a new image is analysed.
"""
from __future__ import annotations

import argparse
import dataclasses
import html
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import gradio as gr
from gradio.utils import get_upload_folder
import numpy as np
import pandas as pd
from PIL import Image

from forensics import Analysis, Detector, InputError, ModelUnavailableError, __version__, checks, render, report
from forensics.analysis import AGREEMENT_THRESHOLD, METHODS, verdict_for
from forensics.explain import HEAD_FUSIONS
from forensics.preprocess import GRID, PATCH_SIZE

ASSETS = Path(__file__).resolve().parent / "assets"
EXAMPLES = [ASSETS / name for name in
            ("grace_hopper.jpg", "wide_street.jpg", "tall_poster.png", "marble_texture.webp")]

CONCURRENCY_LIMIT = 2        # analyses at once: a ViT-S forward uses both cores of a small CPU box
QUEUE_MAX_SIZE = 64          # further visitors are told the queue is full instead of waiting forever
DELETE_CACHE = (3600, 3600)  # every hour, delete uploads and exports older than an hour
STATE_TTL_S = 3600           # an Analysis with kept attention is ~50 MB (ViT-S): drop idle ones
# Gradio's MCP server needs the `mcp` package (the gradio[mcp] extra), which requirements.txt
# does not install: that extra also pins pydantic<=2.12.5, a downgrade from the pydantic that
# plain gradio 6.31 resolves to. Where mcp is installed, /analyze is offered as an MCP tool
# too; GRADIO_MCP_SERVER=true/false, when set, decides instead.
MCP_SERVER = None if "GRADIO_MCP_SERVER" in os.environ else importlib.util.find_spec("mcp") is not None
# launch() arguments that belong to the app rather than to the deployment (host, port).
LAUNCH_OPTIONS = dict(max_file_size="25mb", state_session_capacity=64, mcp_server=MCP_SERVER)

PATCH_HINT = ("Click the heatmap on the original or on the model input, or a ledger row, to see "
              "that patch's score and a magnified crop.")
LEDGER_HEADERS = ["rank", "row", "col", "box in original", "score", "share %"]
STABILITY_HEADERS = ["re-run", "P(AI)", "verdict", "flipped", "heatmap r"]

METHOD_CHOICES = [("attention rollout (class-agnostic)", "attention-rollout"),
                  ("grad-rollout (evidence for AI-generated)", "grad-rollout")]
METHOD_WORDS = {
    "attention-rollout": ("attention rollout", "attention",
                          "where the classification token's attention flowed; the same whichever way "
                          "the verdict goes"),
    "grad-rollout": ("grad-rollout", "relevance",
                     "patches whose attention raised the AI-generated score; evidence for "
                     "&ldquo;real&rdquo; is not shown"),
}
# Colour scale -> `vmax` of the render functions: None scales each image to its strongest patch.
COLOR_SCALES = {"image": None, "absolute": render.ABSOLUTE_VMAX}
SCALE_CHOICES = [("per image", "image"),
                 (f"absolute ({100 * render.ABSOLUTE_VMAX:g} % = full colour)", "absolute")]
DEEP_CACHE = 8  # deep checks kept per image, one per explainer setting tried


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


# ---------------------------------------------------------------------------------------------
# Analysis -> what the page shows

CARD_CSS = """
.fx-card { border: 2px solid #94a3b8; border-radius: 10px; padding: 14px 18px; background: #ffffff;
           color: #0f172a; font-size: 14px; line-height: 1.4; }
.fx-card.ai-generated { border-color: #c2410c; }
.fx-card.real { border-color: #1d4ed8; }
.fx-card.inconclusive { border-color: #a16207; }
.fx-card.error { border-color: #b91c1c; background: #fef2f2; }
.fx-demo { background: repeating-linear-gradient(45deg, #fde047, #fde047 14px, #facc15 14px, #facc15 28px);
           color: #111827; font-weight: 800; font-size: 20px; text-transform: uppercase; text-align: center;
           padding: 10px; border: 3px solid #111827; border-radius: 8px; margin-bottom: 12px; }
.fx-label { font-size: 13px; color: #475569; text-transform: uppercase; letter-spacing: 0.06em; }
.fx-prob { font-size: 56px; font-weight: 800; line-height: 1.05; font-variant-numeric: tabular-nums; }
.fx-verdict { display: inline-block; font-size: 18px; font-weight: 700; padding: 3px 12px;
              border-radius: 6px; margin: 6px 0 10px; color: #ffffff; background: #475569; }
.ai-generated .fx-verdict { background: #c2410c; }
.real .fx-verdict { background: #1d4ed8; }
.inconclusive .fx-verdict { background: #a16207; }
.fx-bar { position: relative; height: 16px; border-radius: 8px; overflow: hidden; display: flex;
          border: 1px solid #64748b; }
.fx-bar .seg-real { background: #bfdbfe; }
.fx-bar .seg-inc { background: repeating-linear-gradient(90deg, #e5e7eb, #e5e7eb 4px, #d1d5db 4px, #d1d5db 8px); }
.fx-bar .seg-ai { background: #fed7aa; }
.fx-marker { position: absolute; top: -3px; width: 4px; height: 22px; background: #0f172a; margin-left: -2px; }
.fx-threshold { position: absolute; top: 0; left: 50%; width: 0; height: 16px; border-left: 2px dashed #0f172a; }
.fx-scale { display: flex; justify-content: space-between; font-size: 12px; color: #475569; margin-top: 3px; }
.fx-notes { background: #fffbeb; border-left: 4px solid #d97706; margin: 12px 0 8px; padding: 6px 10px 6px 26px; }
.fx-notes li { margin: 2px 0; }
.fx-facts { width: 100%; border-collapse: collapse; margin-top: 8px; font-size: 13px; border: none; }
.fx-facts tr, .fx-facts th, .fx-facts td { border: none; border-bottom: 1px solid #e2e8f0;
                                           background: transparent; }
.fx-facts th { text-align: left; vertical-align: top; color: #475569; font-weight: 600; padding: 3px 10px 3px 0;
               white-space: nowrap; width: 1%; }
.fx-facts td { padding: 3px 0; overflow-wrap: anywhere; }
.fx-facts code { font-size: 12px; word-break: break-all; }
.fx-about { margin-top: 10px; font-size: 12.5px; color: #334155; border-top: 1px solid #cbd5e1; padding-top: 8px; }
.fx-empty { color: #475569; font-size: 16px; }
"""

BANNER_CSS = """
.fx-banner { background: repeating-linear-gradient(45deg, #fde047, #fde047 18px, #facc15 18px, #facc15 36px);
             color: #111827; border: 4px solid #111827; border-radius: 10px; padding: 14px; text-align: center; }
.fx-banner b { display: block; font-size: 30px; font-weight: 900; text-transform: uppercase;
               letter-spacing: 0.02em; }
.fx-banner span { font-size: 15px; }
"""

# The explainer summary beside the method selector, and the deep-check badges and legends.
PANEL_CSS = """
.fx-panel { border: 1px solid #94a3b8; border-radius: 10px; padding: 10px 14px; background: #ffffff;
            color: #0f172a; font-size: 13.5px; line-height: 1.45; }
.fx-panel.bad { border: 2px solid #b91c1c; }
.fx-panel p { margin: 4px 0; }
.fx-panel small { color: #475569; }
.fx-big { font-size: 26px; font-weight: 800; font-variant-numeric: tabular-nums; margin-right: 6px; }
.fx-badge { display: inline-block; font-weight: 800; font-size: 14px; letter-spacing: 0.04em; color: #ffffff;
            padding: 2px 10px; border-radius: 6px; margin: 0 8px 4px 0; vertical-align: middle; }
.fx-badge.ok { background: #15803d; }
.fx-badge.warn { background: #a16207; }
.fx-badge.bad { background: #b91c1c; }
.fx-badge.info { background: #475569; }
.fx-tiles { width: 100%; border-collapse: collapse; margin-top: 6px; font-size: 12.5px; border: none; }
.fx-tiles tr, .fx-tiles th, .fx-tiles td { border: none; border-bottom: 1px solid #e2e8f0; background: transparent;
                                           padding: 2px 8px 2px 0; text-align: left; }
.fx-tiles th { color: #475569; font-weight: 600; }
.fx-tiles td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.fx-tiles tr.top td { font-weight: 700; }
.fx-legend { list-style: none; padding: 0; margin: 6px 0 0; }
.fx-legend li { margin: 5px 0; display: flex; align-items: center; gap: 8px; }
.fx-swatch { flex: none; display: inline-block; width: 18px; height: 18px; border-radius: 2px; }
.fx-swatch.weak { background: #8c8c8c; border: 1px solid #475569; }
.fx-swatch.outlier { background: transparent; border: 2px solid #00e5e5; outline: 1px solid #0f172a; }
.fx-swatch.dimmed { background: #3b3b3b; border: 1px solid #0f172a; }
"""

DEMO_BANNER = ('<div class="fx-banner"><b>&#9888; untrained demo weights &mdash; not a forensic result</b>'
               "<span>This server runs the real architecture with random weights (started with --demo). "
               "Every probability, verdict and heatmap on this page is meaningless.</span></div>")


def percent(p: float) -> str:
    if p < 0.001:
        return "&lt;0.1&thinsp;%"
    if p > 0.999:
        return "&gt;99.9&thinsp;%"
    return f"{100 * p:.1f}&thinsp;%"


def model_card(a: Analysis) -> str:
    lo, hi = 50 - 100 * a.inconclusive_margin, 50 + 100 * a.inconclusive_margin
    return (
        '<div class="fx-about"><b>About the model.</b> Community Forensics detector (Park &amp; Owens, '
        "CVPR 2025): a ViT-S/16 at 384&times;384 px trained on 2.7&nbsp;M images from 4,803 generators. "
        "One output, P(AI-generated) = sigmoid(logit); the authors' threshold is 50&nbsp;%, and this page "
        f"calls {lo:.0f}&ndash;{hi:.0f}&nbsp;% inconclusive. It sees only the centre crop of the image. "
        "<b>Limits:</b> generators unlike its training data, re-compression, resizing, screenshots and "
        "edits can mislead it in either direction, and the heatmap shows where the model's attention "
        "flowed, not which pixels are synthetic. One lead among others, never proof on its own.</div>")


def heatmap_fact(a: Analysis) -> str:
    """The verdict card's line on the explanation: method, its settings, concentration, agreement."""
    name, quantity, _ = METHOD_WORDS[a.method]
    rollout = f"{a.head_fusion} head fusion, discard {a.discard_ratio:.2f}"
    share = f"the top 10&nbsp;% of patches hold {a.top_share(0.1):.0%} of the {quantity}"
    if a.method == "grad-rollout":
        text = f"{name} for the AI-generated logit; {share}; attention rollout beside it: {rollout}"
    else:
        text = f"{name}, {rollout}; {share}"
    if a.method_agreement is not None:
        text += f"; the two methods agree {a.method_agreement:.2f} (IoU of their top 10&nbsp;%)"
    return text


def verdict_card(a: Analysis) -> str:
    """The verdict panel: probability, wording with the inconclusive band, caveats, provenance."""
    p, margin = a.fake_probability, a.inconclusive_margin
    lo, hi = 100 * (0.5 - margin), 100 * (0.5 + margin)
    bar = (f'<div class="fx-bar"><div class="seg-real" style="width:{lo:.1f}%"></div>'
           f'<div class="seg-inc" style="width:{hi - lo:.1f}%"></div><div class="seg-ai" style="flex:1"></div>'
           f'<div class="fx-threshold"></div><div class="fx-marker" style="left:{100 * p:.2f}%"></div></div>'
           f'<div class="fx-scale"><span>0&nbsp;% real</span><span>inconclusive {lo:.0f}&ndash;{hi:.0f}&nbsp;% '
           f'&middot; threshold 50&nbsp;%</span><span>100&nbsp;% AI-generated</span></div>')
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in a.notes())
    info, m = a.input, a.model
    file_line = ", ".join(x for x in (
        info.format, f"{info.width}&times;{info.height} px",
        f"{info.num_bytes:,} bytes" if info.num_bytes else None,
        f"{info.frames} frames" if info.frames > 1 else None) if x)
    l, t, r, b = a.crop_box
    model_line = html.escape(m.label)
    if m.weights_sha256:
        model_line += f"<br><small>weights sha256 <code>{m.weights_sha256[:16]}&hellip;</code>"
        model_line += " &middot; the pinned release</small>" if m.pinned else "</small>"
    prep = a.preprocessing.describe()
    resize = (f"shortest edge to {prep.get('size')}" if prep.get("resize", "shortest_edge") == "shortest_edge"
              else f"squashed to {prep.get('size')}&times;{prep.get('size')}")
    facts = [
        ("File", f"{html.escape(info.name or 'upload')} &mdash; {file_line}"),
        ("SHA-256", f"<code>{info.sha256 or 'n/a (in-memory image)'}</code>"),
        ("Analysed", f"centre crop ({l}, {t})&ndash;({r}, {b}), {a.coverage:.0%} of the image area"),
        ("Model", model_line),
        ("Input", f"{html.escape(str(prep.get('name')))} transform: {resize}, {prep.get('resample')}, "
                  f"centre crop {prep.get('crop_size')}"),
        ("Heatmap", heatmap_fact(a)),
        ("Logit", f"{a.logit:+.4f} &middot; analysed {html.escape(a.created_utc)}"),
    ]
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    demo = ('<div class="fx-demo">&#9888; untrained demo weights &mdash; not a forensic result</div>'
            if a.demo else "")
    return (f'<div class="fx-card {a.verdict}" data-verdict="{a.verdict}">{demo}'
            f'<div class="fx-label">P(AI-generated)</div><div class="fx-prob">{percent(p)}</div>'
            f'<div class="fx-verdict">{html.escape(a.verdict_text)}</div>{bar}'
            f'{f"<ul class=fx-notes>{notes}</ul>" if notes else ""}'
            f'<table class="fx-facts">{rows}</table>{model_card(a)}</div>')


EMPTY_CARD = ('<div class="fx-card"><div class="fx-empty">No image analysed yet. Drop, paste or pick '
              "an image (or click an example); the analysis starts as soon as it is uploaded.</div></div>")


def error_card(message: str) -> str:
    return ('<div class="fx-card error" data-verdict="error">'
            '<div class="fx-label">Could not analyse this file</div>'
            f'<p style="font-size:16px">{html.escape(message)}</p>'
            "<p>Nothing was analysed. Try another file; the page keeps working.</p></div>")


def ledger(a: Analysis) -> pd.DataFrame:
    """All 576 patches, strongest first."""
    rows = [[e["rank"], e["row"], e["col"], "({},{},{},{})".format(*e["box_original"]),
             round(e["score"], 5), round(e["share_percent"], 3)] for e in a.top_patches()]
    return pd.DataFrame(rows, columns=LEDGER_HEADERS)


def patch_at_shown(a: Analysis, x: float, y: float) -> dict | None:
    """Ledger row under pixel (x, y) of the heatmap on the original as sent to the page, which
    is downscaled for large originals (Gradio reports clicks in the picture's own pixels)."""
    scale = render.display_scale(a.image.size)
    return a.patch_at(x / scale, y / scale)


def patch_report(a: Analysis, entry: dict | None) -> tuple[str, np.ndarray | None]:
    if entry is None:
        return ("That point lies **outside the analysed centre crop** (dimmed): the model never saw it.",
                None)
    l, t, r, b = entry["box_original"]
    text = (f"**Patch row {entry['row']}, column {entry['col']}**: rank {entry['rank']} of {GRID * GRID}, "
            f"score {entry['score']:.6f} = **{entry['share_percent']:.3f} %** of the attention flow "
            f"(a uniform share would be {100 / GRID ** 2:.3f} %). Original pixels ({l}, {t})&ndash;({r}, {b}), "
            "outlined in yellow below with one patch of context.")
    return text, render.patch_closeup(a, entry["row"], entry["col"])


def export_dir() -> Path:
    """A fresh folder per export inside Gradio's cache, whose files delete_cache removes."""
    root = Path(get_upload_folder()) / "forensics-exports"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="export-", dir=root))


def record(a: Analysis, deep: checks.DeepCheck | None = None) -> dict:
    """What /analyze returns: the JSON export's record, plus the ten strongest patches."""
    top = [{k: list(v) if isinstance(v, tuple) else v for k, v in e.items()} for e in a.top_patches(10)]
    return {**report.record(a, deep=deep), "top_patches": top}


# ---------------------------------------------------------------------------------------------
# The explanation: method, colour scale, pictures

def heatmap_views(a: Analysis, alpha: float, cmap: str, color_scale: str = "image") -> dict:
    """The heatmap pictures of `a`: on the original, on the input, the slider pair, the grid."""
    vmax = COLOR_SCALES[color_scale]
    on_original = render.overlay_original(a, alpha, cmap, vmax=vmax)
    height, width = on_original.shape[:2]
    base = np.asarray(a.image if a.image.size == (width, height)
                      else a.image.resize((width, height), Image.BILINEAR))
    return {"original": on_original, "input": render.overlay_input(a, alpha, cmap, vmax=vmax),
            "compare": (base, on_original), "grid": render.grid_figure(a, cmap, vmax)}


def pick_method(detector: Detector, a: Analysis, path: str | None, method: str) -> Analysis:
    """`a` showing `method`'s patch scores. While grad-rollout has not been run for this image,
    one forward + backward pass on the same file runs it (and attention rollout with it, with
    the same settings); from then on both are kept and switching costs no pass at all."""
    if method != "grad-rollout" or a.relevance_scores is not None:
        return a.with_method(method)
    if not path:
        raise InputError("the image is no longer on the page; drop it again")
    fresh = detector.analyze(path, a.head_fusion, a.discard_ratio, method="grad-rollout",
                             keep_attention=True, embeddings=True)
    if fresh.input_sha256 != a.input_sha256:
        raise InputError("the file on the page is not the one analysed; press Analyze")
    return fresh


def explainer_card(a: Analysis, color_scale: str = "image") -> str:
    """Beside the method selector: what the map shows, how concentrated it is, whether the two
    methods agree (with the "explanation unstable" badge), and what full colour means."""
    name, quantity, meaning = METHOD_WORDS[a.method]
    top = a.top_share(0.1)
    agreement = a.method_agreement
    if agreement is None:
        agree = ('<p><span class="fx-badge info">ONE METHOD RUN</span>Method agreement not computed: '
                 "select grad-rollout to compute both methods and compare them.</p>")
    elif a.explanation_unstable:
        agree = (f'<p><span class="fx-badge bad" data-unstable="true">EXPLANATION UNSTABLE</span>'
                 f"Method agreement <b>{agreement:.2f}</b>: the two methods' top-10&nbsp;% patches "
                 f"overlap less than {AGREEMENT_THRESHOLD} (IoU). Do not present either map alone.</p>")
    else:
        agree = (f'<p><span class="fx-badge ok">METHODS AGREE</span>Method agreement <b>{agreement:.2f}</b> '
                 f"(IoU of the two methods' top-10&nbsp;% patches; unstable below {AGREEMENT_THRESHOLD}; "
                 "random maps score about 0.05).</p>")
    vmax = COLOR_SCALES[color_scale]
    peak = 100 * float(a.patch_scores.max())
    scale = (f"per image: full colour = this image's strongest patch ({peak:.2f}&nbsp;%); not comparable "
             "across images" if vmax is None else
             f"absolute: full colour = {100 * vmax:g}&nbsp;% per patch (uniform {100 / GRID ** 2:.2f}&nbsp;%)"
             f"{'; stronger patches saturate' if peak > 100 * vmax else ''}; comparable across images")
    return (f'<div class="fx-panel{" bad" if a.explanation_unstable else ""}" data-method="{a.method}">'
            f"<p><b>Showing {name}</b>: {meaning}.</p>"
            f'<p><span class="fx-big" data-top-share="{top:.4f}">{top:.0%}</span>of the {quantity} lies in the '
            f"top 10&nbsp;% of patches (10&nbsp;% if spread evenly).</p>{agree}"
            f"<p><small>Colour scale {scale}.</small></p></div>")


# ---------------------------------------------------------------------------------------------
# Deep checks -> what the page shows

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


def badge(level: str, label: str, **data) -> str:
    attrs = "".join(f' data-{k}="{html.escape(str(v))}"' for k, v in data.items())
    return f'<span class="fx-badge {level}"{attrs}>{html.escape(label)}</span>'


def faithfulness_panel(a: Analysis, f: checks.Faithfulness) -> str:
    name = METHOD_WORDS[a.method][0]
    fractions = ", ".join(f"{100 * x:g}" for x in f.fractions)
    mark = (badge("ok", "FAITHFUL", faithful="true") if f.faithful
            else badge("warn", "NOT SHOWN FAITHFUL", faithful="false"))
    return (f'<div class="fx-panel">{mark}'
            f"<b>Faithfulness</b><p>{html.escape(f.summary)}</p>"
            f"<p><small>The {name} map's strongest {fractions}&nbsp;% of patches were mean-filled and the model "
            f"re-run, against as many random patches; &ldquo;faithful&rdquo; needs {checks.FAITHFUL_RATIO}&times; "
            "the random change. It shows the patches matter to the model, not that they matter for the right "
            "reason.</small></p></div>")


def stability_panel(s: checks.Stability) -> str:
    mark = badge("bad", "FRAGILE", fragile="true") if s.fragile else badge("ok", "STABLE", fragile="false")
    return (f'<div class="fx-panel">{mark}'
            f"<b>Stability</b><p>{html.escape(s.summary)}</p>"
            "<p><small>Re-runs on innocent changes: a JPEG quality-90 copy, a 0.9&times; rescale, an "
            f"8-pixel shift. Fragile: any verdict flip, or an attention-rollout correlation below "
            f"{checks.FRAGILE_CORRELATION} over the region both runs saw.</small></p></div>")


def stability_table(a: Analysis, s: checks.Stability) -> pd.DataFrame:
    rows = [["original", f"{100 * s.probability:.1f} %", a.verdict, "", "1.00"]]
    rows += [[p.name, f"{100 * p.probability:.1f} %", p.verdict, "yes" if p.flipped else "no",
              f"{p.heatmap_correlation:.2f}"] for p in s.perturbations]
    return pd.DataFrame(rows, columns=STABILITY_HEADERS)


def coverage_panel(a: Analysis, deep: checks.DeepCheck) -> str:
    c = deep.coverage
    if c is None:
        return (f'<div class="fx-panel">{badge("info", "COVERAGE NOT RUN")}<b>Full coverage</b>'
                f"<p>{html.escape(deep.coverage_error or 'not run')}</p></div>")
    whole = verdict_for(c.probability, a.inconclusive_margin)
    level = {"ai-generated": "bad", "real": "ok"}.get(whole, "warn")
    top = max(range(len(c.tiles)), key=lambda i: c.tiles[i].probability)
    rows = "".join(
        f'<tr{" class=top" if i == top else ""}><td>{i + 1}</td><td class=num>({t.box_original[0]}, '
        f"{t.box_original[1]})&ndash;({t.box_original[2]}, {t.box_original[3]})</td>"
        f"<td class=num>{percent(t.probability)}</td><td>{verdict_for(t.probability, a.inconclusive_margin)}</td>"
        "</tr>" for i, t in enumerate(c.tiles))
    mark = badge(level, f"WHOLE IMAGE: {whole.upper()}", probability=f"{c.probability:.6f}")
    return (f'<div class="fx-panel">{mark}'
            f"<b>Full coverage</b>"
            f'<p><span class="fx-big">{percent(c.probability)}</span>whole image: the most suspicious of '
            f"{len(c.tiles)} overlapping tiles ({c.aggregation})</p>"
            f'<p><span class="fx-big">{percent(c.centre_probability)}</span>centre crop alone: the verdict '
            f"above ({a.verdict})</p>"
            f'<table class="fx-tiles"><tr><th>tile</th><th>box in original</th><th>P(AI)</th><th>verdict</th></tr>'
            f"{rows}</table><p><small>Each tile is a 384&times;384 crop of the image resized to a 440-pixel short "
            "side, as the model was trained; the map stitches the tiles' attention rollout (scaled to its own "
            "maximum).</small></p></div>")


def reliability_legend(r: checks.Reliability) -> str:
    return (f'<div class="fx-panel"><b>Reliability mask</b> on the 384&times;384 model input'
            '<ul class="fx-legend">'
            f'<li><span class="fx-swatch weak"></span><span><b>grey</b> = flat or clipped patches, weak evidence: '
            f"{int(r.flat.sum())} flat (pixel std below {checks.FLAT_STD:g} of 255), {int(r.clipped.sum())} "
            "clipped (over half the samples at 0 or 255)</span></li>"
            f'<li><span class="fx-swatch outlier"></span><span><b>cyan boxes</b> = high-norm outlier tokens: '
            f"{int(r.outliers.sum())} (norm over {checks.OUTLIER_MADS:g} MADs above the median; such tokens carry "
            "global information, not their patch's pixels)</span></li>"
            '<li><span class="fx-swatch dimmed"></span><span><b>dimmed</b> = outside the analysed crop (on the '
            "original; the model input is all inside it)</span></li></ul></div>")


def number_tiles(picture: np.ndarray, a: Analysis, coverage: checks.Coverage) -> np.ndarray:
    """Tile numbers (as in the tile list) inside each tile's bottom-left corner of the coverage overlay
    (the top edge lies under the image's label on the page)."""
    out = picture.copy()
    scale = out.shape[1] / a.image.width
    size = max(0.5, max(out.shape[:2]) / 900)
    for i, tile in enumerate(coverage.tiles, start=1):
        x, y = round(tile.box_original[0] * scale), round(tile.box_original[3] * scale)
        org = (x + round(8 * size), y - round(10 * size))
        for colour, width in (((0, 0, 0), 5), ((255, 255, 255), 2)):
            cv2.putText(out, str(i), org, cv2.FONT_HERSHEY_SIMPLEX, size, colour, max(1, round(width * size)),
                        cv2.LINE_AA)
    return out


def deep_views(a: Analysis, deep: checks.DeepCheck, alpha: float, cmap: str, color_scale: str = "image") -> dict:
    """The four parts of a deep check as the page shows them:
    faithfulness (badge, deletion curve), stability (badge, table of re-runs),
    coverage (stitched overlay or None, tile list beside the centre-crop P),
    reliability (masked overlay, legend)."""
    coverage_picture = None
    if deep.coverage is not None:
        coverage_picture = number_tiles(render.coverage_overlay(a, deep.coverage, alpha, cmap), a, deep.coverage)
    return {
        "faithfulness": (faithfulness_panel(a, deep.faithfulness), render.deletion_figure(deep.faithfulness)),
        "stability": (stability_panel(deep.stability), stability_table(a, deep.stability)),
        "coverage": (coverage_picture, coverage_panel(a, deep)),
        "reliability": (render.reliability_overlay(a, deep.reliability, alpha, cmap, COLOR_SCALES[color_scale]),
                        reliability_legend(deep.reliability)),
    }


def deep_status(a: Analysis, seconds: float | None, only_deletion: bool = False) -> str:
    name = METHOD_WORDS[a.method][0]
    when = "kept from earlier: no new pass" if seconds is None else f"ran in {seconds:.1f} s"
    if seconds is not None and only_deletion:
        when += " (the deletion check only: the others do not depend on the method)"
    demo = " <b>Untrained demo weights: every number here is meaningless.</b>" if a.demo else ""
    return (f"<p>Deep check of the {name} map ({a.head_fusion} head fusion, discard {a.discard_ratio:.2f}) "
            f"for {html.escape(a.input.name or 'the image')}: {when}.{demo}</p>")


# ---------------------------------------------------------------------------------------------
# The page

EXPLAINER_EMPTY = ('<div class="fx-panel"><p>Once an image is analysed: what the map shows, how concentrated it '
                   "is, and whether the two methods agree.</p></div>")
DEEP_HINT = ("<p>The deep check runs as soon as an image is analysed, and again for each new image or "
             "explainer setting.</p>")
DEEP_WAIT = '<div class="fx-panel"><p>Waiting for an analysed image.</p></div>'


def build_app(detector: Detector) -> gr.Blocks:
    """The Blocks page around one loaded detector (no argv, no launch)."""
    with gr.Blocks(title="Community Forensics: AI-image check", analytics_enabled=False,
                   delete_cache=DELETE_CACHE, fill_width=True) as app:
        analysis = gr.State(None, time_to_live=STATE_TTL_S)
        deep_checks = gr.State(None, time_to_live=STATE_TTL_S)  # {explainer settings: DeepCheck}, this image
        gr.Markdown(
            "# Is this image AI-generated? Where did the model look?\n"
            "The [Community Forensics](https://huggingface.co/buildborderless/CommunityForensics-DeepfakeDet-ViT) "
            "detector's verdict on one image, its attention rollout or grad-rollout as a heatmap, a score for "
            f"each of the {GRID}&times;{GRID} patches it saw, and on request deep checks of the explanation. "
            f"Version {__version__}.")
        if detector.model_info.demo:
            gr.HTML(DEMO_BANNER, css_template=BANNER_CSS, js_on_load=None, elem_id="demo-banner")

        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=280):
                image = ImageFile(type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                  label="Image (drop, paste or click to pick)", height=340, elem_id="input-image")
                analyze_btn = gr.Button("Analyze", variant="primary", elem_id="analyze-btn")
                gr.Examples([[str(p)] for p in EXAMPLES if p.is_file()], inputs=[image],
                            label="Examples (synthetic pictures and a public-domain photo)")
            with gr.Column(scale=4, min_width=340):
                verdict = gr.HTML(EMPTY_CARD, css_template=CARD_CSS, js_on_load=None, elem_id="verdict")
            with gr.Column(scale=5, min_width=340):
                ledger_table = gr.Dataframe(
                    headers=LEDGER_HEADERS, interactive=False, max_height=300, elem_id="ledger",
                    label="Patch ledger: all 576 patches, strongest first; box = (left, top, right, "
                          "bottom) pixels of the original; click a row to inspect it",
                    datatype=["number", "number", "number", "str", "number", "number"],
                    column_widths=["54px", "48px", "48px", "190px", "80px", "80px"])
                grid_plot = gr.Plot(label="Patch scores on the 24×24 grid", show_label=False, format="png",
                                    elem_id="grid-plot")

        gr.Markdown("## Where the model looked")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                method_pick = gr.Radio(METHOD_CHOICES, value="attention-rollout", label="Explanation method",
                                       elem_id="method",
                                       info="grad-rollout needs one more forward + backward pass the first "
                                            "time for each image; both maps are then kept and switching back is "
                                            "instant")
                scale_pick = gr.Radio(SCALE_CHOICES, value="image", label="Colour scale", elem_id="color-scale",
                                      info="absolute: the same colour means the same share in every image")
            with gr.Column(scale=2):
                explainer = gr.HTML(EXPLAINER_EMPTY, css_template=PANEL_CSS, js_on_load=None, elem_id="explainer")
        with gr.Row():
            fusion = gr.Radio(list(HEAD_FUSIONS), value="mean", label="Head fusion", elem_id="head-fusion",
                              info="attention rollout: how each block's attention heads are combined")
            discard = gr.Slider(0.0, 0.95, value=0.0, step=0.05, label="Discard ratio",
                                info="attention rollout: ignore the weakest share of attention links per block")
            opacity = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="Heatmap opacity")
            cmap = gr.Dropdown([(f"{c} (colour-blind safe)" if c in ("viridis", "cividis") else c, c)
                                for c in render.COLORMAPS], value=render.DEFAULT_COLORMAP, label="Colour map")
        with gr.Row(equal_height=False):
            overlay_orig = gr.Image(label="Heatmap on the original: dimmed = not analysed; "
                                          "click to inspect a patch",
                                    interactive=False, format="png", height=460, elem_id="overlay-original",
                                    buttons=["download", "fullscreen"])
            overlay_in = gr.Image(label="Heatmap on the 384×384 model input (what the model saw)",
                                  interactive=False, format="png", height=460, elem_id="overlay-input",
                                  buttons=["download", "fullscreen"])
        with gr.Row(equal_height=False):
            compare = gr.ImageSlider(label="Original ⟷ heatmap: drag the handle", interactive=False,
                                     format="png", max_height=460, elem_id="compare")
            with gr.Column():
                patch_text = gr.Markdown(PATCH_HINT, elem_id="patch-text")
                patch_zoom = gr.Image(label="Patch close-up", interactive=False, format="png", height=280,
                                      elem_id="patch-zoom")

        gr.Markdown("## Deep check")
        deep_toggle = gr.Checkbox(False, label="Deep check: faithfulness, stability, full coverage, reliability",
                                  elem_id="deep-toggle",
                                  info="about 20 more forward passes (seconds on a CPU); while on, it follows "
                                       "each new image and explainer setting")
        with gr.Column(visible=False, elem_id="deep-panel") as deep_panel:
            # HTML, not Markdown: the file name in it is untrusted
            deep_note = gr.HTML(DEEP_HINT, js_on_load=None, elem_id="deep-status")
            with gr.Row(equal_height=False):
                with gr.Column():
                    faith_html = gr.HTML(DEEP_WAIT, css_template=PANEL_CSS, js_on_load=None,
                                         elem_id="deep-faithfulness")
                    deletion_plot = gr.Plot(label="Deletion curve", show_label=False, format="png",
                                            elem_id="deletion-plot")
                with gr.Column():
                    stab_html = gr.HTML(DEEP_WAIT, css_template=PANEL_CSS, js_on_load=None,
                                        elem_id="deep-stability")
                    stab_table = gr.Dataframe(headers=STABILITY_HEADERS, interactive=False, max_height=240,
                                              label="Re-runs on innocent changes", elem_id="stability-table")
            with gr.Row(equal_height=False):
                cov_image = gr.Image(label="Full coverage: every tile's attention rollout stitched over the whole "
                                           "image; numbered boxes = tiles", interactive=False, format="png",
                                     height=420, elem_id="coverage-overlay", scale=4,
                                     buttons=["download", "fullscreen"])
                with gr.Column(scale=3):  # a Column: gr.HTML takes no share of a Row by itself
                    cov_html = gr.HTML(DEEP_WAIT, css_template=PANEL_CSS, js_on_load=None, elem_id="deep-coverage")
            with gr.Row(equal_height=False):
                rel_image = gr.Image(label="Reliability mask on the 384×384 model input", interactive=False,
                                     format="png", height=420, elem_id="reliability-overlay", scale=2,
                                     buttons=["download", "fullscreen"])
                with gr.Column(scale=2):
                    rel_html = gr.HTML(DEEP_WAIT, css_template=PANEL_CSS, js_on_load=None,
                                       elem_id="deep-reliability")

        gr.Markdown("## Export for the case file")
        with gr.Row(equal_height=False):
            notes = gr.Textbox(label="Analyst notes (added to the exports)", lines=3, scale=3)
            with gr.Column(scale=2):
                export_btn = gr.Button("Prepare exports", elem_id="export-btn")
                with gr.Row():
                    downloads = {fmt: gr.DownloadButton(f"Download {fmt.upper()}", visible=False, size="sm",
                                                        elem_id=f"download-{fmt}")
                                 for fmt in report.FORMATS}

        # The API: one image file in, JSON-friendly results out (gradio_client: api_name="/analyze").
        # The method and the deep check are optional inputs: a call with the file alone still works.
        with gr.Column(visible=False):
            api_file = gr.File(label="image file")
            api_method = gr.Radio(list(METHODS), value="attention-rollout", label="method")
            api_deep = gr.Checkbox(False, label="deep check")
            api_result = gr.JSON(label="result")
            api_overlay_in = gr.Image(label="heatmap on the model input", format="png")
            api_overlay_orig = gr.Image(label="heatmap on the original", format="png")
            api_trigger = gr.Button("analyze")

        views = [overlay_orig, overlay_in, compare, grid_plot, ledger_table, explainer]
        deep_parts = [deep_note, faith_html, deletion_plot, stab_html, stab_table, cov_image, cov_html,
                      rel_image, rel_html]
        # A new result makes the inspected patch and any prepared exports stale.
        stale_exports = {button: gr.DownloadButton(visible=False) for button in downloads.values()}
        cleared = {patch_text: PATCH_HINT, patch_zoom: None, **stale_exports}
        # A new image makes its predecessor's deep checks meaningless.
        no_deep = {deep_checks: None, deep_note: DEEP_HINT, faith_html: DEEP_WAIT, deletion_plot: None,
                   stab_html: DEEP_WAIT, stab_table: None, cov_image: None, cov_html: DEEP_WAIT, rel_image: None,
                   rel_html: DEEP_WAIT}

        def show(a: Analysis, alpha: float, colormap: str, color_scale: str) -> dict:
            pictures = heatmap_views(a, alpha, colormap, color_scale)
            return {overlay_orig: pictures["original"], overlay_in: pictures["input"],
                    compare: pictures["compare"], grid_plot: pictures["grid"], ledger_table: ledger(a),
                    explainer: explainer_card(a, color_scale)}

        def show_deep(a: Analysis, deep: checks.DeepCheck, alpha: float, colormap: str, color_scale: str) -> dict:
            parts = deep_views(a, deep, alpha, colormap, color_scale)
            components = {"faithfulness": (faith_html, deletion_plot), "stability": (stab_html, stab_table),
                          "coverage": (cov_image, cov_html), "reliability": (rel_image, rel_html)}
            return {c: v for part, pair in components.items() for c, v in zip(pair, parts[part])}

        def run(path, method_name, head_fusion, discard_ratio, alpha, colormap, color_scale):
            if path is None:
                return {analysis: None, verdict: EMPTY_CARD, **{v: None for v in views},
                        explainer: EXPLAINER_EMPTY, **cleared, **no_deep}
            try:
                a = detector.analyze(path, head_fusion, discard_ratio, method=method_name,
                                     keep_attention=True, embeddings=True)
            except InputError as exc:
                gr.Warning(str(exc))
                return {analysis: None, verdict: error_card(str(exc)), **{v: None for v in views},
                        explainer: EXPLAINER_EMPTY, **cleared, **no_deep}
            return {analysis: a, verdict: verdict_card(a), **show(a, alpha, colormap, color_scale), **cleared,
                    **no_deep}

        def rerun(path, *settings):
            if path is None:
                gr.Warning("Drop, paste or pick an image first.")
            return run(path, *settings)

        def reroll(a, head_fusion, discard_ratio, alpha, colormap, color_scale):
            if a is None:
                return gr.skip()
            a = a.with_rollout(head_fusion, discard_ratio)  # no forward pass
            return {analysis: a, verdict: verdict_card(a), **show(a, alpha, colormap, color_scale), **cleared}

        def switch_method(a, path, method_name, alpha, colormap, color_scale):
            if a is None:
                return gr.skip()
            try:
                a = pick_method(detector, a, path, method_name)  # a pass only the first time for grad-rollout
            except InputError as exc:
                gr.Warning(f"grad-rollout was not run: {exc}")
                return {method_pick: a.method}
            return {analysis: a, verdict: verdict_card(a), **show(a, alpha, colormap, color_scale), **cleared}

        def restyle(a, held, deep_on, alpha, colormap, color_scale):
            """Prepared exports used the old colours: offer them again."""
            if a is None:
                return gr.skip()
            out = {**show(a, alpha, colormap, color_scale), **stale_exports}
            deep = deep_for(a, held)
            if deep_on and deep is not None:
                redrawn = show_deep(a, deep, alpha, colormap, color_scale)
                out.update({cov_image: redrawn[cov_image], rel_image: redrawn[rel_image]})
            return out

        def toggle_deep(deep_on):
            return {deep_panel: gr.Column(visible=deep_on), **stale_exports}

        def follow_deep(a, held, deep_on, alpha, colormap, color_scale, progress=gr.Progress()):
            """While the deep check is on, the one for what the page shows (run unless kept)."""
            if not deep_on:
                return gr.skip()
            if a is None:
                return {**no_deep, **stale_exports}
            started = time.perf_counter()
            kept = deep_for(a, held) is not None
            only_deletion = any(k[1:] == explainer_settings(a)[1:] for k in held or ())
            held, deep = refresh_deep(detector, a, held, progress)
            took = None if kept else time.perf_counter() - started
            return {deep_checks: held, deep_note: deep_status(a, took, only_deletion),
                    **show_deep(a, deep, alpha, colormap, color_scale), **stale_exports}

        def inspect_original(a, evt: gr.SelectData):
            if a is None:
                return gr.skip(), gr.skip()
            return patch_report(a, patch_at_shown(a, *evt.index))

        def inspect_input(a, evt: gr.SelectData):
            if a is None:
                return gr.skip(), gr.skip()
            x, y = evt.index  # pixels of the 384x384 input
            row, col = min(int(y) // PATCH_SIZE, GRID - 1), min(int(x) // PATCH_SIZE, GRID - 1)
            return patch_report(a, next(e for e in a.top_patches() if (e["row"], e["col"]) == (row, col)))

        def inspect_row(a, evt: gr.SelectData):
            if a is None or not evt.row_value:
                return gr.skip(), gr.skip()
            rank = int(evt.row_value[0])
            return patch_report(a, a.top_patches(rank)[-1])

        def export(a, held, deep_on, analyst_notes, alpha, colormap, color_scale):
            if a is None:
                gr.Warning("Analyse an image first.")
                return gr.skip()
            deep = deep_for(a, held) if deep_on else None
            if deep_on and deep is None:
                gr.Warning("The deep check has not finished: these exports leave it out.")
            out_dir = export_dir()
            # The annotated PNG and the PDF use the colour map, opacity and colour scale on screen.
            files = report.export(a, out_dir, notes=analyst_notes or "", cmap=colormap, alpha=alpha,
                                  deep=deep, color_scale=color_scale)
            return {button: gr.DownloadButton(value=str(files[fmt]), visible=True) if fmt in files
                    else gr.DownloadButton(visible=False) for fmt, button in downloads.items()}

        def api_analyze(path, method="attention-rollout", deep_check=False):
            """Analyse one image file: P(AI-generated), verdict, 24x24 patch scores, crop box, the
            file's SHA-256, and the heatmap on the model input and on the original.

            Args:
                path: the image file.
                method: "attention-rollout" (class-agnostic, the default) or "grad-rollout" (evidence
                    for AI-generated; computes both methods and reports their agreement).
                deep_check: also run the deep checks (faithfulness, stability, full coverage,
                    reliability mask): about 20 more forward passes.
            """
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

        looks = [opacity, cmap, scale_pick]
        outputs = [analysis, verdict, *views, patch_text, patch_zoom, *downloads.values()]
        ui = dict(api_visibility="private")
        # Whatever changes the map, the deep check follows while it is on.
        follow = dict(fn=follow_deep, inputs=[analysis, deep_checks, deep_toggle, *looks],
                      outputs=[deep_checks, *deep_parts, *downloads.values()], **ui)
        new_image = ([image, method_pick, fusion, discard, *looks], [*outputs, *no_deep])
        image.change(run, *new_image, **ui).then(**follow)
        analyze_btn.click(rerun, *new_image, **ui).then(**follow)
        # .input: only the analyst's choice, not the handler's own reset after a failure.
        method_pick.input(switch_method, [analysis, image, method_pick, *looks], [*outputs, method_pick],
                          **ui).then(**follow)
        rollout = [analysis, fusion, discard, *looks]
        fusion.change(reroll, rollout, outputs, **ui).then(**follow)
        # .change, not .release: typing into a slider's number box fires no release.
        discard.change(reroll, rollout, outputs, trigger_mode="always_last", **ui).then(**follow)
        restyling = [analysis, deep_checks, deep_toggle, *looks]
        restyled = [*views, *downloads.values(), cov_image, rel_image]
        opacity.change(restyle, restyling, restyled, trigger_mode="always_last", **ui)
        cmap.change(restyle, restyling, restyled, **ui)
        scale_pick.change(restyle, restyling, restyled, **ui)
        deep_toggle.change(toggle_deep, [deep_toggle], [deep_panel, *downloads.values()], **ui).then(**follow)
        overlay_orig.select(inspect_original, [analysis], [patch_text, patch_zoom], **ui)
        overlay_in.select(inspect_input, [analysis], [patch_text, patch_zoom], **ui)
        ledger_table.select(inspect_row, [analysis], [patch_text, patch_zoom], **ui)
        export_btn.click(export, [analysis, deep_checks, deep_toggle, notes, *looks], list(downloads.values()),
                         **ui)
        api_trigger.click(api_analyze, [api_file, api_method, api_deep],
                          [api_result, api_overlay_in, api_overlay_orig], api_name="analyze")

    app.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_MAX_SIZE)
    return app


# ---------------------------------------------------------------------------------------------
# Starting it

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Serve the forensic explainability page.")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="SOURCE",
                        help="local folder with config.json + model.safetensors, or a hub id "
                             "(default: $FORENSICS_MODEL, else the pinned Community Forensics release)")
    source.add_argument("--demo", action="store_true",
                        help="untrained weights with the real architecture, to explore the interface; "
                             "every result is meaningless")
    p.add_argument("--host", help="address to listen on (default: $GRADIO_SERVER_NAME, else 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: $GRADIO_SERVER_PORT, else 7860)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        detector = Detector.demo() if args.demo else Detector.from_pretrained(args.model)
    except ModelUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if detector.model_info.demo:
        print("WARNING: untrained demo weights: nothing this server shows is a forensic result.",
              file=sys.stderr)
    build_app(detector).launch(server_name=args.host, server_port=args.port, **LAUNCH_OPTIONS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
