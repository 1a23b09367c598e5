"""Signs of double JPEG compression in the DCT-coefficient histograms of the luminance.

A JPEG saved, decoded and saved again with another quantization step leaves periodic artefacts
in the histogram of each DCT coefficient: some bins stay empty, others hold two bins' worth
(Popescu and Farid 2004, "Statistical tools for digital forensics"; Lukáš and Fridrich 2003,
"Estimation of primary quantization matrix in double compressed JPEG images"). We follow
Lukáš and Fridrich:

1. take the luminance (from the RGB pixels already decoded when they are on the file's grid,
   with JPEG's own RGB -> Y weights; else decoded again as stored, without colour conversion),
   the 8x8 block DCT on the file's grid, and divide by the file's luminance quantization table:
   the histogram h of each low-frequency coefficient as the last compression left it;
2. estimate the coefficients *before* any quantization from the same pixels cut 4 pixels off
   the grid (the blocks no longer line up with the compression's, so its quantization is
   blurred away);
3. simulate, from that estimate, a single compression with the file's step q2 and double
   compressions with every first step q1 (q1 not dividing q2: a divisor leaves no trace);
4. a coefficient votes "double" when the best double fit beats the single one by DOUBLE_RATIO.

Known blind spots (the method's, stated in docs/METHODS.md): a first step that divides the
second (e.g. q95 then q75 often does) leaves no trace; heavy resizing between the two saves
erases the first grid; a last save at low quality (steps over MAX_STEP) leaves too few bins and
too much blocking to judge; flat or saturated images give too few coefficients.

Bounded work: at most MAX_WINDOW x MAX_WINDOW pixels from the centre of the image; the file is
decoded a second time only when its pixels were turned by an EXIF orientation. NumPy over all of
it at once: the block DCT as a few matrix products over the window, and for each coefficient
every first step q1 in one array and one bincount (tests/test_laundering.py keeps the loop it
replaced, block by block and step by step, and checks both decide alike).
"""
from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np
from PIL import Image

MAX_WINDOW = 1024            # pixels each way examined (16,384 blocks at most)
MAX_DECODE_PIXELS = 50_000_000  # larger files are not decoded a second time for this check
# The first 20 AC coefficients in zig-zag order, (row, column) of the 8x8 block: low frequencies,
# where natural images put enough energy for a histogram.
FREQUENCIES = ((0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3), (1, 2), (2, 1), (3, 0), (4, 0),
               (3, 1), (2, 2), (1, 3), (0, 4), (0, 5), (1, 4), (2, 3), (3, 2), (4, 1), (5, 0))
BINS = 40                    # histogram bins each side of zero compared
MIN_COEFFICIENTS = 500       # non-zero quantized values a coefficient needs to be judged
DOUBLE_RATIO = 0.5           # best double-compression fit must halve the single-compression error
MIN_VOTES = 3                # ...in at least this many coefficients, and in most of those judged
MAX_STEP = 12                # coefficients stored with a coarser step (last saved below ~q50) are not judged
MIN_STEP_RATIO = 1.2         # first steps tried are at least this many times the second
MAX_Q1 = 40                  # first-compression steps tried: q2 + 1 .. max(MAX_Q1, 2 q2) (q30 over q90 is ~8x)


@dataclass(frozen=True)
class DoubleJpeg:
    judged: int                          # coefficients with enough data to judge
    votes: tuple[tuple[str, int, int], ...]  # ("(u,v)", q1 estimate, q2) for each "double" vote
    window: tuple[int, int]              # pixels examined (width, height)

    @property
    def detected(self) -> bool:
        return len(self.votes) >= MIN_VOTES and 2 * len(self.votes) > self.judged

    @property
    def evidence(self) -> str:
        steps = ", ".join(f"{f}: step {q2}, earlier step ~{q1}" for f, q1, q2 in self.votes[:4])
        return (f"in {len(self.votes)} of {self.judged} low-frequency DCT coefficients of the luminance "
                f"({self.window[0]}x{self.window[1]} px examined) the histogram fits a second compression "
                f"over an earlier one far better than a single compression ({steps}); method of Lukáš and "
                "Fridrich 2003")


_C = np.array([[np.sqrt((1 if u == 0 else 2) / 8) * np.cos((2 * x + 1) * u * np.pi / 16) for x in range(8)]
               for u in range(8)])  # (8, 8) orthonormal DCT-II: JPEG's forward DCT
