"""Evidence exports of a `VideoAnalysis`: JSON record, CSV timeline, PDF report, PNG contact sheet.

The counterpart of `report.export` for clips: the same file-naming rules, the same limits and
provenance, plus the timeline. Each frame's heatmap is drawn by `render.overlay_original`.
"""
from __future__ import annotations

import csv
import json
import shlex
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ..explain import registry
from . import render
from .names import claim_stem, display_name, printable, safe_stem
from .records import number, software_versions
from .wording import limits
from .wording import DEMO_BANNER_COLOUR
from reportlab.lib.units import inch
from reportlab.platypus import KeepTogether, PageBreak, Spacer

from .fonts import draw_text
from .pages import FULL_WIDTH, Picture, ScoreGrid, Story, banner, columns, heading, para, pdf_document, plot
from ..model.spec import TRAINING
from ..core.verdict import DEFAULT_INCONCLUSIVE_MARGIN, THRESHOLD
from ..analysis.video import VideoAnalysis

FORMATS = ("png", "pdf", "json", "csv")  # contact sheet, report, record, timeline
TIMELINE_HEADER = ("index", "timestamp_s", "fake_probability", "logit", "verdict")
STRONGEST = 3        # frames explained in the PDF and the JSON
SHEET_COLUMNS = 8
SHEET_THUMB = 240    # px, longest side of a contact-sheet thumbnail


def reproduce_command(video: VideoAnalysis) -> str:
    """The CLI call that re-creates this analysis (output folder left as DIR)."""
    a, info = video.frames[0].analysis, video.info
    args = ["python", "-m", "forensics", "analyze", info.name or "FILE", "--out", "DIR"]
    kind, _, value = info.sampling.partition("=")
    args += ["--every", value.rstrip("s")] if kind == "every" else ["--frames", value]
    args += ["--head-fusion", a.head_fusion, "--discard-ratio", repr(float(a.discard_ratio))]
    if a.method != registry.BASELINE:
        args += ["--method", a.method]
    if a.model.demo:
        args.append("--demo")
    else:
        args += ["--model", a.model.source] + (["--revision", a.model.revision] if a.model.revision else [])
    if a.preprocessing.name != TRAINING.name:
        args += ["--preprocessing", a.preprocessing.name]
    if video.inconclusive_margin != DEFAULT_INCONCLUSIVE_MARGIN:
        args += ["--inconclusive-margin", repr(float(video.inconclusive_margin))]
    return shlex.join(args)


def record(video: VideoAnalysis, notes: str = "", strongest: int = STRONGEST) -> dict:
    """The JSON record: clip verdict and rule, the timeline per frame, the strongest frames, provenance."""
    a, m = video.frames[0].analysis, video.frames[0].analysis.model
    return {
        "kind": "video",
        "verdict": video.verdict,
        "verdict_text": video.verdict_text,
        "clip_rule": video.rule,
        "threshold": THRESHOLD,
        "inconclusive_margin": number(video.inconclusive_margin),
        "min_run": video.min_run,
        "timeline_summary": {k: (number(v) if isinstance(v, float) else v) for k, v in video.timeline.record().items()},
        "video": video.info.record(),
        "frames": [{"index": f.index, "timestamp_s": number(f.timestamp), "fake_probability": number(f.fake_probability),
                    "logit": number(f.analysis.logit), "verdict": f.verdict} for f in video.frames],
        "strongest_frames": [{"index": f.index, "timestamp_s": number(f.timestamp),
                              "fake_probability": number(f.fake_probability), "verdict": f.verdict,
                              "crop_box": list(f.analysis.crop_box),
                              "top_patches": [{"rank": p["rank"], "row": p["row"], "col": p["col"],
                                               "box_original": list(p["box_original"]), "score": number(p["score"])}
                                              for p in f.analysis.top_patches(5)]}
                             for f in video.strongest(strongest)],
        "model": {"source": m.source, "revision": m.revision, "weights_sha256": m.weights_sha256,
                  "pinned": m.pinned, "demo": m.demo, "num_parameters": m.num_parameters},
        "preprocessing": a.preprocessing.describe(),
        "method": {"name": a.method, "head_fusion": a.head_fusion, "discard_ratio": number(a.discard_ratio)},
        "software": software_versions(),
        "created_utc": a.created_utc,
        "reproduce": reproduce_command(video),
        "notes": video.notes(),
        "analyst_notes": notes,
    }


