"""An image's report pages: verdict, caveats, the three pictures, the strongest patches, the
limits, provenance and the analyst's notes; with a deep check, its page follows (`pdf_deep`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, Spacer

from .._version import __version__
from ..explain import checks, registry
from . import render
from ..explain.rollout import AGREEMENT_TOP_FRACTION
from .fonts import markup
from .names import display_name, printable
from .pages import (FULL_WIDTH, PDF_MAX_SIDE, Box, Picture, ScoreGrid, Story, banner, columns, downscaled,
                    grid_table, heading, para, pdf_document, plot, style)
from .pdf_deep import deep_page
from .scan_figure import draw_local_scan, scan_legend
from .provenance import metadata_rows
from .records import method_agreement, reproduce_command, software_versions
from .wording import (LEVEL_COLOURS, ROBUSTNESS_MEANING, VERDICT_COLOURS, WARNING_COLOUR, before_verdict, caveats,
                      LOCAL_SCAN_LIMIT, condition_lines, deep_headline, likelihood_line, limits, probability_line,
                      reason_lines)

PANEL_WIDTH = 2.3      # inches: the original and the heatmap
PANEL_MAX_HEIGHT = 1.9  # inches: a tall image's panels (the page must keep room for the limits above)
GRID_SIDE = 1.45       # inches: the 24x24 grid (its ticks and colour bar beside it)


def _panels(a, cmap, alpha, vmax=None) -> list:
    """Original with the analysed crop, heatmap on the original, the 24x24 grid with its colour bar."""
    orig = downscaled(a.image)
    h = min(PANEL_MAX_HEIGHT, PANEL_WIDTH * orig.shape[0] / orig.shape[1])  # image panels keep the aspect
    w = h * orig.shape[1] / orig.shape[0]
    over = render.overlay_original(a, alpha=alpha, cmap=cmap, max_side=PDF_MAX_SIDE, vmax=vmax)
    l, t, r, b = a.geometry.crop_box_exact
    original = Picture(orig, w, h, extent=a.image.size, boxes=[Box(l, t, r, b)])
    titles = ["Original (white box: analysed crop)", "Heatmap on the original",
              "24\u00d724 patch scores (%" + (", absolute scale)" if vmax else ")")]
    widths = [2.42, 2.5, FULL_WIDTH - 4.92]
    head = columns([para(t, 8, bold=True) for t in titles], widths, gap_after=0.04)
    body = columns([original, Picture(over, w, h), ScoreGrid(a, cmap, vmax, GRID_SIDE)], widths)
    return [head, body, Spacer(1, 0.1 * inch)]


def _model_limits(a, robustness=None):
    """The model's limits (`wording.before_verdict`) in two columns of small bullets, so they fit
    above the verdict."""
    return _two_columns(before_verdict(limits(a, robustness)), 6.8)


def _two_columns(lines, size: float, colour_=None):
    """Small bullets in two columns, split in reading order where the longer column is shortest."""
    sizes = [len(line) for line in lines]
    k = min(range(1, len(lines) + 1), key=lambda k: max(sum(sizes[:k]), sum(sizes[k:])))
    colour = {} if colour_ is None else {"colour_": colour_}
    left = [para(line, size, bullet=True, **colour) for line in lines[:k]]
    right = [para(line, size, bullet=True, **colour) for line in lines[k:]]
    gap = 0.15
    return columns([left, right], [(FULL_WIDTH - gap) / 2 + gap, (FULL_WIDTH - gap) / 2])


def _provenance(a, deep=None, color_scale: str = "image") -> list[tuple[str, str]]:
    i, m = a.input, a.model
    l, t, r, b = a.crop_box
    pre = a.preprocessing.describe()
    rev = "none (demo)" if m.demo else (m.revision or "none (local folder)")
    agreement = method_agreement(a)
    return [
        ("File", display_name(i.name, 90)),
        ("SHA-256", (i.sha256 or "none (in-memory image)")
         + (f"  ({i.num_bytes:,} bytes)" if i.num_bytes is not None else "  (in-memory image: size unknown)")),
        ("Image", f"{i.format or '?'}, {i.width}\u00d7{i.height} px upright, mode {i.mode}, frames {i.frames}, "
                  f"EXIF orientation {i.exif_orientation}, ICC profile {'yes' if i.has_icc_profile else 'no'}"
                  + (", alpha flattened onto white" if i.alpha_flattened else "")),
        ("Analysed region", f"({l}, {t})\u2013({r}, {b}) in original pixels, {a.coverage:.1%} of the area"),
        ("Model", f"{display_name(m.source, 120)}, revision {rev}"),
        ("Weights SHA-256", (m.weights_sha256 or "none") + ("  (pinned release)" if m.pinned else "")),
        ("Preprocessing", ", ".join(f"{k} {v}" for k, v in pre.items())),
        ("Method", f"{a.method}, head fusion {a.head_fusion}, discard ratio {a.discard_ratio:g}"
                   + ("" if agreement is None else
                      f"; agreement with the other method {agreement:.2f} "
                      f"(top-{AGREEMENT_TOP_FRACTION:.0%} IoU)")),
        ("Colour scale", render.scale_text(a.patch_scores, color_scale)),
        ("Software", ", ".join(f"{k} {v}" for k, v in software_versions().items())),
        ("Created (UTC)", a.created_utc),
        ("Reproduce", reproduce_command(a, deep=deep is not None, color_scale=color_scale)),
    ]


def pdf_figures(analysis, notes: str = "", cmap: str = render.DEFAULT_COLORMAP,
                alpha: float = 0.5, deep=None, color_scale: str = "image",
                redact_location: bool = False, robustness=None) -> Story:
    """The report pages of one image as a `Story`: one page (more if the notes are long), with
    `robustness` the delivery-path grid, and with `deep` a deep-check page after it.

    The model's limits come first, before the verdict and its colour: a reviewer who reads only
    this page meets what the detector cannot tell before what it said."""
    a = analysis = analysis.with_robustness(robustness)
    robustness = a.robustness
    vmax = render.scale_vmax(color_scale)
    title = f"Image forensic report: {display_name(a.input.name, 55)}"
    story = Story(f"Forensic report: {a.input.name or 'image'}",
                  f"{display_name(a.input.name, 50)}  \u00b7  sha256 {(a.input_sha256 or 'none')[:12]}  "
                  f"\u00b7  forensics {__version__}",
                  subject=f"sha256 {a.input_sha256 or 'none (in-memory image)'}",
                  keywords=f"sha256:{a.input_sha256 or 'none'}, {a.verdict}, forensics {__version__}",
                  continued=f"{title} (continued)")
    story.add(para(title, 14, bold=True, after=0.06))
    if a.demo:
        story.add(banner(13), Spacer(1, 0.08 * inch))
    story.add(para("Read first: what this detector cannot tell", 9, bold=True, after=0.02))
    story.add(_model_limits(a, robustness), Spacer(1, 0.04 * inch))
    story.add(para(a.verdict_text, 13, bold=True, colour_=VERDICT_COLOURS[a.verdict]),
              para(probability_line(a), 9.5))
    for line in reason_lines(a):
        story.add(para(line, 8.5, bold=True, bullet=True, colour_=VERDICT_COLOURS[a.verdict]))
    if a.likelihood_ratio is not None:  # the weight of the evidence, in the ENFSI words, under P
        story.add(para(likelihood_line(a), 8.5, bold=True))
    judgements = None if deep is None else checks.judgements(a, deep)
    if judgements is not None:
        headline, colour = deep_headline(judgements)
        story.add(para(headline, 8.5, bold=True, colour_=colour))
    # the conditions outside the validated domain and the caveats, side by side when there are several
    remarks = condition_lines(a) + caveats(a) + ([] if a.likelihood_ratio is not None else [likelihood_line(a, short=True)])
    if len(remarks) > 1:
        story.add(_two_columns(remarks, 7.0, WARNING_COLOUR))
    elif remarks:
        story.add(para(remarks[0], 8.5, bullet=True, colour_=WARNING_COLOUR))
    story.add(Spacer(1, 0.1 * inch), *_panels(a, cmap, alpha, vmax))

    # Left: the strongest patches; right: what the result can and cannot say.
    rows = [["rank", "row", "col", "box in original (l, t, r, b)", "share"]]
    for p in a.top_patches(10):
        rows.append([str(p["rank"]), str(p["row"]), str(p["col"]), "({}, {}, {}, {})".format(*p["box_original"]),
                     f"{p['share_percent']:5.2f}%"])
    left = [*heading("Strongest 10 patches"),
            grid_table(rows, [0.38, 0.3, 0.3, 1.95, 0.62], mono_cols={0, 1, 2, 3, 4}, right_cols={0, 1, 2, 4})]
    right = [*heading("What this map can and cannot say")]
    right += [para(registry.get(a.method).limit, 7.5, bullet=True)]  # the model's limits are above
    if not a.model.pinned and not a.demo:
        right.append(para("These are not the pinned Community Forensics weights; the facts above describe "
                          "the published model.", 7.5, bullet=True, colour_=WARNING_COLOUR))
    story.add(columns([left, right], [3.65, FULL_WIDTH - 3.65], gap_after=0.05))

    story.add(heading("Provenance"))
    mono = {"SHA-256", "Weights SHA-256", "Reproduce"}
    rows = [[key, printable(value)] for key, value in [*_provenance(a, deep, color_scale),
                                                      *metadata_rows(a, redact_location)]]
    story.add(_provenance_table(rows, mono))
    if notes.strip():
        story.add(heading("Analyst notes"), para(notes.strip(), 9))
    else:  # one line, not a heading over "(none)": the page keeps its room for the evidence
        story.add(para("Analyst notes: (none)", 9, bold=True))
    if robustness is not None:
        robustness_section(story, robustness)
    if a.local_scan is not None:
        local_scan_section(story, a)
    if deep is not None:
        deep_page(story, a, deep, judgements, cmap, alpha, vmax)
    return story


def local_scan_section(story: Story, a) -> None:
    """The local scan: the P map over the original with the hotspots boxed, and the hotspots' table."""
    scan = a.local_scan
    story.add(*heading("Local scan at native resolution: is one region AI-generated?"))
    story.add(para(scan.summary, 8.5, bold=True, colour_=VERDICT_COLOURS["ai-generated" if scan.called else "real"]))
    picture = np.asarray(draw_local_scan(a.image, scan, max_side=PDF_MAX_SIDE))
    legend = np.asarray(scan_legend(picture.shape[1]))
    side = min(FULL_WIDTH * 0.8, 4.2 * picture.shape[1] / picture.shape[0])
    story.add(Picture(picture, side, side * picture.shape[0] / picture.shape[1]),
              Picture(legend, side, side * legend.shape[0] / legend.shape[1]))
    rows = [["#", "box in original (l, t, r, b)", "P(AI-generated)", "windows"]]
    rows += [[str(n), "({}, {}, {}, {})".format(*(int(v) for v in h.box)), f"{h.fake_probability:.3f}", str(len(h.tiles))]
             for n, h in enumerate(scan.hotspots, start=1)]
    if len(rows) > 1:
        story.add(grid_table(rows, [0.3, 2.4, 1.2, 0.8], mono_cols={0, 1, 2, 3}, right_cols={0, 2, 3}))
    story.add(para(f"{len(scan.tiles)} windows of {scan.window}x{scan.window} px at native resolution, stride "
                   f"{scan.stride} px, the last row and column flush with the edges; each map cell shows the "
                   "highest P of the windows covering it. " + " ".join(scan.notes), 7.5))
    story.add(para(LOCAL_SCAN_LIMIT, 7.5, colour_=WARNING_COLOUR))


