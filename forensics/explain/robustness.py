"""Does the verdict survive the way the image travelled? The delivery-path sweep.

Analysts rarely hold the original: they hold what a messenger, a feed or a re-save made of it.
The sweep re-makes those copies along a grid and asks the model again:

- sizes: the long edge at the original, 2048, 1080, 720 and 512 px (only sizes below the
  original), Pillow LANCZOS, the short edge round(short * L / long);
- encodings: none, or Pillow JPEG at 95, 85, 75, 60, 45 and 30 (Pillow's default chroma
  subsampling, 4:2:0), decoded again.

Every size with every encoding; the cell (original size, no encoding) is the analysis itself, so
a 1200-px image gives 4 x 7 - 1 = 27 variants. A region analysis sweeps the region's window: the
whole image is resized and re-encoded, then the same region (scaled with the image) is cut out.

Cost: the variants are made on worker threads (Pillow releases the GIL while it resizes and
codes JPEG), then all crops go through one plain forward pass (no explanation). `chunk=k` runs
the model on k crops at a time as they are made instead (overlap for an accelerator, where the
forward is short); on the 2-core CPU one pass measured 0.94x and chunks of 9 1.22x one batched
forward of 27 crops (bench/bench_robustness.py).
"""
from __future__ import annotations

import io
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image

from ..core.errors import InputError
from ..core.preprocess import crop_input, crop_region
from ..core.verdict import verdict_for

SIZES = (2048, 1080, 720, 512)           # long edges (px) tried below the original's
QUALITIES = (95, 85, 75, 60, 45, 30)     # Pillow JPEG qualities, best first
RESAMPLE = Image.LANCZOS
ENCODER = "Pillow JPEG, default settings (4:2:0 chroma subsampling), decoded again"
CHUNK = None   # crops per forward pass; None: all in one

# The stability rule (docs/METHODS.md, "The stability rule"): the call is kept only when it holds on
# every copy a messenger or feed commonly makes -- the original size, 2048 and 1080 px, each as it
# is or as JPEG at 95, 85 or 75 -- and on at least half of all copies.
COMMON_SIZES = (None, 2048, 1080)
COMMON_QUALITIES = (None, 95, 85, 75)
MAX_CHANGED_SHARE = 0.5
WORKERS = 4    # threads making variants (each holds at most one decoded copy of the image)

_VERDICT_WORDS = {"ai-generated": "AI-generated", "real": "real", "inconclusive": "inconclusive"}


@dataclass(frozen=True)
class Variant:
    """One re-made copy and what the model said about it."""
    long_edge: int | None      # None: the original size
    quality: int | None        # None: not re-encoded
    fake_probability: float
    verdict: str

    @property
    def label(self) -> str:
        size = "original size" if self.long_edge is None else f"{self.long_edge} px"
        return f"{size}, " + ("not re-encoded" if self.quality is None else f"JPEG q{self.quality}")


