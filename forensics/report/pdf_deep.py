"""The deep-check page of an image's report: the judgements as coloured badges, the summaries,
the deletion curve beside the stability table, then the whole image (full coverage) beside the
reliability mask, with the tile table."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from reportlab.lib.units import inch
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import KeepTogether, PageBreak, Spacer, Table, TableStyle

from ..explain import registry
from ..explain import checks
from . import render
from ..explain.rollout import AGREEMENT_THRESHOLD, AGREEMENT_TOP_FRACTION
from ..core.preprocess import INPUT_SIZE
from .fonts import SANS_BOLD
from .pages import (FULL_WIDTH, PDF_MAX_SIDE, Box, Label, Picture, Story, Swatch, banner, colour, columns,
                    downscaled, grid_table, heading, para, plot)
from .wording import LEVEL_COLOURS, score_label


def _badge_row(items, gap=0.1) -> Table:
    """One coloured box per judgement: label above, detail below."""
    width = (FULL_WIDTH - gap * (len(items) - 1)) / len(items)
    cells, widths, style = [], [], [("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                                    ("TOPPADDING", (0, 0), (-1, -1), 0.07 * inch),
                                    ("BOTTOMPADDING", (0, 0), (-1, -1), 0.07 * inch),
                                    ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2)]
    for n, j in enumerate(items):
        if n:
            cells.append("")
            widths.append(gap * inch)
        style.append(("BACKGROUND", (len(cells), 0), (len(cells), 0), colour(LEVEL_COLOURS[j.level])))
        fit = (width * inch - 6) / stringWidth(j.label, SANS_BOLD, 8.5)   # one line: smaller if it must be
        cells.append([para(j.label, round(min(8.5, 8.5 * fit), 1), bold=True, colour_="white", align="center"),
                      para(j.detail, 6.5, colour_="white", align="center")])
        widths.append(width * inch)
    t = Table([cells], colWidths=widths, hAlign="LEFT")
    t.setStyle(TableStyle(style))
    return t


def _legend(entries, width, size=7.0) -> Table:
    """Swatches with labels, one per line: entries are ((fill, edge), text)."""
    rows = [[Swatch(fill, edge), para(label, size)] for (fill, edge), label in entries]
    t = Table(rows, colWidths=[0.3 * inch, (width - 0.3) * inch], hAlign="LEFT")
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                           ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    return t


def _coverage_panel(a, coverage, cmap, alpha, width, height) -> Picture:
    over = render.coverage_overlay(a, coverage, alpha, cmap, max_side=PDF_MAX_SIDE)
    l, t, r, b = a.geometry.crop_box_exact
    boxes = [Box(*tile.box_original, colour="white", width=0.6) for tile in coverage.tiles]
    boxes.append(Box(l, t, r, b, colour="#ffd700", width=1.0, dash=(3, 2)))
    labels = [Label((tile.box_original[0] + tile.box_original[2]) / 2, (tile.box_original[1] + tile.box_original[3]) / 2,
                    f"{tile.probability:.2f}") for tile in coverage.tiles]
    return Picture(over, width, height, extent=a.image.size, boxes=boxes, labels=labels)


def _reliability_panel(a, reliability, cmap, alpha, vmax, width, height) -> Picture:
    """The reliability overlay placed on the dimmed original, outlier tokens boxed in vector."""
    dim = (downscaled(a.image).astype(np.float32) * render.NOT_ANALYSED_DIM).astype(np.uint8)
    l, t, r, b = a.geometry.crop_box_exact
    overlay = render.reliability_overlay(a, reliability, alpha, cmap, vmax=vmax)
    boxes = []
    for row, col in zip(*np.nonzero(reliability.outliers)):
        pl, pt, pr, pb = a.geometry.input_to_original(a.geometry.patch_box_input(int(row), int(col)))
        boxes.append(Box(pl, pt, pr, pb, colour="#00ffff", width=1.0))
    boxes.append(Box(l, t, r, b, colour="white", width=1.0))
    return Picture(dim, width, height, extent=a.image.size, layers=[(overlay, (l, t, r, b))], boxes=boxes)


def _agreement_text(a) -> str:
    top = f"top-{AGREEMENT_TOP_FRACTION:.0%}"
    baseline = registry.get(registry.BASELINE).label
    if a.method_agreement is None:
        others = " or ".join(f"--method {m.name}" for m in registry.methods() if m.name != registry.BASELINE)
        return f"Method agreement: not measured (only {baseline} was run; {others} runs both)."
    return (f"Method agreement: the {top} patches of {baseline} and {registry.get(a.compared_method).label} overlap "
            f"{a.method_agreement:.2f} IoU"
            + (f", below {AGREEMENT_THRESHOLD:g}: EXPLANATION UNSTABLE, do not present either map alone."
               if a.explanation_unstable else f" ({AGREEMENT_THRESHOLD:g} or more: the methods agree)."))


def deep_page(story: Story, a, deep, judgements, cmap, alpha, vmax) -> None:
    """The deep-check page: badges, summaries, deletion curve, stability table, coverage and
    reliability pictures, the tile table."""
    f, s = deep.faithfulness, deep.stability
    story.add(PageBreak(), para("Deep checks", 14, bold=True, after=0.05))
    if a.demo:
        story.add(banner(10, pad=0.06), Spacer(1, 0.05 * inch))
    story.add(_badge_row(judgements), Spacer(1, 0.1 * inch))
    what = score_label(a).removeprefix("share of ")
    lines = [*deep.summaries(),
             f"Concentration: the strongest 10% of patches hold {a.top_share(0.1):.1%} of the {what} "
             f"(10% if spread evenly).",
             _agreement_text(a),
             f"Colour scale of the heatmaps: "
             f"{render.scale_text(a.patch_scores, 'absolute' if vmax else 'image')}."]
    story.add([para(line, 8, bullet=True) for line in lines])

    # Deletion curve (left) beside the stability table (right).
    fig = Figure(figsize=(3.6, 2.3), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    render.draw_deletion(ax, f, fontsize=7)
    ax.set_title("")  # the title is set as text above the plot: selectable, searchable
    curve = [para(f"Deletion check (AUC top {f.auc_top:.3f} vs random {f.auc_random:.3f})", 7.5, bold=True,
                  align="center"), plot(fig, 3.6)]
    rows = [["run", "P(AI)", "verdict", "flipped", "heatmap r"],
            ["original", f"{s.probability:.3f}", a.model_verdict, "-", "-"]]
    row_colours = ["black", "black"]
    for p in s.perturbations:
        bad = p.flipped or p.heatmap_correlation < checks.FRAGILE_CORRELATION  # this run makes it fragile
        rows.append([p.name, f"{p.probability:.3f}", p.verdict, "YES" if p.flipped else "no",
                     f"{p.heatmap_correlation:.2f}"])
        row_colours.append(LEVEL_COLOURS["bad"] if bad else "black")
    x = 3.8
    right = [grid_table(rows, [0.95, 0.45, 0.85, 0.5, 0.6], size=7.5, mono_cols={0, 1, 2, 3, 4},
                        right_cols={1, 4}, colours=row_colours), Spacer(1, 0.08 * inch)]
    for note in (f"Fragile when a re-run flips the verdict or its heatmap correlates below "
                 f"{checks.FRAGILE_CORRELATION:g} with this one (Pearson, in original pixels, over the region "
                 "both runs analysed).",
                 f"Deletion: the strongest k% of patches, or as many random ones (seeded), are set to the "
                 f"image's mean colour and the model re-runs. Faithful when the strongest move P at least "
                 f"{checks.FAITHFUL_RATIO:g}\u00d7 as much as random ones and by {checks.FAITHFUL_MIN_AUC:g} or more "
                 "(area under |\u0394P|, averaged over k). Mean-filling is itself unusual input; the random curve "
                 "is the baseline."):
        right.append(para(note, 7, colour_="0.25"))
    story.add(KeepTogether([*heading("Faithfulness (deletion check) and stability (innocent re-runs)"),
                            columns([curve, right], [x, FULL_WIDTH - x], gap_after=0.1)]))
    story.add(_whole_image(a, deep, cmap, alpha, vmax))


def _whole_image(a, deep, cmap, alpha, vmax) -> KeepTogether:
    """Full coverage beside the reliability mask (one above the other for wide images), the tile
    table under the coverage picture; moved to a new page as a whole when it does not fit."""
    c, r = deep.coverage, deep.reliability
    gap = 0.3
    col_w = (FULL_WIDTH - gap) / 2
    aspect = a.image.height / a.image.width
    stacked = aspect < 0.45                 # panoramas: each picture gets the full width
    width = FULL_WIDTH if stacked else col_w
    ph = min(2.2 if stacked else 2.9, width * aspect)
    pw = ph / aspect

    cov_title = (f"Full coverage: {len(c.tiles)} tiles, P(AI) by {c.aggregation} {c.probability:.2f}"
                 if c is not None else "Full coverage not run")
    if c is not None:
        left = [para(cov_title, 8, bold=True, after=0.05), _coverage_panel(a, c, cmap, alpha, pw, ph),
                Spacer(1, 0.06 * inch),
                para(f"White boxes: the overlapping {INPUT_SIZE}-pixel tiles, each labelled with its P(AI); dashed "
                     "gold: the centre crop behind the verdict. Stitched heatmap scaled to its own maximum.", 7,
                     colour_="0.25", after=0.05),
                _tile_table(c, width)]
    else:
        left = [para(cov_title, 8, bold=True, after=0.05),
                para(f"Not run: {deep.coverage_error}", 8, colour_=LEVEL_COLOURS["warn"])]
    weak = _count(r.weak.sum(), "patch", "patches")
    right = [para("Reliability mask on the analysed crop", 8, bold=True, after=0.05),
             _reliability_panel(a, r, cmap, alpha, vmax, pw, ph), Spacer(1, 0.06 * inch),
             _legend([(("#a3a3a3", None), f"grey: flat or clipped \u2014 weak evidence ({weak})"),
                      (("#404040", "#00ffff"), f"cyan boxes: high-norm outlier tokens ({int(r.outliers.sum())})"),
                      (("#2e2e2e", None), "dimmed: outside the analysed crop (white box)")], width)]
    body = ([*left, Spacer(1, 0.1 * inch), *right] if stacked
            else [columns([left, right], [col_w + gap, col_w])])
    return KeepTogether([*heading("Whole image (full coverage) and weak evidence (reliability)"), *body])


def _count(n, one: str, many: str) -> str:
    return f"{int(n)} {one if int(n) == 1 else many}"


def _tile_table(coverage, width) -> Table:
    """Tile number, box in original pixels and P(AI), in as many columns as fit `width`."""
    size = 6.5
    boxes = ["({}, {}, {}, {})".format(*tile.box_original) for tile in coverage.tiles]
    rows = [[str(n), box, f"{tile.probability:.3f}"] for n, (box, tile) in enumerate(zip(boxes, coverage.tiles), 1)]
    box_w = max(len("tile box (l, t, r, b)"), *map(len, boxes)) * 0.6 * size / 72 + 0.1  # DejaVu Mono: 0.6 em
    widths = [0.22, box_w, 0.42]
    block = sum(widths) + 0.15
    cols = max(1, min(len(rows), int(width // block)))
    per_col = -(-len(rows) // cols)
    head = ["#", "tile box (l, t, r, b)", "P(AI)"]
    table = [head * cols]
    for i in range(per_col):
        line = []
        for k in range(cols):
            n = k * per_col + i
            line += rows[n] if n < len(rows) else ["", "", ""]
        table.append(line)
    mono = set(range(3 * cols))
    return grid_table(table, (widths[:2] + [widths[2] + 0.15]) * cols, size=size, mono_cols=mono,
                      right_cols={3 * k for k in range(cols)} | {3 * k + 2 for k in range(cols)})
