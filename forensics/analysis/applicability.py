"""Applicability: the conditions under which the model was not validated, found on this image.

The detector was trained and tested on whole pictures shrunk to 440 px on the short side and
centre-cropped to 384 (camera photos and generator outputs). A call made far from that (a
thumbnail blown up several times, a sliver of a panorama, a screenshot of a table, a JPEG
crushed to quality 30, a palette GIF, a region that is mostly its surroundings) is still a
number, but nothing says it means what it means on the validation data.

Each rule below is a documented threshold (docs/METHODS.md, "Applicability"): a `Condition` says
what was measured; `blocks_verdict` conditions demote the final call to inconclusive
(`Analysis.verdict`); the others are stated beside it. A good camera photo triggers none.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

# -- the rules and their thresholds ----------------------------------------------------------------
UPSCALE_NOTE = 1.25        # the transform enlarges the pictures' pixels this many times or more: stated
UPSCALE_BLOCK = 2.0        # ... this many times or more: blocks (a 96x96 thumbnail is enlarged 4.6x)
PARTIAL_VIEW = 0.5         # the model sees under this share of the image's area (a 4:1 panorama: 25%)
GRAPHICS_FLAT_NOTE, GRAPHICS_FLAT_BLOCK = 0.30, 0.50   # share of 8x8 blocks of one flat colour
GRAPHICS_TEXT_NOTE, GRAPHICS_TEXT_BLOCK = 0.15, 0.30   # share of 8x8 blocks of two-tone strokes (text, lines)
HEAVY_COMPRESSION_QUALITY = 50   # estimated JPEG quality at or below this: blocks
SMALL_REGION = 0.25        # a region under this share of the window the model saw: mostly context, blocks

# -- how the graphics measure reads a picture -------------------------------------------------------
BLOCK = 8                  # pixels each way
FLAT_RANGE = 2             # a block whose luminance spans at most this (0..255), at the level of a neighbour, is flat
STROKE_RANGE = 48          # a two-tone block spans at least this ...
STROKE_PURITY = 0.8        # ... with this share of its pixels within 20% of its darkest or lightest value
STROKE_MAX_JUMPS = 0.35    # ... and at most this share of neighbouring pixels jumping straight between the two
MEASURE_PIXELS = 1_500_000  # larger pictures are read every k-th pixel (k whole) to about this many


@dataclass(frozen=True)
class Condition:
    """One condition outside the model's validated domain, as every view shows it."""
    name: str              # e.g. "small-image"; stable, for filters and tests
    detail: str            # one sentence with the measured figure
    blocks_verdict: bool   # True: the final call is demoted to inconclusive

    def record(self) -> dict:
        return {"name": self.name, "detail": self.detail, "blocks_verdict": self.blocks_verdict}

    @property
    def reason(self) -> str:
        """The line `Analysis.verdict_reasons` gives for a blocking condition."""
        return f"outside the model's validated domain ({self.name}): {self.detail}"


@dataclass(frozen=True)
class GraphicsMeasure:
    flat_share: float      # share of blocks of one flat colour
    stroke_share: float    # share of two-tone, high-contrast blocks (text, lines, icons)


