"""The page (`build_app`): the header, one module per tab, and the API.

Each tab is a `ui_<tab>` module with `create_ui(ui)` and `create_event_handlers(ui, detector)`
(as text-generation-webui's modules/ui_*.py); handlers live at module level elsewhere and return
{name: value}, which `Page.out` maps to components. The current image's `Analysis` (with its
kept attention) lives in `gr.State`, so the explainer controls recompute the rollout without
another forward pass; the deep checks run for it live in a second `gr.State`.
"""
from __future__ import annotations

import html
import json
from functools import partial
from pathlib import Path

import gradio as gr

from forensics import Detector, methods

from . import api, cards, ui_case, ui_image, ui_video, views
from . import video as video_tab
from .case import CaseRoom
from .page import CONCURRENCY_LIMIT, DELETE_CACHE, PRIVATE, QUEUE_MAX_SIZE, STATE_TTL_S, Page, header

TABS = (ui_image, ui_video)
# Screen readers: a polite live region that a11y.js fills with each new verdict (and triage.js
# with each key's act); a11y.js also mends the few spots of Gradio's markup axe-core flags.
ANNOUNCER = ('<div id="fx-announcer" class="fx-sr-only" role="status" aria-live="polite" aria-atomic="true" '
             f'data-plot-alt="{html.escape(json.dumps(views.PLOT_ALT))}"></div>')
A11Y_JS = (Path(__file__).resolve().parent / "a11y.js").read_text(encoding="utf-8")


def build_app(detector: Detector, *, delete_cache: tuple[int, int] = DELETE_CACHE,
              cases: CaseRoom | None = None, probe=None) -> gr.Blocks:
    """The Blocks page around one loaded detector (no argv, no launch). `cases`: where the Case
    tab keeps cases (app.py's --store, --db, --login); None: an ephemeral store, and the tab says so.
    `probe`: the analyst's probe (app.py --probe), shown beside each verdict card; None: not shown."""
    ui = Page()
    case_tab = ui_case.CaseTab(cases or CaseRoom())
    tabs = (*TABS, case_tab)
    with gr.Blocks(title="Community Forensics: AI-image check", analytics_enabled=False,
                   delete_cache=delete_cache, fill_width=True) as app:
        ui["analysis"] = gr.State(None, time_to_live=STATE_TTL_S)
        ui["deep_checks"] = gr.State(None, time_to_live=STATE_TTL_S)  # {explainer settings: DeepCheck}
        gr.HTML(ANNOUNCER, js_on_load=A11Y_JS, elem_id="fx-a11y")
        header(detector)
        for tab in tabs:
            tab.create_ui(ui)
        api_section(ui, detector)
        for tab in tabs:
            tab.create_event_handlers(ui, detector)
        if probe is not None:  # whenever the verdict card changes, the probe's P beside it follows
            ui["verdict"].change(partial(cards.probe_card, probe), ui["analysis"], ui["probe_card"], **PRIVATE)
        case_tab.on_load(app, ui)
    app.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_MAX_SIZE)
    return app


def api_section(ui: Page, detector: Detector) -> None:
    """The API: one image file in, JSON-friendly results out (gradio_client: api_name="/analyze").
    The method and the deep check are optional inputs: a call with the file alone still works."""
    with gr.Column(visible=False):
        file = gr.File(label="image file")
        method = gr.Radio(list(methods.names()), value=methods.BASELINE, label="method")
        deep = gr.Checkbox(False, label="deep check")
        sweep = gr.Checkbox(False, label="robustness")
        scan = gr.Checkbox(False, label="local scan")
        result = gr.JSON(label="result")
        overlay_in = gr.Image(label="heatmap on the model input", format="png")
        overlay_orig = gr.Image(label="heatmap on the original", format="jpeg")
        trigger = gr.Button("analyze")

    def api_analyze(path, method=methods.BASELINE, deep_check=False, robustness=False, local_scan=False):
        """Is this image AI-generated? Runs the Community Forensics detector (ViT-S/16, 2.7 M training images from 4,803 generators) on one image and explains where it looked.

        Returns a JSON record and two heatmap images. Read in the record: fake_probability = P(AI-generated) (0.5 is the authors' cut-off; 0.4-0.6 is reported as "inconclusive"), verdict (the final call: "ai-generated" | "real" | "inconclusive"), model_verdict (what P alone says) and verdict_reasons (why the final call is inconclusive when P alone is not: repeat them), applicability (conditions outside the model's validated domain), likelihood_ratio (null until the analyst validates the tool on their own material), crop_box (the only region of the image the model saw, in original pixels: a centre crop), top_patches (where the evidence lies), notes (caveats to repeat to the user), metadata and generator hints when present (independent of P), model provenance and a command that reproduces the result. The detector can be wrong in either direction, especially on generators and edits unlike its training data: present the result as one lead, not proof.

        Args:
            path: the image file (JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC or AVIF; at most 25 MB), as an http(s) URL or a base64 data URL.
            method: the explanation method: "attention-rollout" (default: where the model's attention flowed), or another registered method (its record then also reports how far the two agree). The choices are listed in this input's enum.
            deep_check: true to also test the explanation (faithfulness, stability under re-saving, the whole image in tiles, weak patches): about 20 more forward passes, seconds on a CPU.
            robustness: true to also ask whether the verdict survives the way images travel: the image re-sized (long edge 2048, 1080, 720, 512 px) and re-encoded as JPEG (quality 95 to 30), each copy analysed; the record's "robustness" section lists every copy's P and verdict, the share that keeps the verdict and a one-line judgement to repeat to the user. A call that does not hold on the copies messengers and feeds commonly make becomes inconclusive.
            local_scan: true to also scan the image at native resolution in 384x384 windows for one AI-edited region (about one forward pass per window, at most 96); the record's "local_scan" section lists the windows, the hotspots and a summary; a "real" call with a region called AI-generated becomes inconclusive.
        """
        return api.analyze(detector, path, method, deep_check, robustness, local_scan)

    trigger.click(api_analyze, [file, method, deep, sweep, scan], [result, overlay_in, overlay_orig], api_name="analyze")

    with gr.Column(visible=False):
        clip = gr.File(label="video file")
        frames = gr.Number(16, label="frames", precision=0)
        every = gr.Number(None, label="every seconds")
        clip_result = gr.JSON(label="result")
        clip_trigger = gr.Button("analyze_video")

    def api_analyze_video(path, frames=16, every=None):
        """Is this video clip AI-generated? Samples frames evenly (or one every N seconds) and runs the Community Forensics image detector on each.

        Returns a JSON record: the clip verdict and the rule behind it, a timeline (timestamp in seconds, frame index, fake_probability = P(AI-generated), verdict per sampled frame), the strongest frames with their top patches, and the file's provenance (sha256, container, codec, fps, duration). The detector judges single frames and can be wrong either way; present the result as one lead, not proof.

        Args:
            path: the clip (MP4, MOV, MKV, WebM or AVI with H.264, HEVC, VP8/VP9, MPEG-4 or MJPEG; at most 25 MB and 10 minutes), as an http(s) URL or a base64 data URL.
            frames: how many frames to sample evenly (1-64, default 16).
            every: instead of frames, sample one frame every this many seconds.
        """
        return video_tab.api_record(detector, path, frames, every)

    clip_trigger.click(api_analyze_video, [clip, frames, every], [clip_result], api_name="analyze_video")
