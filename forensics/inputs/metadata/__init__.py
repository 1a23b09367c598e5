"""Provenance and metadata of the ORIGINAL file bytes: content credentials, EXIF, XMP, text chunks.

`read_metadata(data)` never raises and never changes the pixel analysis. Each part (C2PA, EXIF,
XMP, text chunks, JPEG structure) is read on its own; a part that cannot be read carries
"metadata unreadable: <reason>" and the others still appear. Every size is bounded (see
`limits`), XML is parsed with defusedxml and never expands entities, and nothing is fetched
from the network (C2PA remote manifests and OCSP are switched off).

Always read the bytes as received: re-encoding strips C2PA manifests and most metadata.

Generator hints (see `forensics.hints`) are derived from the fields read here. They are shown
beside the verdict as independent evidence and never change P(AI-generated).

The package, one module a job: `reader` (read_metadata, the guard around each part), `parts` (the
result types), `credentials` (C2PA), `exif`, `xmp`, `png_text`, `jpeg`, `summary` (hints and panel
rows) and `limits` (every bound, and the helpers that keep shown text short).
"""
from __future__ import annotations

from .credentials import ENV_C2PA_TRUST, NO_TRUST_LIST
from .jpeg import estimate_quality
from .parts import LAUNDERING_NOTE, Indicator
from .limits import (MAX_C2PA_ITEMS, MAX_C2PA_JSON, MAX_HISTORY, MAX_JPEG_SEGMENTS, MAX_JSON_DEPTH,
                     MAX_PNG_CHUNKS, MAX_SHOWN, MAX_TEXT_CHUNK, MAX_TEXT_CHUNKS, MAX_TEXT_TOTAL,
                     MAX_THUMBNAIL_BYTES, MAX_THUMBNAIL_PIXELS, MAX_XMP, THUMBNAIL_MATCH_MAD, UNREADABLE)
from .parts import (C2paAction, C2paIngredient, C2paPart, ExifPart, JpegPart, Metadata, TextEntry, TextPart,
                    XmpPart)
from .png_text import png_without_text
from .reader import read_metadata, register_heif, sniff_format, unreadable
from .summary import panel, panel_rows

__all__ = [
    "Indicator", "LAUNDERING_NOTE",
    "read_metadata", "unreadable", "Metadata", "panel", "panel_rows", "register_heif", "png_without_text",
    "sniff_format", "estimate_quality", "UNREADABLE", "ENV_C2PA_TRUST", "NO_TRUST_LIST",
    "C2paAction", "C2paIngredient", "C2paPart", "ExifPart", "XmpPart", "TextEntry", "TextPart", "JpegPart",
    "MAX_TEXT_CHUNK", "MAX_TEXT_TOTAL", "MAX_TEXT_CHUNKS", "MAX_PNG_CHUNKS", "MAX_SHOWN", "MAX_JSON_DEPTH",
    "MAX_XMP", "MAX_HISTORY", "MAX_C2PA_JSON", "MAX_C2PA_ITEMS", "MAX_JPEG_SEGMENTS", "MAX_THUMBNAIL_BYTES",
    "MAX_THUMBNAIL_PIXELS", "THUMBNAIL_MATCH_MAD",
]
