"""The annotated PNG: the original with the heatmap, the analysed crop, a colour bar and the
facts (verdict, probability, file, model, deep-check headline) burned in.

Drawn with Pillow straight onto the page's pixels, in two steps: `annotated_layout` decides what
goes where (every text with its colour, size and position; the picture's box; the colour bar)
and returns a `PngLayout`, which tests can read without pixels; `_paint` draws it. The page has
the geometry the matplotlib version had (inches at PNG_DPI, point sizes as before), without a
matplotlib Figure: Agg's text and colour-bar machinery took about half of the export's time.
"""
from __future__ import annotations

import functools
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import cv2
import matplotlib
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex, to_rgb
from matplotlib.ticker import MaxNLocator
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from .._version import __version__
from ..explain import checks
from . import render
from .fonts import draw_text, text_length
from .names import display_name
from .wording import (DEMO_BANNER, DEMO_BANNER_COLOUR, VERDICT_COLOURS, deep_headline, limits,
                      probability_line, scale_label, score_label)

PNG_DPI = 200
PNG_MAX_SIDE = 1400     # original pixels shown in the annotated PNG (7 in at 200 dpi)
PNG_ZLIB = {"compress_level": 1, "compress_type": 3}  # zlib level 1, Z_RLE: lossless; on photos 3-4x
                                                      # faster than Pillow's default (6) for ~same bytes

TEXT_COLOUR = "#000000"
MARGIN = 0.35           # inches, left of the text and of the picture (at least)
# The colour bar, as matplotlib drew it: 0.8 pt outline and ticks, 3.5 pt ticks and padding,
# labels 7 pt, its label 8 pt and 4 pt from the tick labels; an extension 5% of the bar's length.
BAR_LINE, TICK_LENGTH, TICK_PAD, LABEL_PAD = 0.8, 3.5, 3.5, 4.0   # points
TICK_SIZE, BAR_LABEL_SIZE, CAPTION_SIZE = 7.0, 8.0, 8.0            # points
MIN_SIZE = 6.0          # points: a line too long for the page is set smaller, down to this
EXTEND_FRAC = 0.05
CAPTION_SPACING, LABEL_SPACING = 1.35, 1.2                         # matplotlib's linespacing
_FONT_DIR = Path(matplotlib.get_data_path(), "fonts", "ttf")


def _px(points: float) -> float:
    return points * PNG_DPI / 72