_ROW = 2 * BINS + 1          # histogram cells per row: -BINS..BINS, zero included until dropped
_NOT_ZERO = np.r_[0:BINS, BINS + 1:_ROW]  # the cells kept: all but the zero bin
_MAX_AC = 1024  # |AC coefficient| of an 8-bit block: at most 128 * 8 (the rows of C have norm 1)


def block_dct(centred: np.ndarray, frequencies) -> np.ndarray:
    """(H, W) luminance minus 128, H and W multiples of 8, and F (u, v) pairs -> (F, H/8 * W/8):
    coefficient (u, v) of C X C^T for every 8x8 block X, blocks row by row.

    A few matrix products over the whole window instead of two tiny ones per block, but the same
    8-term float64 dot products as C @ X @ C.T. That matters: coefficients (0,4) and (4,0) of an
    integer block are multiples of 1/8, so about half of them lie exactly half-way between two
    quarters and the last bit of the sum decides how `_quarters` rounds them, and at times the
    estimated first step with it. Other arithmetic (one 64-term product, cv2.dct, float32) moves
    those ties; the tests compare the decisions with the textbook form."""
    h, w = centred.shape
    cx = _C @ centred.reshape(h // 8, 8, w)  # (H/8, 8, W): C X for a row of blocks at once
    # row u of C X C^T: row u of each block's C X times C^T; (H/8, W/8, 8) -> (blocks, 8 v)
    rows = {u: (cx[:, u].reshape(h // 8, w // 8, 8) @ _C.T).reshape(-1, 8) for u in {u for u, _ in frequencies}}
    return np.stack([rows[u][:, v] for u, v in frequencies])


def unclipped(y: np.ndarray) -> np.ndarray:
    """(H, W) luminance, H and W multiples of 8 -> (H/8 * W/8,) whether each 8x8 block (row by
    row) is free of pixels at 0 or 255: clipping breaks the quantization model."""
    h, w = y.shape
    clipped = ((y <= 0) | (y >= 255)).reshape(h // 8, 8, w).any(axis=1)  # (H/8, W): any in each column of 8
    return ~clipped.reshape(h // 8, w // 8, 8).any(axis=2).ravel()


def _histograms(k: np.ndarray, weights: Optional[np.ndarray] = None) -> np.ndarray:
    """(R, V) integer-valued bins, optional (V,) weights -> (R, 2 BINS) counts of -BINS..BINS per
    row, without 0 (the zero bin says little and dominates); beyond +-BINS counts at the ends.
    One bincount for all rows: row r's cells are offset by r * _ROW."""
    rows = k.shape[0]
    index = np.clip(k + BINS, 0, 2 * BINS).astype(np.int64) + _ROW * np.arange(rows)[:, None]
    w = None if weights is None else np.tile(weights, rows)
    counts = np.bincount(index.ravel(), weights=w, minlength=rows * _ROW).reshape(rows, _ROW)
    return counts[:, _NOT_ZERO].astype(np.float64)


def _errors(simulated: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """(R, 2 BINS) simulated histograms, (2 BINS,) observed -> (R,) squared error of the shares."""
    s = simulated / np.maximum(simulated.sum(axis=1, keepdims=True), 1.0)
    o = observed / max(observed.sum(), 1.0)
    return ((s - o) ** 2).sum(axis=1)


def _quarters(estimates: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(F, N) estimated coefficients -> for each coefficient (distinct values in quarter DCT units,
    ascending; their counts): every simulation then works on a few hundred or thousand values
    instead of every block (a value moves by at most 1/8). One bincount for all coefficients: an
    AC coefficient of an 8-bit block lies within +-_MAX_AC, so each gets a fixed span of cells."""
    span = 8 * _MAX_AC + 1  # quarters -4 _MAX_AC .. 4 _MAX_AC
    cells = np.round(estimates * 4).astype(np.int64) + 4 * _MAX_AC + span * np.arange(len(estimates))[:, None]
    counts = np.bincount(cells.ravel(), minlength=span * len(estimates)).reshape(-1, span)
    for row in counts:
        present = np.flatnonzero(row)
        yield (present - 4 * _MAX_AC) / 4, row[present]


def judge(h_obs: np.ndarray, values: np.ndarray, counts: np.ndarray, q2: int) -> Optional[int]:
    """One coefficient: the (2 BINS,) histogram of its stored values in steps of q2, and the
    distinct estimated unquantized values with their counts -> the estimated first step q1 when
    double compression fits much better; None otherwise. Every q1 at once: one (1 + Q, V) array
    of simulated bins, one bincount."""
    # A first step coarser by MIN_STEP_RATIO or more: its empty bins stay. Closer steps leave a
    # period longer than the histogram, and fit the noise of the estimate instead.
    q1 = np.arange(max(q2 + 1, math.ceil(MIN_STEP_RATIO * q2)), max(MAX_Q1, 2 * q2) + 1)[:, None]  # (Q, 1)
    bins = np.empty((1 + len(q1), len(values)))
    bins[0] = np.round(values / q2)                        # a single compression with step q2
    bins[1:] = np.round(np.round(values / q1) * q1 / q2)   # first q1, then q2
    errors = _errors(_histograms(bins, counts), h_obs)     # (1 + Q,)
    best = int(np.argmin(errors[1:]))                      # the first of equal fits, the finest step
    return int(q1[best, 0]) if errors[1 + best] < DOUBLE_RATIO * errors[0] else None


def luminance(data: bytes) -> Optional[np.ndarray]:
    """The stored luminance of a JPEG as float64 (H, W), without colour conversion; None when
    the file is not a one- or three-channel JPEG or is too large to decode again."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        im = Image.open(io.BytesIO(data))
        if im.format != "JPEG" or im.width * im.height > MAX_DECODE_PIXELS or im.mode not in ("L", "RGB"):
            return None
        if im.mode == "RGB":
            im.draft("YCbCr", im.size)  # the decoder's own samples: Y exactly as stored
        im.load()
        y = np.asarray(im, dtype=np.float64)
    return y if y.ndim == 2 else y[..., 0]


def check(data: bytes, luma_table, size: tuple[int, int], image: Optional[Image.Image] = None
          ) -> Optional[DoubleJpeg]:
    """The double-compression test of a JPEG's bytes with its luminance quantization table
    (64 values, natural order) and its stored size. `image`: the decoded RGB when it is on the
    file's pixel grid (no EXIF rotation), which saves a second decode. None when the test cannot
    be run (too small, not decodable)."""
    if luma_table is None or len(luma_table) != 64:
        return None
    q = np.asarray(luma_table, dtype=np.int64).reshape(8, 8)
    w, h = size
    win_w, win_h = (min(MAX_WINDOW, w - 8) // 8) * 8, (min(MAX_WINDOW, h - 8) // 8) * 8
    if win_w < 64 or win_h < 64:
        return None
    x0, y0 = ((w - 8 - win_w) // 2) // 8 * 8, ((h - 8 - win_h) // 2) // 8 * 8  # on the file's grid
    if image is not None and image.size == (w, h):
        # Y = 0.299 R + 0.587 G + 0.114 B (Pillow's "L" is JPEG's luma): only the window converted
        y = np.asarray(image.crop((x0, y0, x0 + win_w + 4, y0 + win_h + 4)).convert("L"))  # uint8
    else:
        y = luminance(data)
        if y is None or y.shape != (h, w):
            return None
        y = y[y0:y0 + win_h + 4, x0:x0 + win_w + 4]
    # step 1: nothing quantized away; coarse: too few bins to judge
    tried = [(u, v) for u, v in FREQUENCIES if 2 <= q[u, v] <= MAX_STEP]
    if not tried:
        return DoubleJpeg(0, (), (win_w, win_h))
    steps = np.array([q[u, v] for u, v in tried])                             # (F,) q2 of each coefficient
    centred = y - 128.0                                                        # (win_h + 4, win_w + 4) float64
    aligned = block_dct(centred[:win_h, :win_w], tried)[:, unclipped(y[:win_h, :win_w])]  # (F, N) as stored
    shifted = block_dct(centred[4:, 4:], tried)[:, unclipped(y[4:, 4:])]      # off the grid: before quantization
    observed = _histograms(np.round(aligned / steps[:, None]))                 # (F, 2 BINS), all at once
    votes, judged = [], 0
    for (u, v), q2, h_obs, (values, counts) in zip(tried, steps.tolist(), observed, _quarters(shifted)):
        if h_obs.sum() < MIN_COEFFICIENTS:  # too few non-zero values to judge
            continue
        q1 = judge(h_obs, values, counts, q2)
        judged += 1
        if q1 is not None:
            votes.append((f"({u},{v})", q1, q2))
    return DoubleJpeg(judged, tuple(votes), (win_w, win_h))
