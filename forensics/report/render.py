"""Pictures of an Analysis: heatmaps on the model input and on the original, the patch grid.

Pure numpy / OpenCV / matplotlib on arrays; nothing here knows about the model.
"""
from __future__ import annotations

import functools

import cv2
import matplotlib
import numpy as np
from PIL import Image

matplotlib.use("Agg")  # no display on servers; must precede pyplot users
from matplotlib import colormaps  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..explain import registry  # noqa: E402
from ..core.preprocess import GRID, INPUT_SIZE, PATCH_SIZE  # noqa: E402

# All but turbo are perceptually uniform with lightness rising monotonically (matplotlib's
# "Choosing Colormaps"), so the ranking of patches reads the same under every colour-vision
# deficiency: inferno, the default, is tested so under simulated deficiencies
# (tests/test_accessibility.py); cividis was designed for it (Nuñez et al., PLOS ONE 2018).
COLORMAPS = ("inferno", "viridis", "cividis", "magma", "turbo")
DEFAULT_COLORMAP = "inferno"
DISPLAY_MAX_SIDE = 1600  # originals larger than this are shown downscaled
# Large originals are shrunk by whole factors first, then resampled (Pillow's reducing_gap): about
# 4x faster on a 12 MP photo, no visible difference. Pictures for people only, never model input.
DISPLAY_REDUCING_GAP = 2.0
NOT_ANALYSED_DIM = 0.35  # brightness kept outside the analysed crop
_DIM_LUT = (np.arange(256, dtype=np.float32) * np.float32(NOT_ANALYSED_DIM)).astype(np.uint8)


