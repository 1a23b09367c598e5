"""The bounds every metadata reader keeps, and the helpers that keep what it shows short and printable."""
from __future__ import annotations

from typing import Any, Optional

UNREADABLE = "metadata unreadable: "

# Bounds. A hostile file can declare anything; nothing here reads more than these.
MAX_TEXT_CHUNK = 1 << 20          # bytes of one PNG text value (after decompression)
MAX_TEXT_TOTAL = 8 << 20          # bytes of all PNG text values together
MAX_TEXT_CHUNKS = 256             # text chunks read per file
MAX_PNG_CHUNKS = 100_000          # chunks walked per PNG
MAX_SHOWN = 2000                  # characters of a value kept in the result
MAX_JSON_DEPTH = 64               # nesting of ComfyUI / other JSON text values
MAX_XMP = 1 << 20                 # bytes of one XMP packet
MAX_HISTORY = 100                 # XMP history events kept
MAX_C2PA_JSON = 8 << 20           # characters of the manifest store's JSON report
MAX_C2PA_ITEMS = 200              # actions / ingredients / failures kept
MAX_JPEG_SEGMENTS = 2000
MAX_THUMBNAIL_BYTES = 1 << 16     # an EXIF thumbnail lives in a 64 KB APP1 segment
MAX_THUMBNAIL_PIXELS = 1 << 20
THUMBNAIL_MATCH_MAD = 12.0        # mean absolute grey difference (0-255) still called a match


def short_reason(exc: BaseException) -> str:
    """The exception in one line of at most 300 characters, for a part's "metadata unreadable" error."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__.lstrip("_")
    return (f"{name}: {text}" if text else name)[:300]


def clean_text(value: Any, limit: int = MAX_SHOWN) -> Optional[str]:
    """A field value as printable text of at most `limit` characters; None when nothing is left."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    elif isinstance(value, (tuple, list)):
        value = " ".join(str(v) for v in value[:32])
    text = str(value).replace("\x00", " ").strip()
    text = "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text[:limit])
    return text or None


def join_words(*parts: Optional[str]) -> Optional[str]:
    """The parts that are present, joined by spaces (e.g. lens make and model); None when none are."""
    out = " ".join(p for p in parts if p)
    return out or None
