"""Pictures and archives for the case-store tests."""
from __future__ import annotations

import io
import stat
import zipfile

import numpy as np
from PIL import Image, ImageDraw


def scene(seed: int, w: int = 640, h: int = 480) -> Image.Image:
    """A picture of a dozen random shapes: different seeds give different pictures."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        x1, y1 = x0 + rng.integers(40, 300), y0 + rng.integers(40, 300)
        fill = tuple(int(v) for v in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=fill)
    return img


def image_bytes(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def copy_of(img: Image.Image) -> bytes:
    """What a re-post does: 0.6x smaller, JPEG quality 70."""
    small = img.resize((int(img.width * 0.6), int(img.height * 0.6)), Image.BILINEAR)
    return image_bytes(small, "JPEG", quality=70)


def variant(img: Image.Image, k: int) -> Image.Image:
    """A member of a planted family: the same scene cropped by 20k pixels and brought back to size."""
    w, h = img.size
    d = 20 * k
    return img.crop((d, d, w - d // 2, h - d // 2)).resize((w, h))


def write_scenes(folder, seeds, fmt="PNG"):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in seeds:
        p = folder / f"scene{s}.{fmt.lower()}"
        p.write_bytes(image_bytes(scene(s), fmt))
        paths.append(p)
    return paths


def zip_with(members: list[tuple]) -> bytes:
    """members: (name, bytes) or (name, bytes, "symlink")."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for m in members:
            info = zipfile.ZipInfo(m[0])
            info.compress_type = zipfile.ZIP_DEFLATED
            if len(m) > 2 and m[2] == "symlink":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, m[1])
    return buf.getvalue()