def heat_grid(scores: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """(24, 24) patch scores -> (24, 24) float32 in [0, 1]; per-image max unless `vmax` given."""
    top = float(vmax) if vmax else float(scores.max())
    return np.clip(scores / top, 0.0, 1.0).astype(np.float32) if top > 0 else np.zeros_like(scores, np.float32)


def upsample(grid: np.ndarray, size: int | tuple[int, int] = INPUT_SIZE, smooth: bool = False) -> np.ndarray:
    """(24, 24) -> (H, W) float32. Nearest keeps each patch a crisp 16x16 block."""
    w, h = (size, size) if isinstance(size, int) else size
    interp = cv2.INTER_LINEAR if smooth else cv2.INTER_NEAREST
    return cv2.resize(grid.astype(np.float32), (w, h), interpolation=interp)


@functools.lru_cache(maxsize=16)
def _lut(cmap: str) -> np.ndarray:
    """The colour map as a (256, 1, 3) uint8 table for cv2.LUT, built once per map."""
    if cmap not in colormaps:
        raise ValueError(f"unknown colormap {cmap!r}; try one of {COLORMAPS}")
    return (colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8).reshape(256, 1, 3)


def colorize(heat: np.ndarray, cmap: str = DEFAULT_COLORMAP) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) uint8 RGB."""
    lut = _lut(cmap)
    index = np.clip(np.rint(heat * 255), 0, 255).astype(np.uint8)
    if index.ndim != 2 or index.size == 0:
        return lut[index, 0]
    return cv2.LUT(cv2.merge([index, index, index]), lut)  # a table look-up per channel, in C


def blend(rgb: np.ndarray, heat_rgb: np.ndarray, alpha: float) -> np.ndarray:
    return cv2.addWeighted(heat_rgb, float(alpha), rgb, 1.0 - float(alpha), 0.0)


def overlay_input(analysis, alpha: float = 0.5, cmap: str = DEFAULT_COLORMAP,
                  smooth: bool = False, vmax: float | None = None) -> np.ndarray:
    """Heatmap over the 384x384 model input, (384, 384, 3) uint8."""
    base = np.asarray(analysis.model_input, dtype=np.uint8)
    heat = upsample(heat_grid(analysis.patch_scores, vmax), INPUT_SIZE, smooth)
    return blend(base, colorize(heat, cmap), alpha)


def display_scale(size: tuple[int, int], max_side: int | None = DISPLAY_MAX_SIDE) -> float:
    return min(1.0, max_side / max(size)) if max_side else 1.0


def overlay_original(analysis, alpha: float = 0.5, cmap: str = DEFAULT_COLORMAP,
                     smooth: bool = False, vmax: float | None = None,
                     max_side: int | None = DISPLAY_MAX_SIDE, outline: bool = True) -> np.ndarray:
    """Heatmap mapped onto the original image; the area the model never saw is dimmed.

    Returns (H, W, 3) uint8, downscaled so the longest side is at most `max_side`.
    """
    scale = display_scale(analysis.image.size, max_side)
    width, height = (max(1, round(s * scale)) for s in analysis.image.size)
    base = np.asarray(analysis.image.resize((width, height), Image.BILINEAR, reducing_gap=DISPLAY_REDUCING_GAP) if scale < 1 else analysis.image,
                      dtype=np.uint8)
    heat_in = upsample(heat_grid(analysis.patch_scores, vmax), INPUT_SIZE, smooth)
    # Input pixel (x, y) -> display pixel: an axis-aligned affine map from the crop geometry.
    g = analysis.geometry
    sx, sy = g.scale
    matrix = np.float32([[sx * scale, 0, g.crop_offset[0] * sx * scale],
                         [0, sy * scale, g.crop_offset[1] * sy * scale]])
    flags = cv2.INTER_LINEAR if smooth else cv2.INTER_NEAREST
    heat = cv2.warpAffine(heat_in, matrix, (width, height), flags=flags, borderValue=0)
    seen = cv2.warpAffine(np.ones(heat_in.shape, np.uint8), matrix, (width, height), flags=cv2.INTER_NEAREST,
                          borderValue=0)
    out = cv2.LUT(base, _DIM_LUT)                   # = (base * NOT_ANALYSED_DIM) truncated, as uint8
    # An axis-aligned map: the seen pixels form one rectangle; blend only inside it.
    rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    if rows.size:
        inside = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        out[inside] = blend(base[inside], colorize(heat[inside], cmap), alpha)
    if outline:
        l, t, r, b = (round(v * scale) for v in g.crop_box_exact)
        thickness = max(1, round(max(width, height) / 400))
        cv2.rectangle(out, (l, t), (min(r, width) - 1, min(b, height) - 1), (255, 255, 255), thickness)
        if getattr(g, "region", None) is not None:  # a region analysis: the region asked for, too
            out = draw_boxes(out, [g.region], REGION_COLOUR, scale)
    return out


# -- regions and faces: outlines on the original ----------------------------------------------

REGION_COLOUR = (0, 255, 255)  # cyan: the region asked for (white: the square the model saw)
FACE_COLOUR = (255, 200, 0)    # amber: detected faces


def draw_boxes(rgb: np.ndarray, boxes, colour=REGION_COLOUR, scale: float = 1.0,
               labels=None, thickness: int | None = None) -> np.ndarray:
    """A copy of (H, W, 3) uint8 `rgb` with each (left, top, right, bottom) box outlined.

    Boxes are in original pixels; `scale` is display pixels per original pixel (the image given
    is the original shown at that scale). `labels`: text drawn above each box's top-left corner.
    """
    out = np.array(rgb, dtype=np.uint8, copy=True)
    height, width = out.shape[:2]
    thickness = thickness or max(2, round(max(width, height) / 300))
    for i, box in enumerate(boxes):
        l, t, r, b = (int(round(v * scale)) for v in box)
        l, t = min(max(0, l), width - 1), min(max(0, t), height - 1)
        r, b = min(max(l + 1, r), width), min(max(t + 1, b), height)
        cv2.rectangle(out, (l, t), (r - 1, b - 1), (0, 0, 0), thickness + 2)  # dark rim: visible on white
        cv2.rectangle(out, (l, t), (r - 1, b - 1), colour, thickness)
        if labels is not None:
            text, size = str(labels[i]), max(0.5, max(width, height) / 1200)
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, thickness)
            y = t - thickness - 2 if t - th - base - thickness > 0 else min(height - base, b + th + thickness)
            cv2.putText(out, text, (l, y), cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), thickness + 2, cv2.LINE_AA)
            cv2.putText(out, text, (l, y), cv2.FONT_HERSHEY_SIMPLEX, size, colour, thickness, cv2.LINE_AA)
    return out


def outline_original(image, boxes, colour=REGION_COLOUR, labels=None,
                     max_side: int | None = DISPLAY_MAX_SIDE) -> np.ndarray:
    """The original (PIL image or (H, W, 3) uint8) shown at display size with boxes outlined.

    For the page: a drawn region before it is analysed, or the detected faces numbered 1, 2, ...
    """
    pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
    scale = display_scale(pil.size, max_side)
    if scale < 1:
        pil = pil.resize((max(1, round(pil.width * scale)), max(1, round(pil.height * scale))), Image.BILINEAR,
                         reducing_gap=DISPLAY_REDUCING_GAP)
    return draw_boxes(np.asarray(pil.convert("RGB")), boxes, colour, scale, labels)


def region_thumbnail(image, box, size: int = 160) -> np.ndarray:
    """The box cut from the original (PIL image), its long side brought to `size`: (h, w, 3) uint8."""
    l, t, r, b = (int(round(v)) for v in box)
    crop = image.crop((l, t, r, b)).convert("RGB")
    zoom = size / max(crop.size)
    interp = cv2.INTER_AREA if zoom < 1 else cv2.INTER_CUBIC
    return cv2.resize(np.asarray(crop), (max(1, round(crop.width * zoom)), max(1, round(crop.height * zoom))),
                      interpolation=interp)


def patch_closeup(analysis, row: int, col: int, context: int = 1, size: int = 256) -> np.ndarray:
    """A magnified crop of the original around patch (row, col), the patch outlined."""
    g = analysis.geometry
    l, t, r, b = g.patch_box_original(row, col)
    pw, ph = max(1, r - l), max(1, b - t)
    box = (max(0, l - context * pw), max(0, t - context * ph),
           min(g.original_size[0], r + context * pw), min(g.original_size[1], b + context * ph))
    crop = analysis.image.crop(box)
    zoom = size / max(crop.size)
    crop = crop.resize((max(1, round(crop.width * zoom)), max(1, round(crop.height * zoom))), Image.NEAREST)
    out = np.array(crop, dtype=np.uint8)
    p0 = (round((l - box[0]) * zoom), round((t - box[1]) * zoom))
    p1 = (round((r - box[0]) * zoom) - 1, round((b - box[1]) * zoom) - 1)
    cv2.rectangle(out, p0, p1, (255, 255, 0), 2)
    return out


def draw_grid(ax, analysis, cmap: str = DEFAULT_COLORMAP, vmax: float | None = None,
              annotate_top: int = 5, fontsize: float = 7):
    """The 24x24 patch scores (% of attention flow) on `ax`, top patches numbered; returns the image."""
    im = ax.imshow(analysis.patch_scores * 100.0, cmap=cmap, vmin=0, vmax=(vmax * 100 if vmax else None),
                   interpolation="nearest")
    for entry in analysis.top_patches(annotate_top):
        ax.text(entry["col"], entry["row"], str(entry["rank"]), ha="center", va="center",
                fontsize=fontsize, color="black", fontweight="bold",
                bbox=dict(boxstyle="circle,pad=0.1", fc="white", lw=0))
    ax.set_xticks(range(0, GRID, 6))
    ax.set_yticks(range(0, GRID, 6))
    ax.tick_params(labelsize=fontsize, length=2)
    ax.set_xlabel("patch column", fontsize=fontsize + 1, labelpad=2)
    ax.set_ylabel("patch row", fontsize=fontsize + 1, labelpad=2)
    return im


GRID_FIGSIZE = (5.2, 4.4)                    # inches
GRID_AXES = (0.0786, 0.0902, 0.7246, 0.8564)  # figure fractions (left, bottom, width, height)
GRID_COLOUR_BAR = (0.8396, 0.1330, 0.0326, 0.7707)


def grid_figure(analysis, cmap: str = DEFAULT_COLORMAP, vmax: float | None = None,
                annotate_top: int = 5, figsize=GRID_FIGSIZE) -> Figure:
    """The 24x24 patch scores as a matplotlib figure with a colour bar (share of attention, %).

    At the default size the axes sit where matplotlib's constrained layout puts them, fixed:
    solving that layout on every draw was half of this figure's cost on the page."""
    fixed = tuple(figsize) == GRID_FIGSIZE
    fig = Figure(figsize=figsize, dpi=100, layout=None if fixed else "constrained")
    ax = fig.add_axes(GRID_AXES) if fixed else fig.add_subplot()
    im = draw_grid(ax, analysis, cmap, vmax, annotate_top, fontsize=8)
    label = f"{registry.get(analysis.method).score_label} (%)"
    if fixed:
        fig.colorbar(im, cax=fig.add_axes(GRID_COLOUR_BAR), label=label)
    else:
        fig.colorbar(im, ax=ax, label=label, shrink=0.9)
    ax.set_title(f"Patch scores ({analysis.method}, {analysis.head_fusion} fusion)", fontsize=9)
    return fig


