"""JPEG structure: APP segments, progressive or sequential, the IJG quality estimated from the
quantization tables, and whether the EXIF thumbnail still matches the image."""
from __future__ import annotations

import io
import struct
import warnings
from typing import Optional

import numpy as np
from PIL import Image

from .exif import IFD1, safe_ifd
from .limits import (MAX_JPEG_SEGMENTS, MAX_THUMBNAIL_BYTES, MAX_THUMBNAIL_PIXELS, THUMBNAIL_MATCH_MAD,
                     UNREADABLE, short_reason)
from .parts import JpegPart

_SOF = {0xC0: "baseline", 0xC1: "extended sequential", 0xC2: "progressive", 0xC3: "lossless",
        0xC5: "differential sequential", 0xC6: "progressive", 0xC7: "lossless",
        0xC9: "arithmetic sequential", 0xCA: "progressive", 0xCB: "lossless", 0xCD: "arithmetic sequential",
        0xCE: "progressive", 0xCF: "lossless"}

# IJG (libjpeg) standard tables, ITU-T T.81 Annex K, natural (row-major) order.
_STD_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64)
_STD_CHROMA = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32, dtype=np.float64)
_ZIGZAG = np.array([
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,
    7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31,
    39, 46, 53, 60, 61, 54, 47, 55, 62, 63])


def _scaled(std: np.ndarray, quality: int) -> np.ndarray:
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((std * scale + 50) / 100), 1, 255)


_SCALED = {q: (_scaled(_STD_LUMA, q), _scaled(_STD_CHROMA, q)) for q in range(1, 101)}


def estimate_quality(tables: dict[int, np.ndarray]) -> tuple[Optional[int], str]:
    """IJG quality whose scaled standard tables are closest to the file's (natural order)."""
    luma = tables.get(0)
    if luma is None:
        return None, "no luminance quantization table"
    chroma = tables.get(1)
    best, best_err = None, float("inf")
    for q, (sl, sc) in _SCALED.items():
        err = float(np.abs(luma - sl).mean())
        if chroma is not None:
            err = (err + float(np.abs(chroma - sc).mean())) / 2
        if err < best_err:
            best, best_err = q, err
    if best_err == 0:
        return best, f"quantization tables are the standard IJG tables at quality {best}"
    if best_err < 1.0:
        return best, f"close to the standard IJG tables at quality {best} (mean difference {best_err:.2f})"
    return best, (f"non-standard quantization tables (camera or editor specific); nearest IJG quality "
                  f"{best}, mean difference {best_err:.1f}")


# (APPn, how its body starts, what it is): the segments worth naming in a report.
_APP_SEGMENTS = (
    (0, b"JFIF", "APP0 JFIF"),
    (1, b"Exif\x00", "APP1 Exif"),
    (1, b"http://ns.adobe.com/xap/1.0/", "APP1 XMP"),
    (1, b"http://ns.adobe.com/xmp/extension/", "APP1 extended XMP"),
    (2, b"ICC_PROFILE", "APP2 ICC profile"),
    (2, b"MPF", "APP2 MPF (multi-picture)"),
    (11, b"JP", "APP11 JUMBF (C2PA)"),
    (13, b"Photoshop 3.0", "APP13 Photoshop IRB / IPTC"),
    (14, b"Adobe", "APP14 Adobe"),
)


def _app_name(n: int, body: bytes) -> str:
    ident = body[:32]
    for number, start, name in _APP_SEGMENTS:
        if n == number and ident.startswith(start):
            return name
    label = bytes(c for c in ident[:12] if 32 <= c < 127).decode("ascii").strip()
    return f"APP{n}" + (f" ({label})" if label else "")


