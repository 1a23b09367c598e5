"""A clip's pages in the case report, drawn from its stored record and its kept file: the clip
rule's call, the timeline of P(AI-generated) over the sampled frames, and the strongest frames
(decoded again from the kept clip) with their stored patch scores as heatmaps."""
from __future__ import annotations

from reportlab.platypus import KeepTogether, Spacer

from ..core.errors import InputError
from ..report import render
from ..report.names import printable
from ..report.pages import FULL_WIDTH, para, plot
from ..report.wording import VERDICT_COLOURS
from .clips import frames as decode_frames

TIMELINE_HEIGHT = 2.3    # inches
FRAME_HEIGHT = 2.6       # inches, at most, per strongest frame


def flowables(evidence_path, rec: dict, picture) -> list:
    """After the call's words: P, the rule, the timeline, notes, the clip's facts, the strongest
    frames. `picture(image, entry, width, height)` draws a frame with an entry's crop box and
    patch scores (the report's own drawing of a stored heatmap)."""
    t, v = rec["timeline_summary"], rec["video"]
    top = rec["strongest_frames"]
    out = [para(f"P(AI-generated) = {rec['fake_probability']:.3f}: the strongest of {t['frames']} sampled frames "
                f"(frame {top[0]['index']} at {top[0]['timestamp_s']:.2f} s); median {t['median_probability']:.3f}. "
                f"The call follows the clip rule: {rec['clip_rule']}.", 8.5),
           para(f"{t['ai_generated_frames']} frames ai-generated, {t['inconclusive_frames']} inconclusive, "
                f"{t['real_frames']} real; longest ai-generated run {t['longest_ai_run']} (the rule asks for "
                f"{rec['min_run']}); {t['share_above']:.0%} of frames above the {rec['threshold']} cut-off.", 8.5)]
    out += [para(note, 7.5, bullet=True, colour_="#8a3b00") for note in rec.get("notes", [])]
    timeline = rec["frames"]
    fig = render.timeline_figure([f["timestamp_s"] for f in timeline], [f["fake_probability"] for f in timeline],
                                 rec["inconclusive_margin"], [f["verdict"] for f in timeline],
                                 [f["timestamp_s"] for f in top], figsize=(FULL_WIDTH, TIMELINE_HEIGHT))
    out += [Spacer(1, 4), plot(fig, FULL_WIDTH),
            para(f"P(AI-generated) per sampled frame against time (s); shaded: the inconclusive band "
                 f"(0.5 \u00b1 {rec['inconclusive_margin']:g}); ringed: the strongest frames.", 7, colour_="0.35"),
            para(f"Clip: {printable(v['container'])} / {printable(v['codec'] or 'unknown')}, {v['width']}\u00d7"
                 f"{v['height']} px, {v['fps']:.3f} fps, {v['duration_s']:.2f} s, {v['frame_count']} frames declared, "
                 f"{t['frames']} sampled ({v['sampling']}), {v['frames_read']} decoded; {printable(v['decoder'])}.",
                 7.5)]
    try:
        images = decode_frames(evidence_path, [f["index"] for f in top], name=v.get("name"))
    except (InputError, OSError) as exc:
        return out + [para(f"The kept clip's frames could not be drawn: {exc}", 8, colour_="#b00020")]
    for entry in top:
        image = images.get(entry["index"])
        if image is None:
            continue
        h = min(FRAME_HEIGHT, FULL_WIDTH * 0.6 * image.height / image.width)
        out.append(KeepTogether([
            para(f"Frame {entry['index']} at {entry['timestamp_s']:.3f} s: P(AI-generated) = "
                 f"{entry['fake_probability']:.3f} ({entry['verdict']})", 8.5, bold=True,
                 colour_=VERDICT_COLOURS[entry["verdict"]], after=0.03),
            picture(image, entry, h * image.width / image.height, h)]))
    out.append(para("Each frame decoded again from the kept clip, with its stored patch scores as a heatmap on "
                    "the analysed crop (white box); the rest dimmed.", 7, colour_="0.35"))
    return out
