"""Is one region AI-generated? The native-resolution local scan.

The whole-image call sees one 384x384 centre crop of the image shrunk to 440 px on its short
side: a 12 MP photo shrunk about 7x, its edges never seen. An inpainted or pasted region can
hide in that. The scan slides 384x384 windows over the upright original at native resolution
(no resize: each window is fed exactly as cut out) and asks the model about each:

- windows: every STRIDE px (192: half a window of overlap), the last row and column flush with
  the right and bottom edges, so every pixel is in some window;
- cap: at most MAX_WINDOWS windows. Beyond it the stride is widened, up to the window (no
  overlap, still everything covered); beyond that a centred block of windows is scanned and the
  strips left out are named in `skipped`. 96 windows take 26-28 s on the 2-core CPU with the
  real ViT-S (3.5-3.7 windows/s, bench/bench_local_scan.py), with progress after each batch (<= 3.3 s);
- P map: one cell per P_MAP_CELL original pixels, each cell the MAX of the windows overlapping
  it (NaN where nothing was scanned);
- hotspots: windows called "ai-generated" by the verdict rule (`verdict_for` with the analysis'
  margin), grouped by 8-neighbourhood on the window grid; a hotspot's box is the union of its
  windows, its P their max; strongest first;
- weak evidence: the share of each window's 16x16 patches that the reliability mask calls flat
  (pixel std below 2 of 255); a hotspot whose windows are mostly flat is said to be weak evidence.

Grad-free plain forward passes (`detector.probabilities`), `batch_size` windows at a time;
`rollout=True` also keeps each window's attention rollout (`detector.rollout_crops`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from ..core.errors import InputError
from ..core.preprocess import GRID, INPUT_SIZE, PATCH_SIZE
from ..core.verdict import THRESHOLD, verdict_for

WINDOW = INPUT_SIZE   # px: the model's input, cut from the original 1:1
STRIDE = 192          # px between window starts: half a window of overlap
MAX_WINDOWS = 96      # the cap: 26-28 s on the 2-core CPU with the real ViT-S (bench/bench_local_scan.py)
BATCH_SIZE = 8        # windows per forward pass: as fast as 1 and faster than 16 on the 2-core CPU
P_MAP_CELL = 32       # original px per P-map cell
FLAT_STD = 2.0        # patch pixel std (0..255) below this: flat; also the reliability mask's rule (checks)
MOSTLY_FLAT = 0.5     # a window (or hotspot) with more than this share of flat patches is weak evidence
AGGREGATION = "max"   # how overlapping windows combine in the P map, and windows in a hotspot

@dataclass(frozen=True)
class ScanTile:
    """One 384x384 window of the original and what the model said about it."""
    box: tuple[int, int, int, int]    # (left, top, right, bottom), original pixels
    fake_probability: float
    verdict: str
    flat_share: float = 0.0           # share of its 576 patches too flat to judge (reliability mask)
    grid_position: tuple[int, int] = (0, 0)   # (row, column) on the window grid
    rollout: np.ndarray | None = field(default=None, repr=False, compare=False)  # (24, 24) when asked

    @property
    def weak(self) -> bool:
        return self.flat_share > MOSTLY_FLAT


@dataclass(frozen=True)
class Hotspot:
    """Connected windows called AI-generated: their union, their max P, their indices in scan.tiles."""
    box: tuple[int, int, int, int]
    fake_probability: float
    tiles: tuple[int, ...]
    flat_share: float = 0.0           # mean flat share of its windows

    @property
    def mostly_flat(self) -> bool:
        return self.flat_share > MOSTLY_FLAT


@dataclass(frozen=True)
class LocalScan:
    tiles: tuple[ScanTile, ...]       # row by row, top to bottom, left to right
    hotspots: tuple[Hotspot, ...]     # strongest first
    stride: int                       # px between window starts, as scanned (may be widened by the cap)
    window: int
    image_size: tuple[int, int]       # (width, height) of the original
    p_map: np.ndarray = field(repr=False)   # (ceil(H / scale), ceil(W / scale)) float32, NaN: not scanned
    p_map_scale: int = P_MAP_CELL     # original px per p_map cell
    aggregation: str = AGGREGATION
    skipped: tuple[str, ...] = ()     # what was left out and why (the cap)
    margin: float = 0.1               # the inconclusive margin of the verdicts
    whole_image_probability: float = 0.0   # the analysis' own P (the centre crop)
    requested_stride: int = STRIDE
    max_windows: int = MAX_WINDOWS
    unscanned: tuple[tuple[int, int, int, int], ...] = ()   # boxes left out, original pixels

    @property
    def called(self) -> bool:
        return bool(self.hotspots)

    @property
    def top(self) -> Hotspot | None:
        return self.hotspots[0] if self.hotspots else None

    @property
    def max_probability(self) -> float:
        return max((t.fake_probability for t in self.tiles), default=0.0)

    @property
    def scanned_share(self) -> float:
        """Share of the image's area inside some window."""
        w, h = self.image_size
        return 1.0 - sum((r - l) * (b - t) for l, t, r, b in self.unscanned) / (w * h)

    @property
    def summary(self) -> str:
        """One sentence: how many windows are called AI-generated, where, and the rest."""
        n = len(self.tiles)
        tail = "" if not self.unscanned else f"; {1 - self.scanned_share:.0%} of the image not scanned (cap)"
        if not self.hotspots:
            unsure = sum(t.verdict == "inconclusive" for t in self.tiles)
            extra = f", {unsure} inconclusive" if unsure else ""
            return f"No window called AI-generated (max P {self.max_probability:.2f} of {n} windows{extra}){tail}."
        called = sum(len(h.tiles) for h in self.hotspots)
        top = self.top
        where = (f"in one region at {_corners(top.box)}, P {top.fake_probability:.2f}" if len(self.hotspots) == 1
                 else f"in {len(self.hotspots)} regions, the strongest at {_corners(top.box)}, "
                      f"P {top.fake_probability:.2f}")
        if top.mostly_flat:
            where += " (mostly flat: weak evidence)"
        in_hotspots = {i for h in self.hotspots for i in h.tiles}
        rest = [t.fake_probability for i, t in enumerate(self.tiles) if i not in in_hotspots]
        if not rest:
            rest_text = "every window called"
        elif max(rest) < THRESHOLD:
            rest_text = f"the rest below {THRESHOLD:g}"
        else:
            rest_text = f"the rest up to P {max(rest):.2f}"
        return f"{called} of {n} windows called AI-generated, {where}; {rest_text}{tail}."

    @property
    def notes(self) -> list[str]:
        """How the scan was made, where it departs from the defaults: the widened stride, what was left out."""
        out = []
        if self.stride != self.requested_stride:
            out.append(f"Stride widened from {self.requested_stride} to {self.stride} px to stay within the cap "
                       f"of {self.max_windows} windows.")
        out.extend(self.skipped)
        return out

    def to_record(self) -> dict:
        """Plain JSON: the tiles, hotspots, summary and how the scan was made."""
        return {
            "tiles": [{"box": list(t.box), "fake_probability": t.fake_probability, "verdict": t.verdict,
                       "flat_share": t.flat_share} for t in self.tiles],
            "hotspots": [{"box": list(h.box), "fake_probability": h.fake_probability, "tiles": list(h.tiles),
                          "flat_share": h.flat_share, "mostly_flat": h.mostly_flat} for h in self.hotspots],
            "summary": self.summary,
            "stride": self.stride,
            "window": self.window,
            "aggregation": self.aggregation,
            "skipped": list(self.skipped),
            "unscanned": [list(b) for b in self.unscanned],
            "cap": {"max_windows": self.max_windows, "requested_stride": self.requested_stride,
                    "stride": self.stride, "reached": bool(self.stride != self.requested_stride or self.unscanned)},
            "image_size": list(self.image_size),
            "whole_image_probability": self.whole_image_probability,
            "inconclusive_margin": self.margin,
        }


