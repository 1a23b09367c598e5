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
decoded a second time only when its pixels were turned by an EXIF orientation.
"""
from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from typing import Optional

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


def block_dct(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) luminance, H and W multiples of 8 -> (N, 8, 8) DCT of its unsaturated blocks, and
    which blocks were kept (N of them)."""
    h, w = y.shape
    blocks = y.reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)  # (N, 8, 8)
    keep = (blocks.min(axis=(1, 2)) > 0) & (blocks.max(axis=(1, 2)) < 255)  # clipping breaks the model
    return _C @ (blocks[keep] - 128.0) @ _C.T, keep


def _histogram(k: np.ndarray, weights: Optional[np.ndarray] = None) -> np.ndarray:
    """Counts of the integers -BINS..BINS without 0 (the zero bin says little and dominates)."""
    index = np.clip(k + BINS, 0, 2 * BINS).astype(np.int64)
    counts = np.bincount(index, weights=weights, minlength=2 * BINS + 1)
    return np.delete(counts, BINS).astype(np.float64)


def _error(simulated: np.ndarray, observed: np.ndarray) -> float:
    s, o = simulated / max(simulated.sum(), 1.0), observed / max(observed.sum(), 1.0)
    return float(((s - o) ** 2).sum())


def judge(observed: np.ndarray, estimate: np.ndarray, q2: int) -> Optional[int]:
    """One coefficient: observed dequantized values and the estimated unquantized ones ->
    the estimated first step q1 when double compression fits much better; None otherwise.
    ValueError when there are too few non-zero coefficients to judge."""
    h_obs = _histogram(np.round(observed / q2))
    if h_obs.sum() < MIN_COEFFICIENTS:
        raise ValueError("too few coefficients")
    # The estimate to quarter DCT units, counted once: every simulation then works on a few
    # thousand distinct values instead of every block (a value moves by at most 1/8).
    values, counts = np.unique(np.round(estimate * 4) / 4, return_counts=True)
    single = _error(_histogram(np.round(values / q2), counts), h_obs)
    best, best_err = None, np.inf
    # A first step coarser by MIN_STEP_RATIO or more: its empty bins stay. Closer steps leave a
    # period longer than the histogram, and fit the noise of the estimate instead.
    for q1 in range(max(q2 + 1, math.ceil(MIN_STEP_RATIO * q2)), max(MAX_Q1, 2 * q2) + 1):
        err = _error(_histogram(np.round(np.round(values / q1) * q1 / q2), counts), h_obs)
        if err < best_err:
            best, best_err = q1, err
    return best if best_err < DOUBLE_RATIO * single else None


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
        window = image.crop((x0, y0, x0 + win_w + 4, y0 + win_h + 4)).convert("L")
        y, x0, y0 = np.asarray(window, dtype=np.float64), 0, 0
    else:
        y = luminance(data)
        if y is None or y.shape != (h, w):
            return None
    aligned, _ = block_dct(y[y0:y0 + win_h, x0:x0 + win_w])
    shifted, _ = block_dct(y[y0 + 4:y0 + 4 + win_h, x0 + 4:x0 + 4 + win_w])  # off the grid: pre-quantization
    votes, judged = [], 0
    for u, v in FREQUENCIES:
        q2 = int(q[u, v])
        if not 2 <= q2 <= MAX_STEP:  # step 1: nothing quantized away; coarse: too few bins to judge
            continue
        try:
            q1 = judge(aligned[:, u, v], shifted[:, u, v], q2)
        except ValueError:
            continue
        judged += 1
        if q1 is not None:
            votes.append((f"({u},{v})", q1, q2))
    return DoubleJpeg(judged, tuple(votes), (win_w, win_h))
