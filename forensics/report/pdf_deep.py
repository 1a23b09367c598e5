"""The deep-check page of an image's report: the judgements as coloured badges, the summaries,
the deletion curve beside the stability table, then the whole image (full coverage) beside the
reliability mask, with the tile table."""
from __future__ import annotations

import numpy as np
from matplotlib.patches import Rectangle

from ..explain import checks
from . import render
from ..explain.rollout import AGREEMENT_THRESHOLD, AGREEMENT_TOP_FRACTION
from ..core.preprocess import INPUT_SIZE
from .pages import A4, BOTTOM, FULL_WIDTH, MARGIN, PDF_MAX_SIDE, Pages, downscaled, text
from .wording import LEVEL_COLOURS, score_label


def _badge_row(page: Pages, items, height=0.52, gap=0.1) -> None:
    """One coloured box per judgement: label above, detail below."""
    page.room(height + 0.1)
    width = (FULL_WIDTH - gap * (len(items) - 1)) / len(items)
    for n, j in enumerate(items):
        left = MARGIN + n * (width + gap)
        page.fig.patches.append(Rectangle((left / A4[0], page.fy(page.y + height)), width / A4[0],
                                          height / A4[1], transform=page.fig.transFigure, zorder=0,
                                          color=LEVEL_COLOURS[j.level]))
        centre = (left + width / 2) / A4[0]
        text(page.fig, centre, page.fy(page.y + 0.19), j.label, ha="center", va="center", color="white",
             fontsize=8.5, fontweight="bold")
        text(page.fig, centre, page.fy(page.y + 0.38), j.detail, ha="center", va="center", color="white",
             fontsize=6.5)
    page.y += height + 0.12


def _legend(page: Pages, x, entries, size=7.0) -> None:
    """Swatches with labels, one per line, at the cursor: entries are (Patch keywords, text)."""
    step = size * 1.55 / 72
    for style, label in entries:
        page.room(step)
        page.fig.patches.append(Rectangle((x / A4[0], page.fy(page.y + step * 0.8)), 0.22 / A4[0],
                                          step * 0.7 / A4[1], transform=page.fig.transFigure, **style))
        text(page.fig, (x + 0.3) / A4[0], page.fy(page.y + step * 0.45), label, va="center", fontsize=size)
        page.y += step


def _coverage_panel(ax, a, coverage, cmap, alpha) -> None:
    over = render.coverage_overlay(a, coverage, alpha, cmap, max_side=PDF_MAX_SIDE)
    ax.imshow(over, interpolation="none")
    s = over.shape[1] / a.image.width
    l, t, r, b = a.geometry.crop_box_exact
    ax.add_patch(Rectangle((l * s - 0.5, t * s - 0.5), (r - l) * s, (b - t) * s, fill=False, ec="#ffd700",
                           lw=1.0, ls="--"))
    for tile in coverage.tiles:
        l, t, r, b = tile.box_original
        ax.add_patch(Rectangle((l * s - 0.5, t * s - 0.5), (r - l) * s, (b - t) * s, fill=False, ec="white",
                               lw=0.6, alpha=0.9))
        ax.text((l + r) / 2 * s, (t + b) / 2 * s, f"{tile.probability:.2f}", ha="center", va="center",
                fontsize=6, parse_math=False, bbox=dict(boxstyle="round,pad=0.15", fc="white", alpha=0.85, lw=0))
    ax.set_axis_off()


def _reliability_panel(ax, a, reliability, cmap, alpha, vmax) -> None:
    """The reliability overlay placed on the dimmed original, outlier tokens boxed in vector."""
    w, h = a.image.size
    dim = (downscaled(a.image).astype(np.float32) * render.NOT_ANALYSED_DIM).astype(np.uint8)
    ax.imshow(dim, extent=(0, w, h, 0), interpolation="none")
    l, t, r, b = a.geometry.crop_box_exact
    ax.imshow(render.reliability_overlay(a, reliability, alpha, cmap, vmax=vmax), extent=(l, r, b, t),
              interpolation="none")
    for row, col in zip(*np.nonzero(reliability.outliers)):
        pl, pt, pr, pb = a.geometry.input_to_original(a.geometry.patch_box_input(int(row), int(col)))
        ax.add_patch(Rectangle((pl, pt), pr - pl, pb - pt, fill=False, ec="#00ffff", lw=1.0))
    ax.add_patch(Rectangle((l, t), r - l, b - t, fill=False, ec="white", lw=1.0))
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_axis_off()


