"""Untrusted image input -> RGB Pillow image plus the facts a report needs.

Everything an analyst can fix (empty file, wrong type, truncated data, a decompression bomb)
raises `InputError` with a message that says what is wrong and what to do.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..core.errors import InputError
from .metadata import Metadata, png_without_text, read_metadata, register_heif, unreadable

# Formats we decode. Anything else (PDF, PSD, SVG, ICO, ...) is refused before decoding.
# HEIF (iPhone .heic) through pillow-heif; AVIF through Pillow's own plugin (Pillow >= 11.3).
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "HEIF", "AVIF")
ACCEPTED_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp",
                       ".heic", ".heif", ".hif", ".avif")
register_heif()
# Pillow's own warning threshold (~89 MP): 8000x6000 (48 MP) camera files and most panoramas
# pass; bombs (a 1 KB PNG that declares 100k x 100k pixels) are refused before decoding. Staying
# at Pillow's threshold means it never warns for what we accept (no global warning filters).
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
MAX_BYTES = 200 * 1024 * 1024

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, Image.Image]


@dataclass(frozen=True)
class InputInfo:
    """Facts about the given image, recorded in every result and report."""

    name: str | None          # file name (no directory) when known
    sha256: str | None        # hex SHA-256 of the bytes given; None for an in-memory image
    num_bytes: int | None
    format: str | None        # decoder's format name, e.g. "JPEG"
    width: int                # after EXIF orientation
    height: int
    mode: str                 # Pillow mode before conversion to RGB, e.g. "CMYK"
    frames: int = 1           # > 1: animated; only the first frame is analysed
    exif_orientation: int = 1
    has_icc_profile: bool = False
    alpha_flattened: bool = False  # transparency composited onto white
    # Provenance and metadata read from the original bytes (C2PA, EXIF, XMP, text chunks, JPEG
    # structure, generator hints); None for an in-memory PIL image. Not part of equality.
    metadata: Optional[Metadata] = field(default=None, compare=False, repr=False)

    @property
    def animated(self) -> bool:
        return self.frames > 1

    def notes(self) -> list[str]:
        """Plain-language remarks an analyst should see beside the verdict."""
        out = []
        if self.animated:
            out.append(f"Animated image with {self.frames} frames: only the first frame was analysed.")
        if self.exif_orientation not in (1, 0):
            out.append(f"EXIF orientation {self.exif_orientation} applied before analysis.")
        if self.alpha_flattened:
            out.append("Transparency was flattened onto a white background.")
        if self.mode not in ("RGB", "RGBA", "P", "L", "LA"):
            out.append(f"Converted from Pillow mode {self.mode} to 8-bit RGB.")
        return out


def load_image(source: ImageSource, *, name: str | None = None,
               max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES,
               c2pa_trust: str | os.PathLike | None = None) -> tuple[Image.Image, InputInfo]:
    """Decode `source` (path, bytes or PIL image) into an upright 8-bit RGB image and its facts.

    From bytes or a path the facts include `metadata`, read from the original bytes after the
    pixels decoded (it never fails the load); `c2pa_trust` is a PEM file of C2PA trust anchors
    (default: $FORENSICS_C2PA_TRUST).
    """
    if isinstance(source, Image.Image):
        return _from_pil(source, name=name, sha256=None, num_bytes=None, max_pixels=max_pixels)
    data, name = _read_bytes(source, name, max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    try:
        rgb, info = _decode(data, name, digest, max_pixels)
    except InputError as exc:
        # Pillow refuses a PNG whose text chunks are over its limits (a compressed text bomb) before
        # it gets to the pixels. Metadata must never stop the analysis: decode without the text
        # chunks; the metadata reader reports them as unreadable from the original bytes.
        if not (data[:8] == b"\x89PNG\r\n\x1a\n" and _PNG_TEXT_LIMIT.search(str(exc))):
            raise
        rgb, info = _decode(png_without_text(data), name, digest, max_pixels)
        info = replace(info, num_bytes=len(data))
    return rgb, replace(info, metadata=_metadata(data, rgb, c2pa_trust))


_PNG_TEXT_LIMIT = re.compile(r"MAX_TEXT_CHUNK|MAX_TEXT_MEMORY|memory used in text chunks")


def _decode(data: bytes, name, digest, max_pixels) -> tuple[Image.Image, InputInfo]:
    try:
        img = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        raise InputError(
            f"{_label(name)} is not an image we can read. Accepted formats: "
            f"{', '.join(ACCEPTED_FORMATS)}. Check that the file is not a document, archive or "
            "web page renamed as an image.") from None
    except Image.DecompressionBombError:
        raise _too_large(name, None, max_pixels) from None
    except Exception as exc:  # noqa: BLE001 - hostile bytes make Pillow's parsers raise anything
        # (OSError, SyntaxError, TypeError, KeyError, struct.error, ... all seen in fuzzing)
        raise InputError(f"{_label(name)} could not be decoded ({exc}). The file may be corrupt; "
                         "try re-exporting it.") from None
    return _from_pil(img, name=name, sha256=digest, num_bytes=len(data), max_pixels=max_pixels)


def _metadata(data: bytes, rgb: Image.Image, trust) -> Metadata:
    try:
        return read_metadata(data, image=rgb, trust=trust)
    except Exception as exc:  # noqa: BLE001 - read_metadata guards each part; this is the last net
        return unreadable(f"{type(exc).__name__}: {exc}")


def file_size(path: Path, kind: str) -> int:
    """Bytes in the file at `path`; InputError when there is none (or a folder), saying so."""
    if not path.exists():
        raise InputError(f"No file at {path}. Check the path and try again.")
    if not path.is_file():
        raise InputError(f"{path} is not a file (a folder?). Give {kind}.")
    return path.stat().st_size


def _read_bytes(source, name, max_bytes) -> tuple[bytes, str | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = name or path.name
        size = file_size(path, "an image file")
        if size > max_bytes:
            raise InputError(f"{_label(name)} is {size / 2**20:.1f} MB; the limit is "
                             f"{max_bytes / 2**20:.0f} MB. Downscale or re-compress it first.")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{_label(name)} could not be read ({exc.strerror or exc}).") from None
    else:
        raise InputError(f"Expected a file path, bytes or a PIL image, got {type(source).__name__}.")
    if not data:
        raise InputError(f"{_label(name)} is empty (0 bytes). The upload or copy may have failed.")
    if len(data) > max_bytes:
        raise InputError(f"{_label(name)} is {len(data) / 2**20:.1f} MB; the limit is "
                         f"{max_bytes / 2**20:.0f} MB. Downscale or re-compress it first.")
    return data, name


def _from_pil(img: Image.Image, *, name, sha256, num_bytes, max_pixels) -> tuple[Image.Image, InputInfo]:
    width, height = img.size
    if width < 1 or height < 1:
        raise InputError(f"{_label(name)} has no pixels ({width}x{height}).")
    if width * height > max_pixels:
        raise _too_large(name, (width, height), max_pixels)
    mode = img.mode
    try:
        frames = int(getattr(img, "n_frames", 1) or 1)  # TIFF/GIF parse more headers here
        if frames > 1:
            img.seek(0)
        img.load()
        orientation = int(img.getexif().get(0x0112, 1) or 1)
        if img.format == "HEIF":  # libheif applies the rotation itself and resets the EXIF tag
            orientation = int(img.info.get("original_orientation") or orientation)
        has_icc = bool(img.info.get("icc_profile"))
        upright = ImageOps.exif_transpose(img)
        rgb, flattened = _to_rgb(upright)
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise _too_large(name, (width, height), max_pixels) from None
    except Exception as exc:  # noqa: BLE001 - as in load_image: any decoder failure is a bad file
        raise InputError(f"{_label(name)} is damaged or truncated ({exc}). Try the original file "
                         "or re-export it.") from None
    info = InputInfo(name=name, sha256=sha256, num_bytes=num_bytes,
                     format=img.format, width=rgb.width, height=rgb.height, mode=mode,
                     frames=frames, exif_orientation=orientation, has_icc_profile=has_icc,
                     alpha_flattened=flattened)
    return rgb, info


def _to_rgb(img: Image.Image) -> tuple[Image.Image, bool]:
    """Any Pillow mode -> 8-bit RGB. High bit-depth is scaled, not clipped; alpha goes onto white."""
    mode = img.mode
    if mode == "RGB":
        return img, False
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _high_depth_to_rgb(img), False
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        if rgba.getextrema()[3][0] == 255:  # fully opaque: nothing to flatten
            return rgba.convert("RGB"), False
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB"), True
    return img.convert("RGB"), False


def _high_depth_to_rgb(img: Image.Image) -> Image.Image:
    arr = np.asarray(img)
    if img.mode == "F":
        top = 1.0 if float(np.nanmax(arr)) <= 1.0 else 255.0
        arr8 = np.clip(np.nan_to_num(arr) / top * 255.0, 0, 255)
    else:
        # 16-bit samples (also Pillow's 32-bit "I" mode holding 16-bit PNG data)
        top = 65535.0 if int(arr.max(initial=0)) > 255 or img.mode.startswith("I;16") else 255.0
        arr8 = np.clip(arr.astype(np.float64) / top * 255.0, 0, 255)
    return Image.fromarray(np.round(arr8).astype(np.uint8), mode="L").convert("RGB")


def _too_large(name, size, max_pixels) -> InputError:
    declared = f" declares {size[0]}x{size[1]} pixels ({size[0] * size[1] / 1e6:.0f} MP)" if size else " is too large"
    return InputError(f"{_label(name)}{declared}; the limit is {max_pixels / 1e6:.0f} MP. "
                      "This may be a decompression bomb; if it is a real photo, downscale it first.")


def _label(name: str | None) -> str:
    return f"'{name}'" if name else "The file"
