"""`read_metadata`: each part of the original bytes read on its own, behind a guard, so that one
unreadable part says why and never hides the others."""
from __future__ import annotations

import io
import os
import time
import warnings
from typing import Optional

from PIL import Image

from .credentials import read_c2pa
from .exif import read_exif
from .jpeg import read_jpeg
from .laundering import indicators as laundering_indicators
from .limits import UNREADABLE, short_reason
from .parts import C2paPart, ExifPart, JpegPart, Metadata, TextPart, XmpPart
from .png_text import png_without_text, read_png_text
from .summary import generator_hints
from .xmp import read_xmp


def read_metadata(data: bytes, *, image: Optional[Image.Image] = None,
                  trust: Optional[str | os.PathLike] = None) -> Metadata:
    """Read every metadata part of `data` (the file's original bytes). Never raises.

    image: the decoded, upright image when the caller has it (used to check the EXIF thumbnail).
    trust: a PEM file of trust anchors for C2PA signers; default: $FORENSICS_C2PA_TRUST, else none.
    """
    started = time.perf_counter()
    data = bytes(data)
    fmt = sniff_format(data)
    pil, pil_error = _open_pil(data)
    exif, exif_raw = _guard_pair(ExifPart, "EXIF", read_exif, pil, pil_error)
    png_xmp = None
    text = TextPart()
    if fmt == "PNG":
        text, png_xmp = _guard_pair(TextPart, "PNG text chunks", read_png_text, data)
    xmp = _guard(XmpPart, "XMP", read_xmp, data, pil, png_xmp)
    jpeg = _guard(JpegPart, "JPEG structure", read_jpeg, data, exif_raw, image) if fmt == "JPEG" else None
    c2pa_part = _guard(C2paPart, "C2PA", read_c2pa, data, fmt, trust, jpeg)
    hints = generator_hints(c2pa_part, exif, xmp, text)
    try:  # each indicator guards itself; this is the last net (an indicator is evidence, not required)
        laundering = laundering_indicators(data, fmt, pil, c2pa_part, exif, xmp, text, jpeg, image)
    except Exception:  # noqa: BLE001
        laundering = ()
    return Metadata(format=fmt, c2pa=c2pa_part, exif=exif, xmp=xmp, text=text, jpeg=jpeg, hints=hints,
                    seconds=time.perf_counter() - started, laundering=laundering)


def unreadable(reason: str) -> Metadata:
    """A result for when the reader itself could not run (every part says why)."""
    msg = UNREADABLE + reason
    return Metadata(c2pa=C2paPart(error=msg), exif=ExifPart(error=msg), xmp=XmpPart(error=msg),
                    text=TextPart(error=msg))


def _guard(kind, label, fn, *args):
    """Run one part's reader; any exception becomes that part's "metadata unreadable" error."""
    try:
        return fn(*args)
    except RecursionError:
        result = kind(error=f"{UNREADABLE}{label}: nested too deeply")
    except MemoryError:
        result = kind(error=f"{UNREADABLE}{label}: too large to read")
    except Exception as exc:  # noqa: BLE001 - hostile metadata makes parsers raise anything
        result = kind(error=f"{UNREADABLE}{label}: {short_reason(exc)}")
    return result


def _guard_pair(kind, label, fn, *args):
    """As `_guard` for a reader that returns (part, extra); extra is None when it failed."""
    result = _guard(kind, label, fn, *args)
    return result if isinstance(result, tuple) else (result, None)


def sniff_format(data: bytes) -> Optional[str]:
    """The container format from the first bytes (not the file name)."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[:2] == b"BM":
        return "BMP"
    if data[4:8] == b"ftyp":
        brands = data[8:12] + data[16:min(len(data), 64)]
        if b"avif" in brands or b"avis" in brands:
            return "AVIF"
        if any(b in brands for b in (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")):
            return "HEIF"
    return None


def _open_pil(data: bytes):
    """Pillow's header parse (no pixel decoding), or the reason it failed."""
    register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Image.open(io.BytesIO(data)), None
    except Exception as exc:  # noqa: BLE001
        if data[:8] == b"\x89PNG\r\n\x1a\n":  # Pillow refuses oversized text chunks: EXIF is elsewhere
            try:
                return Image.open(io.BytesIO(png_without_text(data))), None
            except Exception:  # noqa: BLE001
                pass
        return None, short_reason(exc)


_HEIF_READY = False


def register_heif() -> None:
    """Let Pillow open HEIF/HEIC through pillow-heif (idempotent; a no-op where it is missing)."""
    global _HEIF_READY
    if not _HEIF_READY:
        _HEIF_READY = True
        try:
            import pillow_heif
            pillow_heif.register_heif_opener()
        except Exception:  # noqa: BLE001 - HEIF support is optional; other formats still work
            pass