@dataclass(frozen=True)
class Robustness:
    probability: float                  # the analysis' own P(AI-generated)
    verdict: str                        # ... and verdict, which every variant is compared with
    original_long_edge: int
    sizes: tuple[int | None, ...]       # the grid's rows: None (original) first, then smaller
    qualities: tuple[int | None, ...]   # the grid's columns: None (not re-encoded) first
    variants: tuple[Variant, ...]       # row by row, the (None, None) cell left out
    region: tuple[int, int, int, int] | None = None
    skipped: tuple[str, ...] = ()       # sizes left out, and why (a region too small once scaled)

    def cell(self, long_edge: int | None, quality: int | None) -> Variant | None:
        """The variant at one grid cell; None for the original cell and for skipped sizes."""
        return next((v for v in self.variants if v.long_edge == long_edge and v.quality == quality), None)

    @property
    def changed(self) -> tuple[Variant, ...]:
        """The variants whose verdict differs from the original's."""
        return tuple(v for v in self.variants if v.verdict != self.verdict)

    @property
    def holds(self) -> float:
        """Share of the variants whose verdict equals the original's (1.0 when none were made)."""
        return 1.0 - len(self.changed) / len(self.variants) if self.variants else 1.0

    @property
    def robust(self) -> bool:
        return not self.changed

    @property
    def common_changed(self) -> tuple[Variant, ...]:
        """The changed variants that a messenger or feed commonly makes (COMMON_SIZES x COMMON_QUALITIES)."""
        return tuple(v for v in self.changed if v.long_edge in COMMON_SIZES and v.quality in COMMON_QUALITIES)

    @property
    def unstable(self) -> bool:
        """The stability rule: the call changes on a common copy, or on more than MAX_CHANGED_SHARE of all."""
        return bool(self.common_changed) or 1.0 - self.holds > MAX_CHANGED_SHARE

    @property
    def instability(self) -> str | None:
        """Why the rule demotes the call, in words (None when it keeps it)."""
        if not self.unstable:
            return None
        n, changed = len(self.variants), len(self.changed)
        if self.common_changed:
            first = self.common_changed[0]
            why = (f"the call changes on {len(self.common_changed)} cop{'y' if len(self.common_changed) == 1 else 'ies'} "
                   f"a messenger or feed commonly makes (first: {first.label}, P {first.fake_probability:.2f}, "
                   f"{_VERDICT_WORDS[first.verdict]})")
        else:
            why = f"the call changes on {changed} of {n} copies (more than {MAX_CHANGED_SHARE:.0%})"
        return f"not stable under re-encoding: {why}"

    @property
    def lowest_probability(self) -> float:
        return min((v.fake_probability for v in self.variants), default=self.probability)

    @property
    def highest_probability(self) -> float:
        return max((v.fake_probability for v in self.variants), default=self.probability)

    @property
    def first_quality_change(self) -> int | None:
        """The best JPEG quality at which some size's verdict changes; None if none does."""
        return max((v.quality for v in self.changed if v.quality is not None), default=None)

    @property
    def first_size_change(self) -> int | None:
        """The largest long edge (px) at which some encoding's verdict changes; None if none does."""
        return max((v.long_edge for v in self.changed if v.long_edge is not None), default=None)

    @property
    def summary(self) -> str:
        """One line: "robust to re-encoding ..." or "depends on the delivery path: calls it ..."."""
        n, span = len(self.variants), f"P {self.lowest_probability:.2f}-{self.highest_probability:.2f}"
        if not n:
            return "Robustness not measured: no variant could be made."
        if self.robust:
            return (f"Robust to re-encoding: the verdict ({_VERDICT_WORDS[self.verdict]}) holds in all {n} "
                    f"re-sized and re-encoded copies ({span}).")
        counts: dict[str, int] = {}
        for v in self.changed:
            counts[v.verdict] = counts.get(v.verdict, 0) + 1
        called = " or ".join(_VERDICT_WORDS[k] for k in sorted(counts, key=lambda k: -counts[k]))
        where = [w for w in (self._along(None, "quality"), self._along(None, "size")) if w]
        if not where:  # only combinations of a smaller size and a re-encoding change it
            first = max(self.changed, key=lambda v: (v.long_edge or 0, v.quality or 0))
            where = [f"when resized and re-encoded (first at {first.long_edge} px, JPEG q{first.quality})"]
        kept = n - len(self.changed)
        return (f"Depends on the delivery path: calls it {called} {' and '.join(where)} "
                f"(the verdict holds in {kept} of {n} copies; {span}).")

    def _along(self, fixed, axis: str) -> str:
        """Where the verdict changes along the original-size row (axis "quality") or the
        not-re-encoded column (axis "size"), in words; "" when it does not."""
        if axis == "quality":
            steps = [q for q in self.qualities if q is not None]
            flipped = [q for q in steps if (c := self.cell(fixed, q)) is not None and c.verdict != self.verdict]
            unit, tail = (lambda q: f"q{q}"), "and below"
            prefix = "at JPEG "
        else:
            steps = [s for s in self.sizes if s is not None]
            flipped = [s for s in steps if (c := self.cell(s, fixed)) is not None and c.verdict != self.verdict]
            unit, tail = (lambda s: f"{s} px"), "and smaller"
            prefix = "at "
        if not flipped:
            return ""
        first = flipped[0]
        if flipped == steps[steps.index(first):]:  # every step from the first change on
            return f"{prefix}{unit(first)}" + (f" {tail}" if first != steps[-1] else "")
        return prefix + ", ".join(unit(s) for s in flipped)