def graphics_measure(image: Image.Image) -> GraphicsMeasure:
    """How much of the picture is flat colour and how much is two-tone strokes, on 8x8 blocks of
    the luminance. Camera photos carry sensor noise and soft edges, so both shares stay low;
    screenshots, tables, diagrams and flat illustrations are made of exactly these blocks."""
    step = max(1, math.ceil(math.sqrt(image.width * image.height / MEASURE_PIXELS)))
    sample = image if step == 1 else image.resize((image.width // step, image.height // step), Image.NEAREST)
    grey = np.asarray(sample.convert("L"), dtype=np.int16)
    h, w = (grey.shape[0] // BLOCK) * BLOCK, (grey.shape[1] // BLOCK) * BLOCK
    if h == 0 or w == 0:
        return GraphicsMeasure(0.0, 0.0)
    blocks = grey[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).swapaxes(1, 2).reshape(-1, BLOCK * BLOCK)
    lo, hi = blocks.min(axis=1), blocks.max(axis=1)                     # (N,)
    span = hi - lo
    flat = _flat_areas(span <= FLAT_RANGE, lo, (h // BLOCK, w // BLOCK))
    wide = np.flatnonzero(span >= STROKE_RANGE)   # only these can be strokes (few in a photo)
    b, lo_, hi_ = blocks[wide], lo[wide, None], hi[wide, None]
    tolerance = 0.2 * span[wide, None]
    low, high = b - lo_ <= tolerance, hi_ - b <= tolerance              # (n, 64) each
    # strokes are runs: a one-pixel alternation (a dither, a checkerboard, a fine texture) is not text
    rows_low, rows_high = low.reshape(-1, BLOCK, BLOCK), high.reshape(-1, BLOCK, BLOCK)
    jumps = ((rows_low[:, :, 1:] & rows_high[:, :, :-1]) | (rows_high[:, :, 1:] & rows_low[:, :, :-1])).mean(axis=(1, 2))
    strokes = ((low | high).mean(axis=1) >= STROKE_PURITY) & (jumps <= STROKE_MAX_JUMPS)
    return GraphicsMeasure(float(flat.mean()), float(strokes.sum() / len(blocks)))


def _flat_areas(flat: np.ndarray, level: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Flat blocks that continue a neighbour at exactly the same level: a filled area, as drawn.
    A camera's smooth sky, crushed by JPEG, leaves flat blocks too, but each at its own level."""
    f, v = flat.reshape(grid), level.reshape(grid)
    same = np.zeros(grid, dtype=bool)
    across = f[:, 1:] & f[:, :-1] & (v[:, 1:] == v[:, :-1])    # (rows, cols - 1)
    down = f[1:, :] & f[:-1, :] & (v[1:, :] == v[:-1, :])      # (rows - 1, cols)
    same[:, 1:] |= across
    same[:, :-1] |= across
    same[1:, :] |= down
    same[:-1, :] |= down
    return same.ravel()


def conditions(image: Image.Image, info, geometry) -> tuple[Condition, ...]:
    """Every condition this image meets. `image` is the upright original, `info` its
    inputs.InputInfo and `geometry` what the model saw of it."""
    found = [c for c in (_upscaled(geometry), _partial_view(geometry), _small_region(geometry),
                         _graphics(image), _compression(info), _palette(info), _animation(info)) if c]
    return tuple(found)


def _upscaled(geometry) -> Condition | None:
    zoom = geometry.zoom  # model-input pixels per original pixel
    if zoom < UPSCALE_NOTE:
        return None
    l, t, r, b = geometry.crop_box
    what = "the region's window" if geometry.region is not None else "the image"
    return Condition("small-image",
                     f"{what} ({r - l}x{b - t} px seen) was enlarged {zoom:.1f}x to 384x384; the model is "
                     f"validated on shrunk pictures (blocks at {UPSCALE_BLOCK:g}x)",
                     zoom >= UPSCALE_BLOCK)


def _partial_view(geometry) -> Condition | None:
    if geometry.region is not None:
        return None  # a region states what it saw itself (region_seen)
    l, t, r, b = geometry.crop_box_exact
    w, h = geometry.original_size
    seen = min(1.0, (r - l) * (b - t) / (w * h))
    if seen >= PARTIAL_VIEW:
        return None
    return Condition("partial-view",
                     f"the centre crop sees {seen:.0%} of the image ({w}x{h}, aspect {max(w, h) / min(w, h):.1f}:1); "
                     "the rest was not examined (a local scan can look)", False)


def _small_region(geometry) -> Condition | None:
    if geometry.region is None:
        return None
    l, t, r, b = geometry.region
    cl, ct, cr, cb = geometry.crop_box_exact
    share = (r - l) * (b - t) / ((cr - cl) * (cb - ct))
    if share >= SMALL_REGION:
        return None
    return Condition("small-region",
                     f"the region ({r - l}x{b - t} px) fills {share:.0%} of the window the model saw; the call is "
                     f"mostly about its surroundings (blocks under {SMALL_REGION:.0%})", True)


def _graphics(image: Image.Image) -> Condition | None:
    m = graphics_measure(image)
    if m.flat_share < GRAPHICS_FLAT_NOTE and m.stroke_share < GRAPHICS_TEXT_NOTE:
        return None
    blocks = m.flat_share >= GRAPHICS_FLAT_BLOCK or m.stroke_share >= GRAPHICS_TEXT_BLOCK
    return Condition("screenshot-or-graphics",
                     f"{m.flat_share:.0%} of the picture is flat colour and {m.stroke_share:.0%} two-tone strokes "
                     f"(text, lines): a screenshot, document or flat graphic, not a photograph (blocks at "
                     f"{GRAPHICS_FLAT_BLOCK:.0%} flat or {GRAPHICS_TEXT_BLOCK:.0%} strokes)", blocks)


def _compression(info) -> Condition | None:
    jpeg = getattr(getattr(info, "metadata", None), "jpeg", None)
    quality = getattr(jpeg, "quality", None)
    if quality is None or quality > HEAVY_COMPRESSION_QUALITY or jpeg.quality_note.startswith("non-standard"):
        return None
    return Condition("heavy-compression",
                     f"JPEG quality about {quality} (at or below {HEAVY_COMPRESSION_QUALITY}): compression this "
                     "heavy erases the fine traces the detector reads", True)


def _palette(info) -> Condition | None:
    if info.mode not in ("P", "PA") and info.format != "GIF":
        return None
    return Condition("palette",
                     f"a {info.format or 'palette'} image of at most 256 colours: palette quantisation and "
                     "dithering replace the fine traces the detector reads", True)


def _animation(info) -> Condition | None:
    if not info.animated:
        return None
    return Condition("animation", f"an animation of {info.frames} frames: only the first frame was analysed", False)
