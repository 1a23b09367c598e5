"""The annotated PNG: the original with the heatmap, the analysed crop, a colour bar and the
facts (verdict, probability, file, model, deep-check headline) burned in."""
from __future__ import annotations

import textwrap
from pathlib import Path

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, PngImagePlugin

from .. import __version__, checks, render
from .names import display_name
from .pages import banner, colour_bar, quiet, text
from .wording import (DEMO_BANNER, VERDICT_COLOURS, deep_headline, limits, probability_line, scale_label,
                      score_label)

PNG_DPI = 200
PNG_MAX_SIDE = 1400     # original pixels shown in the annotated PNG (7 in at 200 dpi)
PNG_ZLIB = {"compress_level": 1, "compress_type": 3}  # zlib level 1, Z_RLE: lossless; on photos 3-4x
                                                      # faster than Pillow's default (6) for ~same bytes


def annotated_figure(analysis, cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5, *,
                     deep=None, color_scale: str = "image") -> Figure:
    """The original with the heatmap, crop outline, colour bar and the facts burned in."""
    fig, ax, over = _layout(analysis, cmap, alpha, deep, color_scale)
    ax.imshow(over, interpolation="antialiased")
    return fig


def _layout(analysis, cmap, alpha, deep, color_scale) -> tuple[Figure, object, np.ndarray]:
    """The figure with text and colour bar, its (empty) picture axes, and the picture for them."""
    a = analysis
    vmax = render.scale_vmax(color_scale)
    over = render.overlay_original(a, alpha=alpha, cmap=cmap, max_side=PNG_MAX_SIDE, vmax=vmax)
    h, w = over.shape[:2]
    fit = min(7.0 / w, 7.0 / h)
    iw, ih = w * fit, h * fit                                  # image size, inches
    head, foot, bar = (2.05 if a.demo else 1.45) + (0.25 if deep is not None else 0.0), 0.85, 1.15
    fw, fh = max(iw + bar + 2 * 0.35, 7.6), head + ih + foot
    fig = Figure(figsize=(fw, fh), dpi=PNG_DPI)
    left = (fw - iw - bar) / 2
    ax = fig.add_axes((left / fw, foot / fh, iw / fw, ih / fh))
    ax.set_axis_off()
    colour_bar(fig, ((left + iw + 0.15) / fw, foot / fh, 0.16 / fw, ih / fh), a, cmap,
               scale_label(a, color_scale), vmax)

    y = fh - 0.2                                               # text cursor, inches from bottom
    if a.demo:
        banner(fig, (fh - 0.6) / fh, 0.6 / fh)
        y -= 0.6
    x = 0.35 / fw
    text(fig, x, (y - 0.1) / fh, a.verdict_text, va="top", fontsize=15, fontweight="bold",
         color=VERDICT_COLOURS[a.verdict])
    text(fig, x, (y - 0.5) / fh, probability_line(a), va="top", fontsize=10.5, fontweight="bold")
    sha = (a.input_sha256 or "none")[:12]
    text(fig, x, (y - 0.8) / fh, f"File: {display_name(a.input.name)}    SHA-256: {sha}\u2026",
         va="top", fontsize=9)
    text(fig, x, (y - 1.03) / fh, f"Model: {display_name(a.model.label, 90)}", va="top", fontsize=9)
    l, t, r, b = a.crop_box
    seen = (f"White box: the region the model analysed, ({l}, {t})\u2013({r}, {b}), {a.coverage:.0%} of "
            "the image; dimmed: not seen." if a.coverage < 0.999 else "The model saw the whole image.")
    caption = (f"{seen} Colours: {score_label(a)} per patch ({a.method}, "
               f"{a.head_fusion} fusion, discard {a.discard_ratio:g}; "
               f"{render.scale_text(a.patch_scores, color_scale)}), not proof. Created {a.created_utc}.")
    text(fig, x, 0.7 / fh, "\n".join(textwrap.wrap(caption, int(fw * 15.5))), va="top", fontsize=8,
         linespacing=1.35)
    if deep is not None:
        headline, colour = deep_headline(checks.judgements(a, deep))
        text(fig, x, (y - 1.26) / fh, headline, va="top", fontsize=9, fontweight="bold", color=colour)
    return fig, ax, over


def render_png(analysis, cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5, *, deep=None,
               color_scale: str = "image") -> np.ndarray:
    """The annotated picture as (H, W, 3) uint8: matplotlib draws only the text and colour bar;
    the heatmap picture is pasted into its axes' pixel box, not resampled through Agg."""
    with quiet():
        fig, ax, over = _layout(analysis, cmap, alpha, deep, color_scale)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
    page = np.asarray(canvas.buffer_rgba())[:, :, :3].copy()    # (H, W, 3): the figure is opaque
    box = ax.bbox                                                 # pixels, origin bottom-left
    x0, x1 = round(box.x0), round(box.x1)
    y0, y1 = page.shape[0] - round(box.y1), page.shape[0] - round(box.y0)
    if over.shape[:2] != (y1 - y0, x1 - x0):
        shrink = x1 - x0 < over.shape[1]
        over = cv2.resize(over, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_NEAREST)
    page[y0:y1, x0:x1] = over
    return page


def write_png(analysis, path, cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5, *,
              deep=None, color_scale: str = "image") -> Path:
    a = analysis
    meta = {"Title": f"{a.verdict_text}: P(AI-generated) = {a.fake_probability:.4f}",
            "Source": f"{a.input.name or ''} sha256:{a.input_sha256 or ''}",
            "Software": f"forensics {__version__}; model {a.model.label}",
            "Description": DEMO_BANNER if a.demo else " ".join(limits(a))}
    info = PngImagePlugin.PngInfo()
    for key, value in meta.items():  # as matplotlib wrote them: Latin-1 as tEXt, else iTXt
        try:
            value.encode("latin-1")
            info.add_text(key, value)
        except UnicodeEncodeError:
            info.add_itxt(key, value)
    picture = Image.fromarray(render_png(a, cmap, alpha, deep=deep, color_scale=color_scale))
    picture.save(path, format="png", pnginfo=info, dpi=(PNG_DPI, PNG_DPI), **PNG_ZLIB)
    return Path(path)