def variant_size(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """(width, height) with the long edge at `long_edge` and the short round(short * L / long)."""
    w, h = size
    k = long_edge / max(w, h)
    return (long_edge, max(1, round(h * k))) if w >= h else (max(1, round(w * k)), long_edge)


def jpeg_roundtrip(image: Image.Image, quality: int) -> Image.Image:
    """Pillow JPEG at `quality` with its default settings, decoded again to RGB.

    Saves a copy: `Image.save` keeps its settings on the image object (`encoderinfo`), so threads
    saving one shared image at different qualities would race and encode at each other's quality.
    """
    buf = io.BytesIO()
    image.copy().save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def scaled_region(region, original: tuple[int, int], resized: tuple[int, int]) -> tuple[float, ...]:
    """A region box of the original in pixels of a resized copy (each axis by its own scale)."""
    sx, sy = resized[0] / original[0], resized[1] / original[1]
    l, t, r, b = region
    return (l * sx, t * sy, r * sx, b * sy)


def grid(size: tuple[int, int], sizes=SIZES, qualities=QUALITIES):
    """-> (rows, columns, cells): the sizes below the original's long edge, the encodings, and
    every (long_edge, quality) cell but the original one, row by row."""
    long = max(size)
    rows = (None,) + tuple(L for L in sizes if L < long)
    cols = (None,) + tuple(qualities)
    return rows, cols, [(L, q) for L in rows for q in cols if (L, q) != (None, None)]


def robustness(detector, analysis, *, sizes=SIZES, qualities=QUALITIES, chunk: int | None = CHUNK,
               workers: int | None = None) -> Robustness:
    """Sweep the delivery path of `analysis` (made by `detector`): see the module docstring.

    P is what the detector reports (calibrated when it has a calibration), so each variant's
    verdict is comparable with the analysis'. The original image is never changed.
    """
    transform = analysis.preprocessing
    if transform != detector.transform:
        raise ValueError("the analysis was made with other preprocessing than this detector's; "
                         "sweep it with the detector that made it")
    if analysis.calibration != detector.calibration:
        raise ValueError("the analysis and this detector differ in calibration: their P are not comparable")
    image, region = analysis.image, analysis.region
    rows, cols, cells = grid(image.size, sizes, qualities)
    workers = workers or min(WORKERS, os.cpu_count() or 1)

    def resize(long_edge):
        return image if long_edge is None else image.resize(variant_size(image.size, long_edge), RESAMPLE)

    def make(resized: Future, quality):
        copy = resized.result()
        if quality is not None:
            copy = jpeg_roundtrip(copy, quality)
        if region is None:
            return crop_input(copy, transform)[0]
        try:
            return crop_region(copy, scaled_region(region, image.size, copy.size), transform)[0]
        except InputError:  # the region is under MIN_REGION_SIDE at this size
            return None

    probabilities: list[float | None] = []
    with ThreadPoolExecutor(workers, thread_name_prefix="robustness") as pool:
        # every resize is queued before any variant that waits on it, so no worker waits on a
        # task that has not started
        resized = {L: pool.submit(resize, L) for L in rows}
        made = [pool.submit(make, resized[L], q) for L, q in cells]
        step = max(1, chunk or len(made))
        for start in range(0, len(made), step):
            crops = [f.result() for f in made[start:start + step]]
            ready = [c for c in crops if c is not None]
            p = iter(detector.probabilities(detector.pixels(ready))) if ready else iter(())  # (n,)
            probabilities += [None if c is None else float(next(p)) for c in crops]

    margin = analysis.inconclusive_margin
    variants = tuple(Variant(L, q, p, verdict_for(p, margin)) for (L, q), p in zip(cells, probabilities)
                     if p is not None)
    skipped = tuple(dict.fromkeys(f"{L} px: the region is under the smallest size analysed once scaled"
                                  for (L, q), p in zip(cells, probabilities) if p is None))
    kept_rows = tuple(L for L in rows if L is None or any(v.long_edge == L for v in variants))
    return Robustness(analysis.fake_probability, analysis.model_verdict, max(image.size), kept_rows, cols,
                      variants, region, skipped)