# -- the colour scale: defined here once, named and described the same way everywhere -------------

# "image": full colour at each image's strongest patch (every image shows a hot spot);
# "absolute": full colour when one patch holds ABSOLUTE_VMAX of the flow (uniform is 1/576 =
# 0.17%), so two images can be compared by colour.
COLOR_SCALES = ("image", "absolute")
ABSOLUTE_VMAX = 0.01
UNIFORM_SHARE = 1.0 / (GRID * GRID)


def scale_vmax(color_scale: str) -> float | None:
    """The `vmax` the render functions take for a colour scale: None (per image) or ABSOLUTE_VMAX."""
    if color_scale not in COLOR_SCALES:
        raise ValueError(f"color_scale must be one of {COLOR_SCALES}, got {color_scale!r}")
    return ABSOLUTE_VMAX if color_scale == "absolute" else None


def scale_text(scores: np.ndarray, color_scale: str) -> str:
    """One line saying what full colour means on this colour scale for these patch scores."""
    peak = 100 * float(scores.max())
    if scale_vmax(color_scale) is None:
        return (f"per-image scale: full colour = this image's strongest patch ({peak:.2f}%), "
                "not comparable across images")
    saturate = "; stronger patches saturate" if peak > 100 * ABSOLUTE_VMAX else ""
    return (f"absolute scale: full colour = {100 * ABSOLUTE_VMAX:g}% per patch (uniform "
            f"{100 * UNIFORM_SHARE:.2f}%){saturate}, comparable across images")