def _agreement_text(a) -> str:
    top = f"top-{AGREEMENT_TOP_FRACTION:.0%}"
    if a.method_agreement is None:
        return "Method agreement: not measured (only attention rollout was run; --method grad-rollout runs both)."
    return (f"Method agreement: the {top} patches of attention rollout and grad-rollout overlap "
            f"{a.method_agreement:.2f} IoU"
            + (f", below {AGREEMENT_THRESHOLD:g}: EXPLANATION UNSTABLE, do not present either map alone."
               if a.explanation_unstable else f" ({AGREEMENT_THRESHOLD:g} or more: the methods agree)."))


def deep_page(page: Pages, a, deep, judgements, cmap, alpha, vmax) -> None:
    """The deep-check page: badges, summaries, deletion curve, stability table, coverage and
    reliability pictures, the tile table."""
    f, s = deep.faithfulness, deep.stability
    page.new_page()
    page.lines(["Deep checks"], 14, fontweight="bold")
    if a.demo:
        page.y += 0.03
        page.banner(0.32, size=10)
        page.y += 0.4
    page.y += 0.05
    _badge_row(page, judgements)
    what = score_label(a).removeprefix("share of ")
    lines = [*deep.summaries(),
             f"Concentration: the strongest 10% of patches hold {a.top_share(0.1):.1%} of the {what} "
             f"(10% if spread evenly).",
             _agreement_text(a),
             f"Colour scale of the heatmaps: "
             f"{render.scale_text(a.patch_scores, 'absolute' if vmax else 'image')}."]
    for line in lines:
        page.para(line, 8, bullet="\u2022 ")

    # Deletion curve (left) beside the stability table (right).
    page.heading("Faithfulness (deletion check) and stability (innocent re-runs)")
    h = 2.0
    page.room(h + 0.5)
    top = page.y + 0.2
    page.y = top
    render.draw_deletion(page.axes(MARGIN + 0.45, 2.95, h), f, fontsize=7)
    x, width = MARGIN + 3.8, FULL_WIDTH - 3.8
    page.y = top - 0.2
    table = [f"{'run':<14}{'P(AI)':>6}  {'verdict':<13}{'flipped':<8}{'heatmap r':>9}",
             f"{'original':<14}{s.probability:6.3f}  {a.verdict:<13}{'-':<8}{'-':>9}"]
    page.lines(table[:1], 7.5, x=x, family="monospace", fontweight="bold")
    page.lines(table[1:], 7.5, x=x, family="monospace")
    for p in s.perturbations:
        bad = p.flipped or p.heatmap_correlation < checks.FRAGILE_CORRELATION  # this run makes it fragile
        page.lines([f"{p.name:<14}{p.probability:6.3f}  {p.verdict:<13}{'YES' if p.flipped else 'no':<8}"
                    f"{p.heatmap_correlation:9.2f}"], 7.5, x=x, family="monospace",
                   color=LEVEL_COLOURS["bad"] if bad else "black")
    page.y += 0.08
    for note in (f"Fragile when a re-run flips the verdict or its heatmap correlates below "
                 f"{checks.FRAGILE_CORRELATION:g} with this one (Pearson, in original pixels, over the region "
                 "both runs analysed).",
                 f"Deletion: the strongest k% of patches, or as many random ones (seeded), are set to the "
                 f"image's mean colour and the model re-runs. Faithful when the strongest move P at least "
                 f"{checks.FAITHFUL_RATIO:g}\u00d7 as much as random ones and by {checks.FAITHFUL_MIN_AUC:g} or more "
                 "(area under |\u0394P|, averaged over k). Mean-filling is itself unusual input; the random curve "
                 "is the baseline."):
        page.para(note, 7, x=x, width=width, color="0.25")
    page.y = max(page.y, top + h + 0.45)

    _whole_image(page, a, deep, cmap, alpha, vmax)