def read_jpeg(data: bytes, exif_raw: Optional[bytes], image: Optional[Image.Image]) -> JpegPart:
    pos, segments, apps, tables, sof = 2, 0, [], {}, None
    problems = []
    while pos + 4 <= len(data) and segments < MAX_JPEG_SEGMENTS:
        if data[pos] != 0xFF:
            problems.append(f"marker expected at byte {pos}")
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            break
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        body = data[pos + 4:pos + 2 + length]
        segments += 1
        if 0xE0 <= marker <= 0xEF:
            name = _app_name(marker - 0xE0, body)
            if not apps or apps[-1] != name:  # C2PA and ICC span many segments: list once
                apps.append(name)
        elif marker == 0xDB:
            _parse_dqt(body, tables)
        elif marker in _SOF and sof is None:
            sof = _SOF[marker]
        elif marker == 0xDA:
            break
        pos += 2 + length
    if segments >= MAX_JPEG_SEGMENTS:
        problems.append(f"more than {MAX_JPEG_SEGMENTS} segments; the rest were not read")
    quality, qnote = estimate_quality(tables) if tables else (None, "no quantization tables found")
    thumb = _thumbnail(data, exif_raw, image)
    return JpegPart(error=f"{UNREADABLE}JPEG structure: " + "; ".join(problems) if problems else None,
                    quality=quality, quality_note=qnote, progressive=sof == "progressive",
                    app_segments=tuple(dict.fromkeys(apps)), **thumb)


def _parse_dqt(body: bytes, tables: dict) -> None:
    pos = 0
    while pos < len(body):
        pq, tq = body[pos] >> 4, body[pos] & 15
        size = 128 if pq else 64
        raw = body[pos + 1:pos + 1 + size]
        if len(raw) < size:
            return
        values = np.frombuffer(raw, dtype=">u2" if pq else np.uint8).astype(np.float64)
        natural = np.empty(64)
        natural[_ZIGZAG] = values
        tables[tq] = natural
        pos += 1 + size


_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}


def _thumbnail(data: bytes, exif_raw: Optional[bytes], image: Optional[Image.Image]) -> dict:
    if not exif_raw:
        return {}
    exif = Image.Exif()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exif.load(b"Exif\x00\x00" + exif_raw)
        ifd1 = safe_ifd(exif, IFD1)
    offset, length = ifd1.get(0x0201), ifd1.get(0x0202)
    if not isinstance(offset, int) or not isinstance(length, int) or length <= 0:
        return {}
    if length > MAX_THUMBNAIL_BYTES or offset + length > len(exif_raw):
        return {"thumbnail": True, "thumbnail_note": "EXIF thumbnail declared but out of range; not read"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            thumb = Image.open(io.BytesIO(exif_raw[offset:offset + length]))
            if thumb.width * thumb.height > MAX_THUMBNAIL_PIXELS:
                return {"thumbnail": True, "thumbnail_note": "EXIF thumbnail too large; not decoded"}
            thumb = thumb.convert("L")
    except Exception as exc:  # noqa: BLE001
        return {"thumbnail": True, "thumbnail_note": f"EXIF thumbnail could not be decoded ({short_reason(exc)})"}
    size = thumb.size
    orientation = exif.get(0x0112)
    if orientation in _TRANSPOSE:
        thumb = thumb.transpose(_TRANSPOSE[orientation])
    main = image if image is not None else _decode_small(data, thumb.size)
    if main is None:
        return {"thumbnail": True, "thumbnail_size": size, "thumbnail_note": "main image not decoded; not compared"}
    ta, ma = thumb.width / thumb.height, main.width / main.height
    if abs(ta / ma - 1) > 0.05:
        return {"thumbnail": True, "thumbnail_size": size,
                "thumbnail_note": f"aspect ratio {thumb.width}x{thumb.height} differs from the image's "
                                  f"{main.width}x{main.height} (cropped, or letterboxed by the camera); not compared"}
    small = np.asarray(main.convert("L").resize(thumb.size, Image.Resampling.BOX), dtype=np.float64)
    mad = float(np.abs(small - np.asarray(thumb, dtype=np.float64)).mean())
    if mad <= THUMBNAIL_MATCH_MAD:
        return {"thumbnail": True, "thumbnail_size": size, "thumbnail_matches": True,
                "thumbnail_note": f"matches the image (mean grey difference {mad:.1f}/255)"}
    return {"thumbnail": True, "thumbnail_size": size, "thumbnail_matches": False,
            "thumbnail_note": f"DIFFERS from the image (mean grey difference {mad:.1f}/255): the image may "
                              "have been edited or replaced after the thumbnail was written"}


def _decode_small(data: bytes, size: tuple[int, int]) -> Optional[Image.Image]:
    """The main JPEG at reduced scale (DCT scaling: cheap), upright; None if it cannot be decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > (Image.MAX_IMAGE_PIXELS or 89_478_485):
                return None
            img.draft("L", (size[0] * 2, size[1] * 2))
            img.load()
            from PIL import ImageOps
            return ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001
        return None