# -- deep-check pictures -------------------------------------------------------------------------

def reliability_overlay(analysis, reliability, alpha: float = 0.5, cmap: str = DEFAULT_COLORMAP,
                        vmax: float | None = None) -> np.ndarray:
    """Heatmap on the model input with weak-evidence patches greyed and outlier tokens boxed."""
    out = overlay_input(analysis, alpha, cmap, vmax=vmax)
    grey = np.asarray(analysis.model_input.convert("L").convert("RGB"), dtype=np.uint8)
    weak = upsample(reliability.weak.astype(np.float32)) > 0.5
    out[weak] = (grey[weak] * 0.6 + 60).astype(np.uint8)
    for r, c in zip(*np.nonzero(reliability.outliers)):
        x, y = int(c) * PATCH_SIZE, int(r) * PATCH_SIZE
        cv2.rectangle(out, (x, y), (x + PATCH_SIZE - 1, y + PATCH_SIZE - 1), (0, 255, 255), 1)
    return out


def coverage_overlay(analysis, coverage, alpha: float = 0.5, cmap: str = DEFAULT_COLORMAP,
                     max_side: int | None = DISPLAY_MAX_SIDE) -> np.ndarray:
    """The stitched full-coverage heatmap over the whole original, each tile outlined."""
    scale = display_scale(analysis.image.size, max_side)
    width, height = (max(1, round(s * scale)) for s in analysis.image.size)
    base = np.asarray(analysis.image.resize((width, height), Image.BILINEAR, reducing_gap=DISPLAY_REDUCING_GAP), dtype=np.uint8)
    heat = cv2.resize(coverage.heatmap, (width, height), interpolation=cv2.INTER_NEAREST)
    out = blend(base, colorize(heat / (heat.max() or 1.0), cmap), alpha)
    for tile in coverage.tiles:
        l, t, r, b = (round(v * scale) for v in tile.box_original)
        cv2.rectangle(out, (l, t), (r - 1, b - 1), (255, 255, 255), 1)
    return out


