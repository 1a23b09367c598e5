"""The Video tab's handlers and cards: a clip in, the P(AI-generated) timeline and the clip's
verdict out; any sampled frame's heatmaps and ledger on request. Returns {name: value} like
handlers.py; layout.py maps names to components.
"""
from __future__ import annotations

import html

import gradio as gr

from forensics import DEMO_WARNING, Detector, InputError, VideoAnalysis, VideoLimits, render, report

from . import cards, views

# A shared page: clips as small as the image uploads, a few minutes, at most 64 frames.
# The CLI (python -m forensics analyze clip.mp4) has the package's larger limits.
APP_LIMITS = VideoLimits(max_bytes=25 * 1024 * 1024, max_duration_s=10 * 60.0, max_frames=64)
VIDEO_EMPTY = ('<div class="fx-card"><div class="fx-empty">No clip analysed yet. Give an MP4, MOV, MKV, WebM or '
               "AVI clip (H.264, HEVC, VP8/VP9, MPEG-4 or MJPEG; AV1 is not supported); frames are sampled evenly "
               "and each is analysed like an image.</div></div>")


def frame_choices(v: VideoAnalysis) -> list[tuple[str, int]]:
    """The frame picker: every sampled frame, labelled by time, frame number and P."""
    return [(f"{f.timestamp:7.2f} s \u00b7 frame {f.index} \u00b7 P {f.analysis.fake_probability:.3f}", f.index)
            for f in v.frames]


def clip_card(v: VideoAnalysis) -> str:
    """The clip's verdict, its rule, the timeline numbers and the provenance of the file."""
    t = v.timeline
    info = v.info.record()
    verdict = v.verdict
    facts = [("Rule", html.escape(v.rule)),
             ("Timeline", f"max P {t.max_probability:.3f}, median {t.median_probability:.3f}; "
                          f"{100 * t.share_above:.0f}&nbsp;% of sampled frames above 0.5; longest run above it "
                          f"{t.longest_run_above} frames ({t.longest_run_above_s:.1f} s)"),
             ("File", f"{html.escape(str(info.get('name') or 'clip'))} &mdash; {info.get('container') or '?'}, "
                      f"{html.escape(str(info.get('codec') or '?'))}, {info.get('width')}&times;{info.get('height')}, "
                      f"{info.get('fps') or 0:.3g} fps, {info.get('duration_s') or 0:.1f} s"),
             ("SHA-256", f"<code>{info.get('sha256')}</code>"),
             ("Sampled", f"{len(v.frames)} frames ({html.escape(str(info.get('sampling')))}) of "
                         f"{info.get('frame_count')}")]
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in v.notes())
    demo = f'<div class="fx-demo">&#9888; {html.escape(DEMO_WARNING)}</div>' if v.frames and v.frames[0].analysis.demo else ""
    return (f'<div class="fx-card {verdict}" data-verdict="{verdict}">{demo}'
            f'<div class="fx-label">Clip verdict</div><div class="fx-verdict">{html.escape(v.verdict_text)}</div>'
            f'{f"<ul class=fx-notes>{notes}</ul>" if notes else ""}{cards.facts_table(facts)}</div>')


def sample_and_analyze(detector: Detector, path, frames, every, progress=None) -> VideoAnalysis:
    """The page's sampling (`every` seconds when given, else `frames` evenly) within APP_LIMITS."""
    every = float(every) if every else None
    return detector.analyze_video(path, frames=None if every else int(frames), every=every, limits=APP_LIMITS,
                                  progress=progress)


def analyze_clip(detector: Detector, path, frames, every, alpha: float, colormap: str, color_scale: str,
                 progress=None):
    """Sample and analyse a clip; show the timeline and its strongest frame."""
    if not path:
        return no_clip(VIDEO_EMPTY)
    step = (lambda done, total: progress(done / total, f"frames analysed: {done} of {total}")) if progress else None
    try:
        v = sample_and_analyze(detector, path, frames, every, step)
    except InputError as exc:
        return no_clip(cards.error_card(str(exc)))
    strongest = v.strongest(1)[0]
    return {"video_state": v, "video_card": clip_card(v), "timeline_plot": report.clip.timeline_figure(v),
            "frame_pick": gr.Dropdown(choices=frame_choices(v), value=strongest.index),
            **frame_views(v, strongest.index, alpha, colormap, color_scale)}


def no_clip(card: str) -> dict:
    """No clip to show (none given, or it could not be used): the card says which."""
    return {"video_state": None, "video_card": card, "timeline_plot": None,
            "frame_pick": gr.Dropdown(choices=[], value=None), **no_frame()}


def no_frame() -> dict:
    return {"frame_card": "", "frame_overlay": None, "frame_input": None, "frame_ledger": None}


def frame_views(v: VideoAnalysis | None, index, alpha: float, colormap: str, color_scale: str):
    """One sampled frame as the image page shows an image: verdict, heatmaps, ledger."""
    if v is None or index is None:
        return no_frame()
    f = v.frame(int(index))
    vmax = render.scale_vmax(color_scale)
    title = f"Frame {f.index} at {f.timestamp:.2f} s"
    return {"frame_card": cards.compact_card(f.analysis, title),
            "frame_overlay": render.overlay_original(f.analysis, alpha, colormap, vmax=vmax),
            "frame_input": render.overlay_input(f.analysis, alpha, colormap, vmax=vmax),
            "frame_ledger": views.ledger(f.analysis)}


def api_record(detector: Detector, path, frames=16, every=None) -> dict:
    """What /analyze_video returns: the JSON export's record of the clip."""
    if not path:
        raise gr.Error("Give one video file.", print_exception=False)
    try:
        v = sample_and_analyze(detector, path, frames, every)
    except InputError as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    return report.clip.record(v)