@functools.lru_cache(maxsize=32)
def _font(size: float, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (matplotlib's own) at `size` points on the PNG's 200 dpi page.

    The basic layout: no shaping, like matplotlib; glyphs DejaVu lacks (CJK) are drawn by
    `fonts.draw_text` in the shipped fallback font.
    """
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(_FONT_DIR / name), _px(size), layout_engine=ImageFont.Layout.BASIC)


@functools.lru_cache(maxsize=32)
def _metrics(size: float, bold: bool = False) -> tuple[int, int]:
    """(ascent, descent) in pixels of "lp", which matplotlib uses as a line's least extent."""
    _, top, _, bottom = _font(size, bold).getbbox("lp", anchor="ls")
    return -top, bottom


def _line_step(size: float, spacing: float) -> float:
    """Baseline to baseline in multi-line text, pixels: as matplotlib spaces lines, `spacing`
    times the ascent of "lp", plus the line's descent (the font's)."""
    return spacing * _metrics(size)[0] + _font(size).getmetrics()[1]


@dataclass(frozen=True)
class PngText:
    """One line of text: drawn at (x, y) in pixels from the top left, Pillow's `anchor` ("ls":
    left end of the baseline, "ms": middle of the baseline), `size` in points."""
    text: str
    colour: str         # "#rrggbb"
    x: float
    y: float
    size: float
    bold: bool = False
    anchor: str = "ls"


@dataclass(frozen=True)
class PngBar:
    """The colour bar: the colour map from 0 (bottom of `box`) to `top` (%) at its top."""
    box: tuple[int, int, int, int]          # the gradient, pixels (left, top, right, bottom)
    cmap: str
    top: float                              # the value (%) at full colour
    ticks: tuple[tuple[int, str], ...]      # (row in pixels, label), bottom up
    label: str                              # e.g. "... per patch (%)\nabsolute scale: ..."
    label_left: float                       # the rotated label's left edge, pixels
    saturates: bool                         # stronger patches saturate: the triangle above `box`
    apex: int                               # the triangle's apex row (== box[1] without one)


@dataclass(frozen=True)
class PngLayout:
    size: tuple[int, int]                   # the page, pixels (width, height)
    picture: np.ndarray                     # render.overlay_original(...), (h, w, 3) uint8
    box: tuple[int, int, int, int]          # where the picture goes, pixels (left, top, right, bottom)
    banner: tuple[int, int, int, int] | None  # the demo banner's rectangle, pixels
    texts: tuple[PngText, ...]
    bar: PngBar

    def text(self, startswith: str) -> PngText | None:
        """The first text that starts with `startswith`, or None."""
        return next((t for t in self.texts if t.text.startswith(startswith)), None)


def annotated_layout(analysis, cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5, *,
                     deep=None, color_scale: str = "image") -> PngLayout:
    """Where the picture, the colour bar and every fact go on the annotated PNG."""
    a = analysis
    vmax = render.scale_vmax(color_scale)
    over = render.overlay_original(a, alpha=alpha, cmap=cmap, max_side=PNG_MAX_SIDE, vmax=vmax)
    h, w = over.shape[:2]
    fit = min(7.0 / w, 7.0 / h)
    iw, ih = w * fit, h * fit                                  # image size, inches
    reasons = a.verdict_reasons
    head, foot, bar = (2.05 if a.demo else 1.45) + (0.25 if deep is not None else 0.0) + (0.25 if reasons else 0.0), 0.85, 1.15
    fw, fh = max(iw + bar + 2 * MARGIN, 7.6), head + ih + foot
    width, height = int(fw * PNG_DPI), int(fh * PNG_DPI)      # as Agg sized the page
    left = (fw - iw - bar) / 2

    def box(x0, bottom, bw, bh):
        """Inches (left, bottom, width, height) from the bottom left -> pixels from the top left,
        rounded as the axes' boxes were."""
        return (round(x0 * PNG_DPI), height - round((bottom + bh) * PNG_DPI),
                round((x0 + bw) * PNG_DPI), height - round(bottom * PNG_DPI))

    texts = []
    x = MARGIN * PNG_DPI
    room = width - 2 * x

    def line(s, top, size, colour=TEXT_COLOUR, bold=False):
        """A line whose top (matplotlib's va="top") is `top` inches below the page's top; smaller
        where it would run off the page (a calibrated probability line, a long name)."""
        length = text_length(s, _font(size, bold))
        if length > room:
            size = max(MIN_SIZE, math.floor(4 * size * room / length) / 4)
        texts.append(PngText(s, to_hex(colour), x, top * PNG_DPI + _metrics(size, bold)[0], size, bold))

    y = 0.2                                                    # text cursor, inches from the top
    banner = None
    if a.demo:
        banner = (0, 0, width, round(0.6 * PNG_DPI))
        ascent, descent = _metrics(15, True)
        texts.append(PngText(DEMO_BANNER, "#ffffff", width / 2, 0.3 * PNG_DPI + (ascent - descent) / 2, 15,
                             True, "ms"))
        y += 0.6
    line(a.verdict_text, y + 0.1, 15, VERDICT_COLOURS[a.verdict], bold=True)
    if reasons:  # beside the call, in its colour; all of them are in the PDF and the JSON
        more = f" (and {len(reasons) - 1} more reason(s): see the PDF or JSON)" if len(reasons) > 1 else ""
        line(f"Why: {reasons[0]}{more}", y + 0.5, 9, VERDICT_COLOURS[a.verdict], bold=True)
        y += 0.25
    line(probability_line(a), y + 0.5, 10.5, bold=True)
    sha = (a.input_sha256 or "none")[:12]
    line(f"File: {display_name(a.input.name)}    SHA-256: {sha}\u2026", y + 0.8, 9)
    line(f"Model: {display_name(a.model.label, 90)}", y + 1.03, 9)
    if deep is not None:
        headline, colour = deep_headline(checks.judgements(a, deep))
        line(headline, y + 1.26, 9, colour, bold=True)

    l, t, r, b = a.crop_box
    seen = (f"White box: the region the model analysed, ({l}, {t})\u2013({r}, {b}), {a.coverage:.0%} of "
            "the image; dimmed: not seen." if a.coverage < 0.999 else "The model saw the whole image.")
    caption = (f"{seen} Colours: {score_label(a)} per patch ({a.method}, "
               f"{a.head_fusion} fusion, discard {a.discard_ratio:g}; "
               f"{render.scale_text(a.patch_scores, color_scale)}), not proof. Created {a.created_utc}.")
    font = _font(CAPTION_SIZE)
    first, step = font.getmetrics()[0], _line_step(CAPTION_SIZE, CAPTION_SPACING)
    for n, wrapped in enumerate(_wrap(caption, int(fw * 15.5), room, font)):
        texts.append(PngText(wrapped, TEXT_COLOUR, x, (fh - 0.7) * PNG_DPI + first + n * step, CAPTION_SIZE))

    return PngLayout((width, height), over, box(left, foot, iw, ih), banner, tuple(texts),
                     _bar(a, cmap, vmax, scale_label(a, color_scale), box(left + iw + 0.15, foot, 0.16, ih)))


def _wrap(text_: str, chars: int, room: float, font) -> list[str]:
    """`text_` wrapped at `chars` characters as before, or fewer where a line would not fit `room` px."""
    while True:
        lines = textwrap.wrap(text_, chars)
        if chars <= 20 or max(font.getlength(s) for s in lines) <= room:
            return lines
        chars -= 4


def _bar(a, cmap, vmax, label, rect) -> PngBar:
    """The colour bar in `rect`; with an extension (a triangle on top) if the absolute scale saturates."""
    peak = float(a.patch_scores.max())
    top = (vmax or peak) * 100
    saturates = bool(vmax and peak > vmax)
    x0, y0, x1, y1 = rect
    inner = y0 + (round((y1 - y0) * EXTEND_FRAC / (1 + EXTEND_FRAC)) if saturates else 0)
    font = _font(TICK_SIZE)
    bins = min(6, max(2, int((y1 - inner) / (2.5 * _px(TICK_SIZE)))))   # ~5; fewer on a short bar
    values = [v for v in MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10]).tick_values(0, top)
              if -1e-9 <= v <= top * (1 + 1e-9)] if top > 0 else [0.0]
    labels = _tick_labels(values)
    rows = [round(y1 - (v / top if top > 0 else 0) * (y1 - inner)) for v in values]
    ticks_right = x1 + _px(TICK_LENGTH + TICK_PAD) + max(font.getlength(s) for s in labels)
    return PngBar((x0, inner, x1, y1), cmap, top, tuple(zip(rows, labels)), label,
                  ticks_right + _px(LABEL_PAD), saturates, y0)


