"""The Video tab: a clip's P(AI-generated) timeline, its verdict, and any sampled frame's evidence.

`create_ui(ui)` lays it out; `create_event_handlers(ui, detector)` wires it to `video` (handlers).
"""
from __future__ import annotations

import gradio as gr

from forensics import VIDEO_EXTENSIONS

from . import video as video_tab
from . import views
from .alt_text import FRAME_HEATMAPS, described
from .page import PRIVATE, STATE_TTL_S, Page, html_panel


def create_ui(ui: Page) -> None:
    with gr.Tab("Video", elem_id="tab-video"):
        video_section(ui)


def video_section(ui: Page) -> None:
    ui["video_state"] = gr.State(None, time_to_live=STATE_TTL_S)  # the clip's VideoAnalysis
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=280):
            ui["video_file"] = gr.File(label="Video clip (MP4, MOV, MKV, WebM, AVI; up to 25 MB and 10 minutes)",
                                       file_types=[*VIDEO_EXTENSIONS], elem_id="video-file")
            with gr.Row():
                ui["video_frames"] = gr.Slider(4, video_tab.APP_LIMITS.max_frames, value=16, step=1,
                                               label="Frames sampled evenly", elem_id="video-frames")
                ui["video_every"] = gr.Number(None, label="or one every N seconds", minimum=0,
                                              elem_id="video-every")
            ui["video_btn"] = gr.Button("Analyse clip", variant="primary", elem_id="video-btn")
        with gr.Column(scale=3, min_width=340):
            ui["video_card"] = html_panel(video_tab.VIDEO_EMPTY, "video-card")
    ui["timeline_plot"] = gr.Plot(label="P(AI-generated) per sampled frame", format="png", elem_id="timeline")
    ui["frame_pick"] = gr.Dropdown([], label="Frame to inspect (the strongest is shown first)",
                                   elem_id="frame-pick")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            ui["frame_card"] = html_panel("", "frame-card")
            ui["frame_ledger"] = gr.Dataframe(headers=views.LEDGER_HEADERS, interactive=False, max_height=260,
                                              label="The frame's patch ledger", elem_id="frame-ledger")
        ui["frame_overlay"] = gr.Image(label="Frame: heatmap on the frame", interactive=False, format="png",
                                       height=380, alt_text=views.ALT["frame_overlay"], elem_id="frame-overlay",
                                       scale=3)
        ui["frame_input"] = gr.Image(label="Frame: heatmap on the 384×384 model input", interactive=False,
                                     format="png", height=380, alt_text=views.ALT["frame_input"],
                                     elem_id="frame-input", scale=2)


def create_event_handlers(ui: Page, detector) -> None:
    looks = ui.each("opacity", "cmap", "scale_pick")
    frame_views = ui.each("frame_card", "frame_overlay", "frame_input", "frame_ledger")

    def analyze_clip(path, frames, every, alpha, colormap, color_scale, progress=gr.Progress()):
        out = video_tab.analyze_clip(detector, path, frames, every, alpha, colormap, color_scale, progress)
        return ui.out(described_frame(out, out.get("video_state"), out.get("frame_pick")))

    def pick_frame(v, index, *look):
        return ui.out(described_frame(video_tab.frame_views(v, index, *look), v, index))

    ui["video_btn"].click(analyze_clip, ui.each("video_file", "video_frames", "video_every", *looks),
                          [*ui.each("video_state", "video_card", "timeline_plot", "frame_pick"), *frame_views],
                          **PRIVATE)
    ui["frame_pick"].input(pick_frame, ui.each("video_state", "frame_pick", *looks), frame_views, **PRIVATE)


def described_frame(result: dict, v, index) -> dict:
    """The frame's heatmaps with words that say where their strongest patches lie."""
    if v is None or index is None:
        return result
    # analyze_clip sends the picker as gr.Dropdown(choices=..., value=...): what Gradio reads of it
    index = getattr(index, "constructor_args", {"value": index}).get("value")
    return described(result, v.frame(int(index)).analysis, FRAME_HEATMAPS)
