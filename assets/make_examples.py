"""Make the example images the app offers, so every example is ours to redistribute.

    python assets/make_examples.py

Writes three synthetic pictures (seeded, so the bytes are the same on every run with the
same Pillow/numpy) and copies matplotlib's public-domain Grace Hopper photo. Synthetic
pictures are neither camera photos nor generator output: use them to explore the
interface, not to judge the detector.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent


def smooth_noise(width: int, height: int, rng: np.random.Generator, octaves: int = 5) -> np.ndarray:
    """(height, width) float32 in [0, 1]: value noise summed over octaves."""
    out = np.zeros((height, width), np.float32)
    for o in range(octaves):
        cells = 4 * 2 ** o
        coarse = rng.random((cells, cells)).astype(np.float32)
        layer = np.asarray(Image.fromarray(coarse, "F").resize((width, height), Image.BICUBIC))
        out += layer / 2 ** o
    out -= out.min()
    return out / max(float(out.max()), 1e-6)


def wide_street(seed: int = 1) -> Image.Image:
    """A 16:9 town at dusk: the model sees only its middle, about half the width."""
    rng = np.random.default_rng(seed)
    w, h = 1600, 900
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    sky = (1 - y) * np.float32([40, 60, 120]) + y * np.float32([250, 170, 110])  # (h, 1, 3)
    img = Image.fromarray(np.broadcast_to(sky, (h, w, 3)).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    d.ellipse((1240, 150, 1360, 270), fill=(255, 214, 140))  # the moon, off to the right
    x = 0
    while x < w:  # a row of houses with lit windows
        bw, bh = int(rng.integers(90, 200)), int(rng.integers(180, 420))
        shade = int(rng.integers(35, 80))
        d.rectangle((x, 700 - bh, x + bw, 700), fill=(shade, shade - 10, shade + 15))
        for wx in range(x + 12, x + bw - 20, 30):
            for wy in range(700 - bh + 15, 680, 40):
                if rng.random() < 0.45:
                    d.rectangle((wx, wy, wx + 14, wy + 20), fill=(255, 220, 120))
        x += bw + int(rng.integers(0, 20))
    d.rectangle((0, 700, w, h), fill=(55, 55, 60))  # road
    for lx in range(0, w, 140):
        d.rectangle((lx, 795, lx + 70, 805), fill=(230, 230, 210))
    grain = (smooth_noise(w, h, rng, 6) - 0.5) * 18
    arr = np.clip(np.asarray(img, np.float32) + grain[..., None], 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB").filter(ImageFilter.GaussianBlur(0.6))


def tall_poster(seed: int = 2) -> Image.Image:
    """A portrait-format flat graphic (circles and stripes): no camera, no generator."""
    rng = np.random.default_rng(seed)
    w, h = 640, 1024
    img = Image.new("RGB", (w, h), (245, 240, 228))
    d = ImageDraw.Draw(img)
    for i in range(0, h, 64):
        d.rectangle((0, i, w, i + 24), fill=(30 + i // 8, 90, 160))
    for _ in range(14):
        cx, cy, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(30, 140))
        colour = tuple(int(c) for c in rng.integers(40, 250, 3))
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour, outline=(20, 20, 20), width=4)
    d.text((40, h - 90), "EXAMPLE", fill=(20, 20, 20), font_size=56)
    return img


def texture(seed: int = 3) -> Image.Image:
    """A square procedural texture (marble-like), 512x512."""
    rng = np.random.default_rng(seed)
    n = 512
    noise = smooth_noise(n, n, rng, 6)
    x = np.linspace(0, 8 * np.pi, n, dtype=np.float32)[None, :]
    veins = 0.5 + 0.5 * np.sin(x + 9 * noise)  # (n, n)
    base = np.float32([228, 222, 210]) * veins[..., None] + np.float32([70, 80, 95]) * (1 - veins[..., None])
    return Image.fromarray(base.astype(np.uint8), "RGB")


def main() -> None:
    wide_street().save(HERE / "wide_street.jpg", quality=90)
    tall_poster().save(HERE / "tall_poster.png", optimize=True)
    texture().save(HERE / "marble_texture.webp", quality=90)
    # US Navy photograph of Grace Hopper (public domain), shipped with matplotlib as sample data.
    sample = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    shutil.copyfile(sample, HERE / "grace_hopper.jpg")
    for p in sorted(HERE.glob("*.*")):
        if p.suffix != ".py" and p.suffix != ".md":
            print(f"{p.name}: {p.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