def robustness_section(story: Story, rob) -> None:
    """Does the verdict survive re-encoding? The quality x size grid, its judgement and numbers."""
    j = checks.robustness_judgement(rob)
    story.add(*heading("Does the verdict survive re-encoding?"))
    story.add(para(f"{j.label}: {rob.summary}", 8.5, bold=True, colour_=LEVEL_COLOURS[j.level]))
    story.add(plot(render.robustness_figure(rob), FULL_WIDTH * 0.8))
    sizes = ", ".join(str(s) for s in rob.sizes if s is not None) or "none"
    qualities = ", ".join(str(q) for q in rob.qualities if q is not None)
    story.add(para(f"Each cell: P(AI-generated) and the verdict (AI, real, ? = inconclusive); * marks a verdict "
                   f"that differs from the file's own. {len(rob.variants)} copies: the image as given and re-sized "
                   f"(Pillow LANCZOS) to a long edge of {sizes} px (only sizes below its own "
                   f"{rob.original_long_edge} px), each kept as it is or re-encoded as JPEG at quality {qualities}, "
                   "then analysed again. The verdict holds in "
                   f"{rob.holds:.0%}; P(AI-generated) {rob.lowest_probability:.3f}\u2013{rob.highest_probability:.3f} "
                   f"against {rob.probability:.3f} for the file as given. {ROBUSTNESS_MEANING}", 7.5))


def _provenance_table(rows, mono):
    """Key in bold, value beside it (monospace for hashes and the command)."""
    cells = [[Paragraph(markup(k), style(7.5, bold=True, leading=1.25)),
              Paragraph(markup(v), style(7.5, mono=k in mono, leading=1.25))] for k, v in rows]
    return grid_table(cells, [1.25, FULL_WIDTH - 1.25], header=False)


def pdf_bytes(story: Story, analysis=None) -> bytes:
    """An image's report pages as one PDF document in memory (the CLI writes it twice: its own
    file and its pages in the batch report)."""
    return pdf_document(story)


def write_pdf(analysis, path, notes: str = "", cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5, *,
              deep=None, color_scale: str = "image") -> Path:
    Path(path).write_bytes(pdf_bytes(pdf_figures(analysis, notes, cmap, alpha, deep, color_scale), analysis))
    return Path(path)
