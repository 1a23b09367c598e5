"""Measurement behind duplicates.DETAIL_MIN: how much detail a picture needs before its perceptual
hashes can be compared.

    python bench/bench_duplicates_detail.py

30 test pictures (20 `scene`s of random shapes, 10 `make_photo` gradients) at 13 contrasts
(0.002-0.3 of their own, around their mean): 390 pictures. For each, the detail measure
(`duplicates.detail`: the grey-level standard deviation of the 32x32 thumbnail pHash reads), and
whether its half-size JPEG q60 copy stays within the group thresholds (12 bits of pHash and of
dHash). Binned by detail: the share of copies found, and the share of pairs of *different*
pictures that would share a group (both hashes within 12 bits). Deterministic: no timings.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from cases_helpers import scene  # noqa: E402
from helpers import make_photo  # noqa: E402
from forensics.cases import duplicates  # noqa: E402

CONTRASTS = (0.002, 0.004, 0.007, 0.01, 0.015, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3)
BINS = (0, 0.5, 1, 2, 3, 4, 6, 8, 12, 100)


def contrast(img: Image.Image, c: float) -> Image.Image:
    a = np.asarray(img, dtype=np.float64)
    return Image.fromarray(np.clip(a.mean() + c * (a - a.mean()), 0, 255).round().astype(np.uint8))


def reencoded_half(img: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    img.resize((img.width // 2, img.height // 2)).save(buf, "JPEG", quality=60)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def raw_hashes(img: Image.Image):
    """pHash and dHash as imagehash gives them, with no detail rule (what the store did before)."""
    small = img.copy()
    small.thumbnail((512, 512))
    return imagehash.phash(small), imagehash.dhash(small)


def near(a, b) -> bool:
    return (a[0] - b[0]) <= duplicates.PHASH_BITS and (a[1] - b[1]) <= duplicates.DHASH_BITS


def main() -> None:
    pictures = [scene(s) for s in range(20)] + [make_photo(640, 480, seed=s) for s in range(10)]
    rows = []  # (detail, picture number, hashes, copy found)
    for c in CONTRASTS:
        for k, img in enumerate(pictures):
            x = contrast(img, c)
            h = raw_hashes(x)
            rows.append((duplicates.detail(x), k, h, near(h, raw_hashes(reencoded_half(x)))))
    print(f"{len(rows)} pictures; thresholds {duplicates.PHASH_BITS}/{duplicates.DHASH_BITS} bits; "
          f"DETAIL_MIN = {duplicates.DETAIL_MIN}")
    print("detail (grey levels) | pictures | copies found | different pictures grouped")
    for lo, hi in zip(BINS, BINS[1:]):
        sel = [r for r in rows if lo <= r[0] < hi]
        if not sel:
            continue
        pairs = [(a, b) for i, a in enumerate(sel) for b in sel[i + 1:] if a[1] != b[1]]
        grouped = sum(near(a[2], b[2]) for a, b in pairs)
        print(f"[{lo:g}, {hi:g}) | {len(sel)} | {np.mean([r[3] for r in sel]):.0%} | "
              f"{grouped}/{len(pairs)} ({grouped / max(1, len(pairs)):.1%})")
    for name, img in (("flat grey 4032x2012", Image.new("RGB", (4032, 2012), (128, 128, 128))),
                      ("8x8 one colour", Image.new("RGB", (8, 8), (200, 30, 30))),
                      ("1x1", Image.new("RGB", (1, 1), (0, 0, 0)))):
        p, d = raw_hashes(img)
        print(f"{name}: detail {duplicates.detail(img):.3f}, pHash {p}, dHash {d}")


if __name__ == "__main__":
    main()
