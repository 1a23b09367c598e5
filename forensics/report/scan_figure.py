"""The local scan as a picture: its P map over the original, the hotspots boxed and numbered.

Pure Pillow / numpy / OpenCV on arrays and the scan's plain fields; nothing here knows the page,
the PDF or the model. The colour is absolute (P 0 to 1 on the colour map, the same on every
image), unlike the attention heatmaps, which are scaled per image.
"""
from __future__ import annotations

import functools
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..core.verdict import THRESHOLD
from .render import (DEFAULT_COLORMAP, DISPLAY_MAX_SIDE, DISPLAY_REDUCING_GAP, NOT_ANALYSED_DIM, REGION_COLOUR,
                     blend, colorize, display_scale, draw_boxes)

SCAN_ALPHA = 0.45            # weight of the colour layer over the photo
HOTSPOT_COLOUR = REGION_COLOUR  # cyan, as a region asked for: clicking a hotspot analyses it as one
LEGEND_TEXT = "P(AI-generated) of the windows: each cell the max of the windows covering it"


def draw_local_scan(image: Image.Image, scan, max_side: int | None = DISPLAY_MAX_SIDE, *,
                    alpha: float = SCAN_ALPHA, cmap: str = DEFAULT_COLORMAP) -> Image.Image:
    """The original (upright, PIL) at display size, the scan's P map blended over what was scanned,
    what was not scanned dimmed, and each hotspot boxed and numbered (1: the strongest)."""
    scale = display_scale(image.size, max_side)
    width, height = (max(1, round(s * scale)) for s in image.size)
    shown = image.convert("RGB")
    if scale < 1:
        shown = shown.resize((width, height), Image.BILINEAR, reducing_gap=DISPLAY_REDUCING_GAP)
    base = np.asarray(shown, dtype=np.uint8)
    p = p_map_at(scan.p_map, scan.p_map_scale * scale, (width, height))    # (height, width), NaN: not scanned
    scanned = ~np.isnan(p)
    out = (base * np.float32(NOT_ANALYSED_DIM)).astype(np.uint8)   # dimmed, as outside an analysed crop
    out[scanned] = blend(base, colorize(np.nan_to_num(p, nan=0.0), cmap), alpha)[scanned]
    if scan.hotspots:
        out = draw_boxes(out, [h.box for h in scan.hotspots], HOTSPOT_COLOUR, scale,
                         labels=[str(i + 1) for i in range(len(scan.hotspots))])
    return Image.fromarray(out)


def p_map_at(p_map: np.ndarray, cell: float, size: tuple[int, int]) -> np.ndarray:
    """(rows, cols) cells of `cell` display pixels each -> (height, width) float32, nearest cell.

    The map's last row and column may run past the image (the image is not a whole number of
    cells): display pixel x lies in cell floor(x / cell)."""
    width, height = size
    cols = np.minimum((np.arange(width) + 0.5) // cell, p_map.shape[1] - 1).astype(int)
    rows = np.minimum((np.arange(height) + 0.5) // cell, p_map.shape[0] - 1).astype(int)
    return p_map[np.ix_(rows, cols)].astype(np.float32)


@functools.lru_cache(maxsize=8)
def _font(pixels: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(Path(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")), pixels)


def scan_legend(width: int = 640, cmap: str = DEFAULT_COLORMAP, text: str = LEGEND_TEXT) -> Image.Image:
    """A colour bar for `draw_local_scan`: P 0 to 1, the 0.5 cut-off marked, the rule in words."""
    bar_h, pad, size = 16, 8, 14
    font = _font(size)
    out = Image.new("RGB", (width, bar_h + 3 * size + 3 * pad), "white")
    ramp = colorize(np.tile(np.linspace(0, 1, width - 2 * pad, dtype=np.float32), (bar_h, 1)), cmap)
    out.paste(Image.fromarray(ramp), (pad, pad))
    draw = ImageDraw.Draw(out)
    for value in (0.0, THRESHOLD, 1.0):
        x = pad + round(value * (width - 2 * pad - 1))
        draw.line([(x, pad), (x, pad + bar_h + 3)], fill="black", width=1)
        anchor = {0.0: "la", 1.0: "ra"}.get(value, "ma")
        draw.text((x, pad + bar_h + 4), f"{value:g}", fill="black", font=font, anchor=anchor)
    draw.text((pad, pad + bar_h + size + 2 * pad), text, fill="black", font=font, anchor="la")
    return out