def draw_deletion(ax, faithfulness, fontsize: float | None = None):
    """P(AI-generated) as the top-k vs k random patches are mean-filled, on `ax`."""
    x = [0.0, *[100 * f for f in faithfulness.fractions]]
    p0 = faithfulness.probability
    ax.plot(x, [p0, *faithfulness.top_removed], "o-", color="#d62728", label="strongest patches removed")
    ax.plot(x, [p0, *faithfulness.random_removed], "s--", color="#7f7f7f", label="random patches removed")
    ax.axhline(0.5, color="black", lw=0.8, ls=":")
    ax.set_ylim(0, 1)
    ax.set_xlabel("patches mean-filled (%)", fontsize=fontsize)
    ax.set_ylabel("P(AI-generated)", fontsize=fontsize)
    if fontsize:
        ax.tick_params(labelsize=fontsize - 1)
    ax.set_title(f"Deletion check (AUC top {faithfulness.auc_top:.3f} vs random {faithfulness.auc_random:.3f})",
                 fontsize=fontsize or 9)
    ax.legend(fontsize=(fontsize or 9) - 2, loc="best")


def deletion_figure(faithfulness, figsize=(4.6, 3.2)) -> Figure:
    """P(AI-generated) as the top-k vs k random patches are mean-filled."""
    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    draw_deletion(fig.add_subplot(), faithfulness)
    return fig


# -- video timeline ------------------------------------------------------------------------------

# The verdict colours of every picture and export (the page's CSS has its own, for the screen).
VERDICT_COLOURS = {"ai-generated": "#b2182b", "real": "#2166ac", "inconclusive": "#8a6100"}


