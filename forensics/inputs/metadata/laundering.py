"""Laundering indicators: signs in the file itself that it is a re-shared or re-saved copy.

Messengers, social feeds and screenshots strip metadata, re-compress and resize. Each indicator
says what was found and its numbers; together they say "this is probably not the original
file", which matters because the detector is known to move under exactly these changes. They are
shown with the metadata and never change P(AI-generated); none of them is a sign of
manipulation (see `NOTE`). Methods and sources: docs/METHODS.md ("Laundering indicators").
"""
from __future__ import annotations

import io
import warnings
from typing import Optional

from PIL import JpegImagePlugin

from . import double_jpeg

from .parts import LAUNDERING_NONE_NOTE as NONE_NOTE, LAUNDERING_NOTE as NOTE  # noqa: F401 - named here too
from .parts import C2paPart, ExifPart, Indicator, JpegPart, TextPart, XmpPart

LOW_QUALITY = 85                              # IJG quality at or below this: re-compressed, most likely
PLATFORM_LONG_EDGES = (1080, 1280, 1600, 2048)  # long edges platforms commonly resize to
# Phone makers whose own camera apps save 4:2:0: on their files 4:2:0 says nothing.
PHONE_MAKES = ("apple", "samsung", "google", "xiaomi", "huawei", "honor", "oneplus", "oppo", "vivo",
               "realme", "motorola", "lge", "hmd global", "nothing")
# Common screen resolutions (desktop, laptop, phone), either orientation: a screenshot's size.
SCREEN_SIZES = frozenset(s for w, h in (
    (1280, 720), (1280, 800), (1280, 1024), (1360, 768), (1366, 768), (1440, 900), (1536, 864), (1600, 900),
    (1680, 1050), (1920, 1080), (1920, 1200), (2048, 1152), (2560, 1080), (2560, 1440), (2560, 1600),
    (2736, 1824), (2880, 1800), (2880, 1864), (3024, 1964), (3440, 1440), (3456, 2234), (3840, 2160),
    (750, 1334), (828, 1792), (1080, 1920), (1080, 2340), (1080, 2400), (1125, 2436), (1170, 2532),
    (1179, 2556), (1242, 2688), (1284, 2778), (1290, 2796), (1440, 2560), (1440, 3088), (1440, 3200))
    for s in ((w, h), (h, w)))
_SUBSAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}


def indicators(data: bytes, fmt: Optional[str], pil, c2pa: "C2paPart", exif: "ExifPart", xmp: "XmpPart",
               text: "TextPart", jpeg: "Optional[JpegPart]", image=None) -> tuple[Indicator, ...]:
    """Every indicator the file shows. `pil` is Pillow's header parse of `data` (None when it
    failed); the parts are what the metadata reader found; `image` the decoded upright RGB when
    the caller has it (the double-JPEG test reads its pixels instead of decoding again)."""
    found: list[Indicator] = []
    size = pil.size if pil is not None else None
    bare = not (exif.present or exif.error or xmp.present or xmp.error or c2pa.present or c2pa.error)
    if bare:
        found.append(Indicator("no-metadata", "No EXIF, XMP or C2PA",
                               "the file carries none of them; cameras write EXIF, and messengers, feeds and "
                               "screenshots drop it"))
    if jpeg is not None and jpeg.quality is not None and jpeg.quality <= LOW_QUALITY \
            and not jpeg.quality_note.startswith("non-standard"):
        found.append(Indicator("jpeg-quality", f"JPEG quality {jpeg.quality}",
                               f"{jpeg.quality_note}; at or below {LOW_QUALITY}, where platforms re-compress "
                               "(cameras usually save at 90 or above)"))
    if size is not None and max(size) in PLATFORM_LONG_EDGES:
        found.append(Indicator("platform-size", f"Long edge {max(size)} px",
                               f"{size[0]}x{size[1]}: a long edge platforms commonly resize to "
                               f"({', '.join(map(str, PLATFORM_LONG_EDGES))} px)"))
    sampling = _subsampling(pil) if fmt == "JPEG" else None
    make = (exif.make or "").strip()
    if sampling == "4:2:0" and make and not make.lower().startswith(PHONE_MAKES):
        found.append(Indicator("chroma-subsampling", "4:2:0 chroma on a camera file",
                               f"EXIF Make '{make[:40]}' but the colour is stored at quarter resolution (4:2:0), "
                               "as re-encoders and web tools store it; many cameras store 4:2:2 or 4:4:4"))
    if fmt == "JPEG" and jpeg is not None:
        upright = exif.orientation in (None, 0, 1)  # else the decoded pixels are turned off the grid
        double = _double_jpeg(data, pil, image if upright else None)
        if double is not None and double.detected:
            found.append(Indicator("double-jpeg", "Signs of double JPEG compression", double.evidence))
    if fmt == "PNG" and bare and not text.entries and size in SCREEN_SIZES and _srgb(pil):
        found.append(Indicator("screenshot", "Looks like a screenshot",
                               f"a PNG of {size[0]}x{size[1]} (a common screen size), sRGB, with no metadata"))
    return tuple(found)


def _subsampling(pil) -> Optional[str]:
    try:
        return _SUBSAMPLING.get(JpegImagePlugin.get_sampling(pil))
    except Exception:  # noqa: BLE001 - a malformed frame header: say nothing
        return None


def _double_jpeg(data: bytes, pil, image) -> Optional[double_jpeg.DoubleJpeg]:
    try:
        table = getattr(pil, "quantization", {}).get(0)
        return double_jpeg.check(data, list(table) if table is not None else None, pil.size, image)
    except Exception:  # noqa: BLE001 - hostile or truncated data: the indicator is simply not shown
        return None


def _srgb(pil) -> bool:
    """An sRGB chunk, an ICC profile that names sRGB, or no colour information (read as sRGB)."""
    info = pil.info if pil is not None else {}
    if "srgb" in info:
        return True
    icc = info.get("icc_profile")
    if not icc:
        return "gamma" not in info and "chromaticity" not in info
    try:
        from PIL import ImageCms
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "srgb" in ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).lower()
    except Exception:  # noqa: BLE001 - an unreadable profile is not sRGB for this purpose
        return False