def write_json(video: VideoAnalysis, path, notes: str = "") -> Path:
    Path(path).write_text(json.dumps(record(video, notes), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return Path(path)


def write_csv(video: VideoAnalysis, path) -> Path:
    """One row per sampled frame, in stream order."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(TIMELINE_HEADER)
        for fr in video.frames:
            out.writerow([fr.index, number(fr.timestamp), number(fr.fake_probability), number(fr.analysis.logit), fr.verdict])
    return Path(path)


def timeline_figure(video: VideoAnalysis, highlight: int = STRONGEST, figsize=(7.5, 2.8)):
    """The clip's timeline with its strongest frames ringed (`render.timeline_figure` on a VideoAnalysis)."""
    return render.timeline_figure(video.timestamps, video.probabilities, video.inconclusive_margin,
                                  [f.verdict for f in video.frames],
                                  [f.timestamp for f in video.strongest(highlight)] if highlight else None,
                                  figsize=figsize)


# -- contact sheet -------------------------------------------------------------------------------

def contact_sheet(video: VideoAnalysis, columns: int = SHEET_COLUMNS, thumb: int = SHEET_THUMB) -> Image.Image:
    """Every sampled frame as a thumbnail, bordered in its verdict's colour, labelled time, frame, P."""
    w0, h0 = video.frames[0].analysis.image.size
    scale = thumb / max(w0, h0)
    tw, th = max(1, round(w0 * scale)), max(1, round(h0 * scale))
    border, label_h = 4, 18
    cell_w, cell_h = tw + 2 * border, th + 2 * border + label_h
    rows = -(-len(video.frames) // columns)
    header = 28 if not video.demo else 48
    sheet = Image.new("RGB", (columns * cell_w, header + rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=12)
    title = (f"{display_name(video.info.name, 60)}  |  clip verdict: {video.verdict}  |  "
             f"{len(video.frames)} frames  |  max P {video.timeline.max_probability:.3f}")
    draw_text(draw, (6, 6), printable(title), font, "black", anchor="la")  # CJK names in the fallback font
    if video.demo:
        draw.rectangle((0, 26, sheet.width, 46), fill=DEMO_BANNER_COLOUR)
        draw.text((6, 29), "UNTRAINED DEMO WEIGHTS: NOT A FORENSIC RESULT", fill="white", font=font)
    for n, fr in enumerate(video.frames):
        x, y = (n % columns) * cell_w, header + (n // columns) * cell_h
        colour = render.VERDICT_COLOURS[fr.verdict]
        draw.rectangle((x, y, x + cell_w - 1, y + th + 2 * border - 1), fill=colour)
        sheet.paste(fr.analysis.image.resize((tw, th), Image.BILINEAR), (x + border, y + border))
        draw.text((x + border, y + th + 2 * border + 1), f"{fr.timestamp:.2f}s #{fr.index} P={fr.fake_probability:.3f}",
                  fill=colour, font=font)
    return sheet


def write_png(video: VideoAnalysis, path) -> Path:
    contact_sheet(video).save(path, format="PNG")
    return Path(path)


# -- PDF -----------------------------------------------------------------------------------------

def pdf_figures(video: VideoAnalysis, notes: str = "", cmap: str = render.DEFAULT_COLORMAP,
                alpha: float = 0.5, strongest: int = STRONGEST) -> Story:
    """Page 1: verdict, rule, timeline, summary, provenance; then the strongest frames explained."""
    t, info = video.timeline, video.info
    name = display_name(info.name, 80)
    title = f"Video report: {name}"
    story = Story(f"Forensic video report: {info.name or 'video'}",
                  f"forensics video report \u00b7 {name} \u00b7 sha256 {info.sha256[:16]}",
                  subject=f"sha256 {info.sha256}", keywords=f"sha256:{info.sha256}, {video.verdict}, video",
                  continued=f"{title} (continued)")
    story.add(para(title, 14, bold=True, after=0.04))
    if video.demo:
        story.add(banner(12), Spacer(1, 0.08 * inch))
    story.add(para(video.verdict_text, 13, bold=True, colour_=render.VERDICT_COLOURS[video.verdict]),
              para(f"Clip rule: {video.rule}.", 8.5),
              para(f"{t.frames} frames sampled ({info.sampling}) of {info.frame_count}: max P {t.max_probability:.3f}, "
                   f"median {t.median_probability:.3f}, mean {t.mean_probability:.3f}; {t.share_above:.0%} of frames "
                   f"above the {THRESHOLD} cut-off, longest run above it {t.longest_run_above} frame(s) "
                   f"({t.longest_run_above_s:.2f} s); {t.ai_generated_frames} ai-generated, {t.inconclusive_frames} "
                   f"inconclusive, {t.real_frames} real; longest ai-generated run {t.longest_ai_run}.", 8.5),
              Spacer(1, 0.1 * inch))
    story.add(plot(timeline_figure(video, strongest, figsize=(FULL_WIDTH, 2.9)), FULL_WIDTH),
              para(f"P(AI-generated) per sampled frame against time in the clip (s); shaded: the inconclusive band "
                   f"(0.5 \u00b1 {video.inconclusive_margin:g}); ringed: the strongest frames.", 7, colour_="0.3"))
    story.add(heading("Provenance"))
    a = video.frames[0].analysis
    rows = [("File", name), ("Bytes", f"{info.num_bytes:,}"), ("SHA-256", info.sha256),
            ("Container / codec", f"{info.container} / {info.codec or 'unknown'}"),
            ("Stream", f"{info.width}\u00d7{info.height} px, {info.fps:.3f} fps, {info.duration_s:.2f} s, "
                       f"{info.frame_count} frames declared, {info.frames_read} decoded"
                       + (f", rotation {info.rotation}\u00b0 applied" if info.rotation else "")),
            ("Decoder", info.record()["decoder"]),
            ("Model", a.model.label), ("Method", f"{a.method}, {a.head_fusion} fusion, discard {a.discard_ratio:g}"),
            ("Software", ", ".join(f"{k} {v}" for k, v in software_versions().items())),
            ("Created (UTC)", a.created_utc), ("Reproduce", reproduce_command(video))]
    story.add([para(f"{key}: {printable(value)}", 7.5) for key, value in rows])
    story.add(heading("Notes and limits"))
    story.add([para(line, 7.5, bullet=True) for line in video.notes() + limits(a)])
    if notes.strip():
        story.add(heading("Analyst notes"), para(notes.strip(), 8))

    story.add(PageBreak(), *heading(f"The {min(strongest, len(video.frames))} frame(s) with the highest "
                                    "P(AI-generated)"))
    for fr in video.strongest(strongest):
        fa = fr.analysis
        over = render.overlay_original(fa, alpha=alpha, cmap=cmap, max_side=640)
        h = min(2.9, 3.4 * over.shape[0] / over.shape[1])
        story.add(KeepTogether([
            para(f"Frame {fr.index} at {fr.timestamp:.3f} s: P(AI-generated) = {fr.fake_probability:.3f} "
                 f"({fr.verdict})", 9, bold=True, colour_=render.VERDICT_COLOURS[fr.verdict], after=0.04),
            columns([Picture(over, h * over.shape[1] / over.shape[0], h), ScoreGrid(fa, cmap, None, min(1.9, h))],
                    [3.7, FULL_WIDTH - 3.7], gap_after=0.25)]))
    return story


def pdf_bytes(video: VideoAnalysis, notes: str = "", cmap: str = render.DEFAULT_COLORMAP,
              alpha: float = 0.5) -> bytes:
    """The clip's report as one PDF document in memory."""
    return pdf_document(pdf_figures(video, notes, cmap, alpha))


def write_pdf(video: VideoAnalysis, path, notes: str = "", cmap: str = render.DEFAULT_COLORMAP,
              alpha: float = 0.5) -> Path:
    Path(path).write_bytes(pdf_bytes(video, notes, cmap, alpha))
    return Path(path)


def export(video: VideoAnalysis, out_dir, formats=FORMATS, notes: str = "", stem: str | None = None, *,
           cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5, batch=None,
           label: str | None = None) -> dict[str, Path]:
    """Write the chosen formats of one clip into `out_dir` -> {format: path}.

    png: contact sheet; pdf: report; json: record; csv: timeline. Names follow `report.export`
    (sanitised stem, -1, -2, ... on clashes); nothing half-written is left on failure. `batch`
    (a report.BatchReport) also receives the clip's pages, drawn once for both, listed as `label`.
    """
    formats = tuple(dict.fromkeys(f.lower() for f in formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; choose from {FORMATS}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = claim_stem(out_dir, safe_stem(stem or video.info.name, default="video"), formats)
    paths = {f: out_dir / f"{name}.{f}" for f in formats}
    document = pdf_bytes(video, notes, cmap, alpha) if ("pdf" in formats or batch is not None) else None
    writers = {"png": lambda p: write_png(video, p), "pdf": lambda p: p.write_bytes(document),
               "json": lambda p: write_json(video, p, notes), "csv": lambda p: write_csv(video, p)}
    try:
        for f, path in paths.items():
            writers[f](path)
        if batch is not None:
            batch.add_clip(video, document, label)
    except BaseException:
        for path in paths.values():
            path.unlink(missing_ok=True)
        raise
    return paths