def _tick_labels(values) -> list[str]:
    """As few decimals as tell the ticks apart exactly: 0.00 0.05 0.10 / 0.0 0.2 0.4."""
    for decimals in range(7):
        if all(abs(float(f"{v:.{decimals}f}") - v) < 1e-9 * max(1.0, abs(v)) for v in values):
            break
    return [f"{v:.{decimals}f}" for v in values]


@functools.lru_cache(maxsize=16)
def _gradient(cmap: str, rows: int, cols: int) -> np.ndarray:
    """(rows, cols, 3) uint8: the colour map bottom (0) to top (1), quantised as the map's N colours."""
    values = (np.arange(rows)[::-1] + 0.5) / rows
    column = colormaps[cmap](values, bytes=True)[:, :3]
    gradient = np.ascontiguousarray(np.broadcast_to(column[:, None, :], (rows, cols, 3)))
    gradient.flags.writeable = False                          # cached: shared by every page
    return gradient


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(round(255 * c) for c in to_rgb(colour))


def _paint(layout: PngLayout) -> Image.Image:
    """The page of `layout` as an RGB image."""
    width, height = layout.size
    page = np.full((height, width, 3), 255, np.uint8)
    if layout.banner is not None:
        l, t, r, b = layout.banner
        page[t:b, l:r] = _rgb(DEMO_BANNER_COLOUR)
    x0, y0, x1, y1 = layout.box
    over = layout.picture
    if over.shape[:2] != (y1 - y0, x1 - x0):
        shrink = x1 - x0 < over.shape[1]
        over = cv2.resize(over, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_NEAREST)
    page[y0:y1, x0:x1] = over
    bar = layout.bar
    l, t, r, b = bar.box
    page[t:b, l:r] = _gradient(bar.cmap, b - t, r - l)

    image = Image.fromarray(page)
    draw = ImageDraw.Draw(image)
    line = max(1, round(_px(BAR_LINE)))
    outline = [(l, b), (l, t), (r, t), (r, b), (l, b)]
    if bar.saturates:
        triangle = [(l, t), ((l + r) / 2, bar.apex), (r, t)]
        _smooth_polygon(image, triangle, _rgb(to_hex(colormaps[bar.cmap].get_over())))
        outline = [(l, b), *triangle, (r, b), (l, b)]
    draw.line(outline, fill=TEXT_COLOUR, width=line, joint="curve")
    font = _font(TICK_SIZE)
    _, digit_top, _, _ = font.getbbox("0", anchor="ls")
    for row, label in bar.ticks:
        draw.line([(r, row), (r + _px(TICK_LENGTH), row)], fill=TEXT_COLOUR, width=line)
        draw.text((r + _px(TICK_LENGTH + TICK_PAD), row - digit_top / 2), label, fill=TEXT_COLOUR, font=font,
                  anchor="ls")
    _paste_rotated(image, bar.label, bar.label_left, (t + b) / 2)

    for item in layout.texts:  # per-run fallback: a CJK file name shows in Droid Sans Fallback
        draw_text(draw, (item.x, item.y), item.text, _font(item.size, item.bold), item.colour, item.anchor)
    return image