def draw_timeline(ax, timestamps, probabilities, margin: float, verdicts=None, highlight=None,
                  fontsize: float = 8):
    """P(AI-generated) per sampled frame against time on `ax`, the inconclusive band shaded.

    timestamps (s) and probabilities are per frame in stream order; verdicts colour the points;
    highlight: timestamps to ring (the strongest frames, or the one picked).
    """
    t = np.asarray(timestamps, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    ax.axhspan(0.5 - margin, 0.5 + margin, color="#f2e6c9", zorder=0,
               label=f"inconclusive band (0.5 \u00b1 {margin:g})")
    ax.axhline(0.5, color="black", lw=0.8, ls=":", zorder=1)
    ax.plot(t, p, "-", color="#555555", lw=1.0, zorder=2)
    colours = [VERDICT_COLOURS[v] for v in verdicts] if verdicts is not None else "#333333"
    ax.scatter(t, p, c=colours, s=18, zorder=3)
    if highlight is not None and len(highlight):
        pick = np.isin(t, np.asarray(highlight, dtype=np.float64))
        ax.scatter(t[pick], p[pick], s=110, facecolors="none", edgecolors="black", lw=1.2, zorder=4,
                   label="strongest frames")
    ax.set_ylim(0, 1)
    span = float(t.max() - t.min()) if t.size else 0.0
    pad = max(span * 0.02, 0.05)
    ax.set_xlim(float(t.min()) - pad if t.size else 0, float(t.max()) + pad if t.size else 1)
    ax.set_xlabel("time in the clip (s)", fontsize=fontsize)
    ax.set_ylabel("P(AI-generated)", fontsize=fontsize)
    ax.tick_params(labelsize=fontsize - 1)
    ax.legend(fontsize=fontsize - 1, loc="best")


def timeline_figure(timestamps, probabilities, margin: float, verdicts=None, highlight=None,
                    title: str | None = None, figsize=(7.5, 2.8)) -> Figure:
    """The P(AI-generated) timeline of a clip as a matplotlib figure (see `draw_timeline`)."""
    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    ax = fig.add_subplot()
    draw_timeline(ax, timestamps, probabilities, margin, verdicts, highlight)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


# -- delivery-path robustness (checks.robustness) -----------------------------------------------

ROBUSTNESS_CMAP = "RdBu_r"   # blue (real) -> white (0.5) -> red (AI-generated), as VERDICT_COLOURS
VERDICT_MARKS = {"ai-generated": "AI", "real": "real", "inconclusive": "?"}


def draw_robustness(ax, rob, fontsize: float = 8):
    """The quality x size grid of a delivery-path sweep on `ax`: each cell coloured by P(AI-generated)
    with its verdict written in; the original's cell outlined in black, cells whose verdict differs
    from the original's outlined in amber and marked with an asterisk."""
    from matplotlib.patches import Rectangle
    rows, cols = list(rob.sizes), list(rob.qualities)
    p = np.full((len(rows), len(cols)), np.nan)
    marks = [[""] * len(cols) for _ in rows]
    for i, size in enumerate(rows):
        for j, quality in enumerate(cols):
            if size is None and quality is None:
                p[i, j], verdict, changed = rob.probability, rob.verdict, False
            else:
                v = rob.cell(size, quality)
                if v is None:
                    continue
                p[i, j], verdict, changed = v.fake_probability, v.verdict, v.verdict != rob.verdict
            marks[i][j] = f"{p[i, j]:.2f}\n{VERDICT_MARKS[verdict]}" + ("*" if changed else "")
            if changed:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#e08a00", lw=2.2,
                                       zorder=3))
    ax.imshow(np.ma.masked_invalid(p), cmap=ROBUSTNESS_CMAP, vmin=0, vmax=1, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            if marks[i][j]:
                dark = abs(p[i, j] - 0.5) > 0.3  # white text on the saturated ends of the scale
                ax.text(j, i, marks[i][j], ha="center", va="center", fontsize=fontsize - 1,
                        color="white" if dark else "black", zorder=4)
    ax.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor="black", lw=2.2, zorder=5))
    ax.set_xticks(range(len(cols)), ["as is" if q is None else f"q{q}" for q in cols], fontsize=fontsize)
    ax.set_yticks(range(len(rows)), [f"original\n{rob.original_long_edge} px" if s is None else f"{s} px"
                                     for s in rows], fontsize=fontsize)
    ax.set_xlabel("JPEG re-encoding (Pillow quality)", fontsize=fontsize)
    ax.set_ylabel("long edge (LANCZOS)", fontsize=fontsize)
    ax.tick_params(length=0)
    ax.set_title(f"Does the verdict survive re-encoding? Holds in {rob.holds:.0%} of "
                 f"{len(rob.variants)} copies", fontsize=fontsize + 1)


def robustness_figure(rob, figsize=(6.4, 3.4)) -> Figure:
    """The delivery-path grid (see `draw_robustness`) with a P(AI-generated) colour bar."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    ax = fig.add_subplot()
    draw_robustness(ax, rob)
    bar = fig.colorbar(ScalarMappable(Normalize(0, 1), ROBUSTNESS_CMAP),
                       ax=ax, fraction=0.05, pad=0.02)
    bar.set_label("P(AI-generated)   * verdict differs", fontsize=7)
    bar.ax.tick_params(labelsize=7)
    return fig
