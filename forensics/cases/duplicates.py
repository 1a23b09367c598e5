"""Near-duplicates: perceptual hashes of each picture, and the groups they make.

Two items share a group when their pHash (DCT of a 32x32 grey thumbnail) AND their dHash
(gradient signs of a 9x8 one) are both within a few bits: pHash survives resizing,
re-encoding and light crops; requiring dHash too keeps two different pictures with a similar
overall layout apart.

A picture with too little detail (a flat grey photo, a one-colour icon, a 1x1 pixel) has no
hashes to compare: both shrink it to a grey thumbnail and read signs of differences that are
then only rounding. Such pictures all hash to zeros and would all fall into one group, so they
get no hashes (None) and no group, and the case says "too little detail to compare".
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image

# Bits of 64 that may differ. Measured on synthetic scenes: halving, JPEG q40 and resize + q60
# differ by 0-2 bits; a 3% crop off every side by up to 12 (pHash) and 9 (dHash); 741 pairs of
# different scenes by 20 or more (pHash) and 15 or more (dHash).
PHASH_BITS = 12
DHASH_BITS = 12

# Detail: the standard deviation, in grey levels (0-255), of the 32x32 grey thumbnail pHash reads.
# Measured (bench/bench_duplicates_detail.py: 30 test pictures at 13 contrasts, 390 in all, each
# with a half-size JPEG q60 copy): below 0.5 levels 7.0% of pairs of different pictures shared a
# group (every flat picture with every other); from 0.5 up 0.0-0.4% (1.0-1.3% among full-contrast
# ones, whose test gradients share a layout). The cut-off keeps a 2x margin above 0.5. Pictures
# from 1 to 6 levels are still compared, but their copies were found in 71-100% per bin (all from
# 6 up): dim pictures may miss a group, flat ones no longer make a false one.
DETAIL_MIN = 1.0
TOO_LITTLE_DETAIL = "too little detail to compare"


def detail(image: Image.Image) -> float:
    """The grey-level spread of the thumbnail the hashes read (see DETAIL_MIN)."""
    small = image.copy()
    small.thumbnail((512, 512))
    return _detail(small)


def _detail(small: Image.Image) -> float:
    grey = small.convert("L").resize((32, 32), Image.Resampling.LANCZOS)  # what imagehash.phash reads
    return float(np.asarray(grey, dtype=np.float64).std())


def hashes(image: Image.Image) -> tuple[str | None, str | None]:
    """(pHash, dHash) of an RGB picture, as 16 hex digits each; (None, None) when it has too
    little detail to compare (DETAIL_MIN)."""
    small = image.copy()
    small.thumbnail((512, 512))  # both hashes shrink to <= 32 px; this saves the work on 48 MP
    if _detail(small) < DETAIL_MIN:
        return None, None
    return str(imagehash.phash(small)), str(imagehash.dhash(small))


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def near(p1: str | None, d1: str | None, p2: str | None, d2: str | None) -> bool:
    """Both hashes within their bits; never for a picture without hashes (too little detail)."""
    if not (p1 and d1 and p2 and d2):
        return False
    return distance(p1, p2) <= PHASH_BITS and distance(d1, d2) <= DHASH_BITS


def group_for(phash: str | None, dhash: str | None, others) -> int | None:
    """The group of the closest near-duplicate among `others` (rows with phash, dhash,
    dup_group), or None when none is near (always None without hashes)."""
    best = None
    for o in others:
        if near(phash, dhash, o.phash, o.dhash):
            d = distance(phash, o.phash)
            if best is None or d < best[0]:
                best = (d, o.dup_group)
    return None if best is None else best[1]


@dataclass(frozen=True)
class Group:
    """A near-duplicate group of two or more live items."""
    id: int
    items: tuple[int, ...]
    spread: float | None             # max - min P(AI-generated) across the group
    largest: int | None              # item id of the copy with most pixels
    least_compressed: int | None     # lossless first, then the highest JPEG quality, then the most
                                     # pixels, then most bytes per pixel: the best original candidate


def groups(rows) -> dict[int, Group]:
    """Rows (id, dup_group, fake_probability, width, height, size, quality) -> {group id: Group},
    only groups with two or more members."""
    counts = Counter(r.dup_group for r in rows)
    members: dict[int, list] = {g: [] for g, n in counts.items() if n > 1 and g is not None}
    for r in rows:  # most items are alone in their group: no group to show
        if r.dup_group in members:
            members[r.dup_group].append(r)
    out = {}
    for gid, rs in members.items():
        ps = [r.fake_probability for r in rs if r.fake_probability is not None]
        sized = [r for r in rs if r.width and r.height and r.size]
        out[gid] = Group(
            gid, tuple(r.id for r in rs), (max(ps) - min(ps)) if ps else None,
            max(sized, key=lambda r: (r.width * r.height, r.quality or 0, r.size)).id if sized else None,
            max(sized, key=lambda r: (r.quality or 0, r.width * r.height, r.size / (r.width * r.height))).id
            if sized else None)
    return out
