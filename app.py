"""The browser page: drop an image, see the verdict, where the model looked, and per-patch scores.

    python app.py                  # the pinned Community Forensics weights (downloaded once)
    python app.py --model DIR      # local weights: config.json + model.safetensors
    python app.py --demo           # untrained weights, to explore the interface only

Host and port also follow Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, the model
FORENSICS_MODEL, so a Hugging Face Space starts it with no arguments.

The handlers only translate between component values and package types. The current
image's `Analysis` (with its kept attention maps) lives in `gr.State`, so the explainer
controls recompute the rollout without another forward pass.
"""
from __future__ import annotations

import argparse
import html
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder
import numpy as np
import pandas as pd
from PIL import Image

from forensics import Analysis, Detector, InputError, ModelUnavailableError, __version__, render, report
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
        ("Heatmap", f"{html.escape(a.method)}, {a.head_fusion} head fusion, discard {a.discard_ratio:.2f}; "
                    f"the top 10&nbsp;% of patches hold {a.top_share(0.1):.0%} of the attention"),
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


def record(a: Analysis) -> dict:
    """What /analyze returns: the JSON export's record, plus the ten strongest patches."""
    top = [{k: list(v) if isinstance(v, tuple) else v for k, v in e.items()} for e in a.top_patches(10)]
    return {**report.record(a), "top_patches": top}


# ---------------------------------------------------------------------------------------------
# The page

def build_app(detector: Detector) -> gr.Blocks:
    """The Blocks page around one loaded detector (no argv, no launch)."""
    with gr.Blocks(title="Community Forensics: AI-image check", analytics_enabled=False,
                   delete_cache=DELETE_CACHE, fill_width=True) as app:
        analysis = gr.State(None, time_to_live=STATE_TTL_S)
        gr.Markdown(
            "# Is this image AI-generated? Where did the model look?\n"
            "The [Community Forensics](https://huggingface.co/buildborderless/CommunityForensics-DeepfakeDet-ViT) "
            "detector's verdict on one image, its attention rollout as a heatmap, and a score for each "
            f"of the {GRID}&times;{GRID} patches it saw. Version {__version__}.")
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
        with gr.Row():
            fusion = gr.Radio(list(HEAD_FUSIONS), value="mean", label="Head fusion", elem_id="head-fusion",
                              info="how each block's attention heads are combined")
            discard = gr.Slider(0.0, 0.95, value=0.0, step=0.05, label="Discard ratio",
                                info="ignore the weakest share of attention links in every block")
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
        with gr.Column(visible=False):
            api_file = gr.File(label="image file")
            api_result = gr.JSON(label="result")
            api_overlay_in = gr.Image(label="heatmap on the model input", format="png")
            api_overlay_orig = gr.Image(label="heatmap on the original", format="png")
            api_trigger = gr.Button("analyze")

        views = [overlay_orig, overlay_in, compare, grid_plot, ledger_table]
        # A new result makes the inspected patch and any prepared exports stale.
        cleared = {patch_text: PATCH_HINT, patch_zoom: None,
                   **{button: gr.DownloadButton(visible=False) for button in downloads.values()}}

        def show(a: Analysis, alpha: float, colormap: str) -> dict:
            on_original = render.overlay_original(a, alpha, colormap)
            height, width = on_original.shape[:2]
            base = np.asarray(a.image if a.image.size == (width, height)
                              else a.image.resize((width, height), Image.BILINEAR))
            return {overlay_orig: on_original, overlay_in: render.overlay_input(a, alpha, colormap),
                    compare: (base, on_original), grid_plot: render.grid_figure(a, colormap),
                    ledger_table: ledger(a)}

        def run(path, head_fusion, discard_ratio, alpha, colormap):
            if path is None:
                return {analysis: None, verdict: EMPTY_CARD, **{v: None for v in views}, **cleared}
            try:
                a = detector.analyze(path, head_fusion, discard_ratio, keep_attention=True)
            except InputError as exc:
                gr.Warning(str(exc))
                return {analysis: None, verdict: error_card(str(exc)), **{v: None for v in views}, **cleared}
            return {analysis: a, verdict: verdict_card(a), **show(a, alpha, colormap), **cleared}

        def rerun(path, head_fusion, discard_ratio, alpha, colormap):
            if path is None:
                gr.Warning("Drop, paste or pick an image first.")
            return run(path, head_fusion, discard_ratio, alpha, colormap)

        def reroll(a, head_fusion, discard_ratio, alpha, colormap):
            if a is None:
                return {}
            a = a.with_rollout(head_fusion, discard_ratio)  # no forward pass
            return {analysis: a, verdict: verdict_card(a), **show(a, alpha, colormap), **cleared}

        def restyle(a, alpha, colormap):  # prepared exports used the old colours: offer them again
            stale = {button: gr.DownloadButton(visible=False) for button in downloads.values()}
            return {} if a is None else {**show(a, alpha, colormap), **stale}

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

        def export(a, analyst_notes, alpha, colormap):
            if a is None:
                gr.Warning("Analyse an image first.")
                return {}
            out_dir = export_dir()
            # The annotated PNG and the PDF use the colour map and opacity on screen.
            files = report.export(a, out_dir, notes=analyst_notes or "", cmap=colormap, alpha=alpha)
            return {button: gr.DownloadButton(value=str(files[fmt]), visible=True) if fmt in files
                    else gr.DownloadButton(visible=False) for fmt, button in downloads.items()}

        def api_analyze(path):
            """Analyse one image file: P(AI-generated), verdict, 24x24 patch scores, crop box, the
            file's SHA-256, and the rollout heatmap on the model input and on the original."""
            if not path:
                raise gr.Error("Give one image file.", print_exception=False)
            try:
                a = detector.analyze(path)
            except InputError as exc:
                raise gr.Error(str(exc), print_exception=False) from None
            return record(a), render.overlay_input(a), render.overlay_original(a)

        settings = [fusion, discard, opacity, cmap]
        outputs = [analysis, verdict, *views, patch_text, patch_zoom, *downloads.values()]
        ui = dict(api_visibility="private")
        image.change(run, [image, *settings], outputs, **ui)
        analyze_btn.click(rerun, [image, *settings], outputs, **ui)
        fusion.change(reroll, [analysis, *settings], outputs, **ui)
        # .change, not .release: typing into a slider's number box fires no release.
        discard.change(reroll, [analysis, *settings], outputs, trigger_mode="always_last", **ui)
        restyled = [*views, *downloads.values()]
        opacity.change(restyle, [analysis, opacity, cmap], restyled, trigger_mode="always_last", **ui)
        cmap.change(restyle, [analysis, opacity, cmap], restyled, **ui)
        overlay_orig.select(inspect_original, [analysis], [patch_text, patch_zoom], **ui)
        overlay_in.select(inspect_input, [analysis], [patch_text, patch_zoom], **ui)
        ledger_table.select(inspect_row, [analysis], [patch_text, patch_zoom], **ui)
        export_btn.click(export, [analysis, notes, opacity, cmap], list(downloads.values()), **ui)
        api_trigger.click(api_analyze, [api_file], [api_result, api_overlay_in, api_overlay_orig],
                          api_name="analyze")

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