def _smooth_polygon(image: Image.Image, points, colour, scale: int = 4) -> None:
    """Fill a small polygon, anti-aliased: drawn at `scale` times the size, then reduced."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    left, top = math.floor(min(xs)), math.floor(min(ys))
    size = (math.ceil(max(xs)) - left + 1, math.ceil(max(ys)) - top + 1)
    mask = Image.new("L", (size[0] * scale, size[1] * scale), 0)
    ImageDraw.Draw(mask).polygon([((x - left) * scale, (y - top) * scale) for x, y in points], fill=255)
    image.paste(colour, (left, top, left + size[0], top + size[1]), mask.reduce(scale))


def _paste_rotated(image: Image.Image, label: str, left: float, middle: float) -> None:
    """`label` (lines centred on each other) turned 90 degrees to read upwards; its top (now its
    left edge) at `left`, centred on the row `middle`."""
    font = _font(BAR_LABEL_SIZE)
    ascent, descent = _metrics(BAR_LABEL_SIZE)
    lines = label.split("\n")
    step = _line_step(BAR_LABEL_SIZE, LABEL_SPACING)
    length = math.ceil(max(font.getlength(s) for s in lines)) + 2
    depth = math.ceil(ascent + (len(lines) - 1) * step + descent) + 2
    mask = Image.new("L", (length, depth), 0)
    draw = ImageDraw.Draw(mask)
    for n, s in enumerate(lines):
        draw.text((length / 2, ascent + n * step), s, fill=255, font=font, anchor="ms")
    mask = mask.transpose(Image.Transpose.ROTATE_90)          # counter-clockwise: reads bottom to top
    x, y = round(left), round(middle - length / 2)
    image.paste((0, 0, 0), (x, y, x + mask.width, y + mask.height), mask)


def render_png(analysis, cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5, *, deep=None,
               color_scale: str = "image") -> np.ndarray:
    """The annotated picture as (H, W, 3) uint8; the heatmap picture is pasted into its box as
    `render.overlay_original` made it (resized only where the box is not its size)."""
    return np.array(_paint(annotated_layout(analysis, cmap, alpha, deep=deep, color_scale=color_scale)))


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
    picture = _paint(annotated_layout(a, cmap, alpha, deep=deep, color_scale=color_scale))
    picture.save(path, format="png", pnginfo=info, dpi=(PNG_DPI, PNG_DPI), **PNG_ZLIB)
    return Path(path)