def _corners(box) -> str:
    l, t, r, b = box
    return f"({l}, {t})-({r}, {b})"


# -- the plan: where the windows go ----------------------------------------------------------------

def window_offsets(length: int, stride: int, window: int = WINDOW) -> list[int]:
    """Window starts along one axis: every `stride` px, the last flush with the far edge."""
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


def _centred_block(n_cols: int, n_rows: int, cap: int) -> tuple[int, int]:
    """The most windows (cols, rows) within the cap, closest to the image's shape on a tie."""
    shape = math.log(n_cols / n_rows)
    blocks = [(min(n_cols, cap // rows), rows) for rows in range(1, min(n_rows, cap) + 1)]
    return max(blocks, key=lambda b: (b[0] * b[1], -abs(math.log(b[0] / b[1]) - shape)))


def plan(size: tuple[int, int], stride: int = STRIDE, max_windows: int = MAX_WINDOWS):
    """-> (stride, xs, ys, unscanned): the stride used (widened up to the window for the cap), the
    window starts along x and y, and the boxes left out when even no overlap exceeds the cap."""
    w, h = size
    for s in range(stride, WINDOW + 1):
        xs, ys = window_offsets(w, s), window_offsets(h, s)
        if len(xs) * len(ys) <= max_windows:
            return s, xs, ys, ()
    cols, rows = _centred_block(len(xs), len(ys), max_windows)
    x0, y0 = (len(xs) - cols) // 2, (len(ys) - rows) // 2
    xs, ys = xs[x0:x0 + cols], ys[y0:y0 + rows]
    left, top, right, bottom = xs[0], ys[0], xs[-1] + WINDOW, ys[-1] + WINDOW
    strips = [(0, 0, left, h), (right, 0, w, h), (left, 0, right, top), (left, bottom, right, h)]
    return WINDOW, xs, ys, tuple(b for b in strips if b[2] > b[0] and b[3] > b[1])


# -- the scan ----------------------------------------------------------------------------------------

def flat_shares(crops: np.ndarray) -> np.ndarray:
    """(B, 384, 384, 3) uint8 windows -> (B,) share of their 16x16 patches that are flat, by the
    reliability mask's rule (pixel std below FLAT_STD)."""
    b = crops.shape[0]
    blocks = crops.astype(np.float32).reshape(b, GRID, PATCH_SIZE, GRID, PATCH_SIZE, 3)
    blocks = blocks.transpose(0, 1, 3, 2, 4, 5).reshape(b, GRID, GRID, -1)   # (B, 24, 24, 768)
    return (blocks.std(axis=-1) < FLAT_STD).mean(axis=(1, 2))


def hotspot_groups(called: np.ndarray) -> list[list[tuple[int, int]]]:
    """(rows, cols) bool grid of called windows -> groups of (row, col), 8-neighbourhood, row-major."""
    count, labels = cv2.connectedComponents(called.astype(np.uint8), connectivity=8)
    return [list(map(tuple, np.argwhere(labels == k))) for k in range(1, count)]


def local_scan(detector, analysis, *, stride: int = STRIDE, max_windows: int = MAX_WINDOWS,
               batch_size: int = BATCH_SIZE, progress=None, rollout: bool = False) -> LocalScan:
    """Scan `analysis.image` (the upright original; a region analysis still scans it all) with
    native-resolution windows: see the module docstring. `progress(done, total)` after each batch.

    InputError when the short side is under the window; P is what the detector reports
    (calibrated when it has a calibration), judged with the analysis' margin.
    """
    if analysis.preprocessing != detector.transform:
        raise ValueError("the analysis was made with other preprocessing than this detector's; "
                         "scan it with the detector that made it")
    if analysis.calibration != detector.calibration:
        raise ValueError("the analysis and this detector differ in calibration: their P are not comparable")
    if not (isinstance(stride, int) and 1 <= stride <= WINDOW):
        raise InputError(f"the local scan's stride must be a whole number of pixels from 1 to {WINDOW}, got {stride!r}")
    if not (isinstance(max_windows, int) and max_windows >= 1):
        raise InputError(f"the local scan's cap must be at least 1 window, got {max_windows!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    image: Image.Image = analysis.image
    w, h = image.size
    if min(w, h) < WINDOW:
        raise InputError(f"The image is {w}x{h}; the local scan needs at least {WINDOW} px on the short side "
                         f"(it cuts {WINDOW}x{WINDOW} windows at native resolution, without resizing). "
                         "The whole-image verdict already sees all of a picture this small.")
    used, xs, ys, unscanned = plan((w, h), stride, max_windows)
    positions = [(r, c) for r in range(len(ys)) for c in range(len(xs))]
    boxes = [(xs[c], ys[r], xs[c] + WINDOW, ys[r] + WINDOW) for r, c in positions]

    probs, flats, maps = [], [], []
    for start in range(0, len(boxes), batch_size):
        crops = [image.crop(b) for b in boxes[start:start + batch_size]]
        if rollout:
            p, scores = detector.rollout_crops(crops, analysis.head_fusion, analysis.discard_ratio)  # (n,), (n, 24, 24)
            maps.extend(scores)
        else:
            p = detector.probabilities(detector.pixels(crops))  # (n,)
        probs.extend(float(v) for v in p)
        flats.extend(float(v) for v in flat_shares(np.stack([np.asarray(c, dtype=np.uint8) for c in crops])))
        if progress is not None:  # gr.Progress is falsy
            progress(min(start + batch_size, len(boxes)), len(boxes))

    margin = analysis.inconclusive_margin
    tiles = tuple(ScanTile(box, p, verdict_for(p, margin), f, pos, maps[i] if rollout else None)
                  for i, (box, p, f, pos) in enumerate(zip(boxes, probs, flats, positions)))
    return LocalScan(tiles, find_hotspots(tiles), used, WINDOW, (w, h), _p_map(tiles, (w, h)),
                     P_MAP_CELL, AGGREGATION, _skipped(unscanned, max_windows), margin, analysis.fake_probability,
                     stride, max_windows, unscanned)


def find_hotspots(tiles: tuple[ScanTile, ...]) -> tuple[Hotspot, ...]:
    """The windows whose verdict is "ai-generated", grouped by 8-neighbourhood on the window grid
    (`grid_position`); each group's box the union of its windows, its P their max; strongest first."""
    rows = 1 + max((t.grid_position[0] for t in tiles), default=0)
    cols = 1 + max((t.grid_position[1] for t in tiles), default=0)
    called = np.zeros((rows, cols), bool)
    index = {}
    for i, t in enumerate(tiles):
        index[t.grid_position] = i
        called[t.grid_position] = t.verdict == "ai-generated"
    spots = []
    for group in hotspot_groups(called):
        members = tuple(sorted(index[pos] for pos in group))
        spots.append(Hotspot(
            box=(min(tiles[i].box[0] for i in members), min(tiles[i].box[1] for i in members),
                 max(tiles[i].box[2] for i in members), max(tiles[i].box[3] for i in members)),
            fake_probability=max(tiles[i].fake_probability for i in members), tiles=members,
            flat_share=float(np.mean([tiles[i].flat_share for i in members]))))
    # strongest first; on a tie the larger, then the one met first reading row by row
    return tuple(sorted(spots, key=lambda s: (-s.fake_probability, -len(s.tiles), s.tiles[0])))


def _p_map(tiles, size: tuple[int, int], cell: int = P_MAP_CELL) -> np.ndarray:
    """Each cell the max P of the windows overlapping it; NaN where no window reaches."""
    w, h = size
    out = np.full((math.ceil(h / cell), math.ceil(w / cell)), np.nan, np.float32)
    for t in tiles:
        l, top, r, b = t.box
        view = out[top // cell:math.ceil(b / cell), l // cell:math.ceil(r / cell)]
        np.fmax(view, np.float32(t.fake_probability), out=view)   # fmax: NaN (not yet reached) loses
    return out


def _skipped(unscanned, max_windows: int) -> tuple[str, ...]:
    return tuple(f"{_corners(b)} not scanned: beyond the cap of {max_windows} windows" for b in unscanned)