def _whole_image(page: Pages, a, deep, cmap, alpha, vmax) -> None:
    """Full coverage beside the reliability mask (one above the other for wide images), the tile
    table under the coverage picture; moved to a new page as a whole when it does not fit."""
    c, r = deep.coverage, deep.reliability
    gap = 0.3
    col_w = (FULL_WIDTH - gap) / 2
    aspect = a.image.height / a.image.width
    stacked = aspect < 0.45                 # panoramas: each picture gets the full width
    width = FULL_WIDTH if stacked else col_w
    caption, legend, title, head = (0.42 if stacked else 0.5), 0.5, 0.22, 0.35
    table = _tile_table(page, c, width, measure=True) if c is not None else 0.0

    def panel_height(y):                     # what the pictures can have below cursor y
        if stacked:
            return (BOTTOM - y - head - 2 * title - caption - table - legend - 0.22) / 2
        return BOTTOM - y - head - title - max(caption + table, legend) - 0.06

    wanted = min(2.2 if stacked else 2.9, width * aspect)
    if panel_height(page.y) < (0.6 * wanted if stacked else min(wanted, 1.6)):
        page.new_page()
    ph = max(0.2, min(wanted, panel_height(page.y)))
    pw = min(width, ph / aspect)
    ph = pw * aspect

    page.heading("Whole image (full coverage) and weak evidence (reliability)")
    cov_title = (f"Full coverage: {len(c.tiles)} tiles, P(AI) by {c.aggregation} {c.probability:.2f}"
                 if c is not None else "Full coverage not run")
    rel_title = "Reliability mask on the analysed crop"
    right = MARGIN if stacked else MARGIN + col_w + gap

    def titled(x, label):
        text(page.fig, x / A4[0], page.fy(page.y), label, va="top", fontsize=8, fontweight="bold")
        page.y += title

    top = page.y
    titled(MARGIN, cov_title)
    if not stacked:
        page.y = top
        titled(right, rel_title)
    pictures, fig = page.y, page.fig
    if c is not None:
        _coverage_panel(page.axes(MARGIN, pw, ph), a, c, cmap, alpha)
        page.y += ph + 0.06
        page.para(f"White boxes: the overlapping {INPUT_SIZE}-pixel tiles, each labelled with its P(AI); dashed gold: "
                  "the centre crop behind the verdict. Stitched heatmap scaled to its own maximum.", 7,
                  width=width, color="0.25")
        page.y += 0.05
        _tile_table(page, c, width)
    else:
        page.para(f"Not run: {deep.coverage_error}", 8, width=width, color=LEVEL_COLOURS["warn"])
    if stacked:
        page.y += 0.1
        titled(MARGIN, rel_title)
        pictures = page.y
    left_end, left_page = page.y, page.fig
    page.y = pictures
    if not stacked:
        page.fig = fig  # beside the coverage picture, even if the tile table ran onto a new page
    _reliability_panel(page.axes(right, pw, ph), a, r, cmap, alpha, vmax)
    page.y += ph + 0.06
    weak = _count(r.weak.sum(), "patch", "patches")
    _legend(page, right, [
        (dict(color="#a3a3a3"), f"grey: flat or clipped \u2014 weak evidence ({weak})"),
        (dict(fc="#404040", ec="#00ffff", lw=1.5), f"cyan boxes: high-norm outlier tokens ({int(r.outliers.sum())})"),
        (dict(color="#2e2e2e"), "dimmed: outside the analysed crop (white box)"),
    ])
    page.fig = left_page
    page.y = (left_end if left_page is not fig else max(page.y, left_end)) + 0.05


def _count(n, one: str, many: str) -> str:
    return f"{int(n)} {one if int(n) == 1 else many}"


def _tile_table(page: Pages, coverage, width, measure: bool = False) -> float:
    """Tile number, box in original pixels and P(AI), in as many columns as fit `width`;
    returns its height in inches (and draws nothing when `measure`)."""
    size = 6.5
    boxes = ["({}, {}, {}, {})".format(*tile.box_original) for tile in coverage.tiles]
    bw = max(len("tile box (l, t, r, b)"), *map(len, boxes))
    rows = [f"{n:>2} {box:<{bw}}  {tile.probability:5.3f}"
            for n, (box, tile) in enumerate(zip(boxes, coverage.tiles), 1)]
    col_w = (bw + 10) * 0.6 * size / 72 + 0.2  # DejaVu Sans Mono advance: 0.6 em
    cols = max(1, min(len(rows), int(width // col_w)))
    per_col = -(-len(rows) // cols)
    height = (per_col + 1) * size * 1.4 / 72
    if measure:
        return height
    page.room(height)
    top, ends = page.y, []
    for k in range(0, len(rows), per_col):
        page.y = top
        x = MARGIN + (k // per_col) * col_w
        page.lines([f"{'#':>2} {'tile box (l, t, r, b)':<{bw}}  {'P(AI)':>5}"], size, x=x, family="monospace",
                   fontweight="bold")
        page.lines(rows[k:k + per_col], size, x=x, family="monospace")
        ends.append(page.y)
    page.y = max(ends)
    return height
