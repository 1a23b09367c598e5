"""Provenance and metadata of the ORIGINAL file bytes: content credentials, EXIF, XMP, text chunks.

`read_metadata(data)` never raises and never changes the pixel analysis. Each part (C2PA, EXIF,
XMP, text chunks, JPEG structure) is read on its own; a part that cannot be read carries
"metadata unreadable: <reason>" and the others still appear. Every size is bounded (see the
limits below), XML is parsed with defusedxml and never expands entities, and nothing is fetched
from the network (C2PA remote manifests and OCSP are switched off).

Always read the bytes as received: re-encoding strips C2PA manifests and most metadata.

Generator hints (see `forensics.hints`) are derived from the fields read here. They are shown
beside the verdict as independent evidence and never change P(AI-generated).
"""
from __future__ import annotations

import io
import json
import os
import re
import struct
import time
import warnings
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np
from PIL import Image

from . import hints as H

UNREADABLE = "metadata unreadable: "
ENV_C2PA_TRUST = "FORENSICS_C2PA_TRUST"

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

_SIGNING_TIME_NOTE = "not timestamped (no trusted signing time)"
NO_TRUST_LIST = "signature valid; signer not checked against a trust list"


# ----------------------------------------------------------------------------------------------
# result types (frozen: a result is evidence and is never edited after reading)

@dataclass(frozen=True)
class C2paAction:
    action: str
    digital_source_type: Optional[str] = None
    software_agent: Optional[str] = None
    when: Optional[str] = None
    manifest: str = "active"   # "active" or the label of an ingredient's manifest

    def line(self) -> str:
        parts = [self.action]
        if self.digital_source_type:
            parts.append(f"digitalSourceType {self.digital_source_type.rsplit('/', 1)[-1]}")
        if self.software_agent:
            parts.append(f"by {self.software_agent}")
        if self.when:
            parts.append(f"at {self.when}")
        if self.manifest != "active":
            parts.append(f"(in ingredient manifest {self.manifest})")
        return ", ".join(parts)


@dataclass(frozen=True)
class C2paIngredient:
    title: Optional[str]
    format: Optional[str]
    relationship: Optional[str]
    has_manifest: bool = False

    def line(self) -> str:
        rel = f"{self.relationship}: " if self.relationship else ""
        return f"{rel}{self.title or '(untitled)'} ({self.format or 'unknown format'})" + (
            ", carries its own credentials" if self.has_manifest else "")


@dataclass(frozen=True)
class C2paPart:
    present: bool = False
    error: Optional[str] = None
    validation_state: Optional[str] = None    # "Invalid", "Valid" or "Trusted" (c2pa-rs)
    trust: str = ""                           # one line: what the signature and trust check mean
    failures: tuple[str, ...] = ()            # "code: explanation"
    claim_generator: Optional[str] = None
    signer: Optional[str] = None              # certificate common name
    issuer: Optional[str] = None
    algorithm: Optional[str] = None
    signing_time: Optional[str] = None
    title: Optional[str] = None
    actions: tuple[C2paAction, ...] = ()
    ingredients: tuple[C2paIngredient, ...] = ()
    manifests: int = 0
    trust_list: Optional[str] = None          # name of the configured trust list, if any

    @property
    def valid(self) -> bool:
        return self.present and self.validation_state in ("Valid", "Trusted")

    def summary(self) -> str:
        if self.error:
            return self.error
        if not self.present:
            return "No content credentials (C2PA manifest) in the file."
        return self.trust

    def to_record(self) -> dict:
        return {"present": self.present, "error": self.error, "validation_state": self.validation_state,
                "trust": self.trust, "trust_list": self.trust_list, "failures": list(self.failures),
                "claim_generator": self.claim_generator, "signer": self.signer, "issuer": self.issuer,
                "algorithm": self.algorithm, "signing_time": self.signing_time, "title": self.title,
                "manifests": self.manifests,
                "actions": [{"action": a.action, "digital_source_type": a.digital_source_type,
                             "software_agent": a.software_agent, "when": a.when, "manifest": a.manifest}
                            for a in self.actions],
                "ingredients": [{"title": i.title, "format": i.format, "relationship": i.relationship,
                                 "has_manifest": i.has_manifest} for i in self.ingredients]}


@dataclass(frozen=True)
class ExifPart:
    present: bool = False
    error: Optional[str] = None
    make: Optional[str] = None
    model: Optional[str] = None
    lens: Optional[str] = None
    software: Optional[str] = None
    datetime_original: Optional[str] = None
    gps_present: bool = False
    gps: Optional[tuple[float, float]] = None  # (latitude, longitude) in decimal degrees
    user_comment: Optional[str] = None
    maker_note: Optional[str] = None           # text, or "binary, N bytes"
    image_description: Optional[str] = None
    orientation: Optional[int] = None

    def to_record(self, redact_location: bool = False) -> dict:
        gps = None
        if self.gps is not None:
            gps = "redacted" if redact_location else {"latitude": self.gps[0], "longitude": self.gps[1]}
        return {"present": self.present, "error": self.error, "make": self.make, "model": self.model,
                "lens": self.lens, "software": self.software, "datetime_original": self.datetime_original,
                "gps_present": self.gps_present, "gps": gps, "user_comment": self.user_comment,
                "maker_note": self.maker_note, "image_description": self.image_description,
                "orientation": self.orientation}


@dataclass(frozen=True)
class XmpPart:
    present: bool = False
    error: Optional[str] = None
    num_bytes: int = 0
    digital_source_types: tuple[str, ...] = ()
    creator_tool: Optional[str] = None
    credit: Optional[str] = None
    history: tuple[str, ...] = ()

    def to_record(self) -> dict:
        return {"present": self.present, "error": self.error, "num_bytes": self.num_bytes,
                "digital_source_types": list(self.digital_source_types), "creator_tool": self.creator_tool,
                "credit": self.credit, "history": list(self.history)}


@dataclass(frozen=True)
class TextEntry:
    key: str
    value: str            # first MAX_SHOWN characters
    length: int           # characters in the full value
    chunk: str            # "tEXt", "zTXt" or "iTXt"

    @property
    def truncated(self) -> bool:
        return self.length > len(self.value)


@dataclass(frozen=True)
class TextPart:
    entries: tuple[TextEntry, ...] = ()
    error: Optional[str] = None

    def get(self, key: str) -> Optional[TextEntry]:
        return next((e for e in self.entries if e.key == key), None)

    def to_record(self) -> dict:
        return {"error": self.error,
                "entries": [{"key": e.key, "value": e.value, "length": e.length, "truncated": e.truncated,
                             "chunk": e.chunk} for e in self.entries]}


@dataclass(frozen=True)
class JpegPart:
    error: Optional[str] = None
    quality: Optional[int] = None             # estimated IJG quality 1-100
    quality_note: str = ""
    progressive: bool = False
    app_segments: tuple[str, ...] = ()        # e.g. "APP0 JFIF", "APP1 Exif", "APP11 JUMBF (C2PA)"
    thumbnail: bool = False
    thumbnail_size: Optional[tuple[int, int]] = None
    thumbnail_matches: Optional[bool] = None  # None: not compared
    thumbnail_note: str = ""

    def to_record(self) -> dict:
        return {"error": self.error, "quality": self.quality, "quality_note": self.quality_note,
                "progressive": self.progressive, "app_segments": list(self.app_segments),
                "thumbnail": self.thumbnail,
                "thumbnail_size": list(self.thumbnail_size) if self.thumbnail_size else None,
                "thumbnail_matches": self.thumbnail_matches, "thumbnail_note": self.thumbnail_note}


@dataclass(frozen=True)
class Metadata:
    """Everything read from the original bytes, plus the generator hints derived from it."""

    format: Optional[str] = None
    c2pa: C2paPart = field(default_factory=C2paPart)
    exif: ExifPart = field(default_factory=ExifPart)
    xmp: XmpPart = field(default_factory=XmpPart)
    text: TextPart = field(default_factory=TextPart)
    jpeg: Optional[JpegPart] = None           # JPEG files only
    hints: tuple[H.Hint, ...] = ()
    seconds: float = 0.0                      # time the read took

    @property
    def errors(self) -> tuple[str, ...]:
        parts = (self.c2pa.error, self.exif.error, self.xmp.error, self.text.error,
                 self.jpeg.error if self.jpeg else None)
        return tuple(e for e in parts if e)

    @property
    def hint_note(self) -> str:
        return H.INDEPENDENCE_NOTE if self.hints else H.ABSENCE_NOTE

    def hint_lines(self) -> list[str]:
        """One line per hint, or the absence note: what goes first in a panel or a report."""
        return [h.line() for h in self.hints] or [H.ABSENCE_NOTE]

    def rows(self, redact_location: bool = False) -> list[tuple[str, str]]:
        """(field, value) rows of everything that was found, for a panel or a PDF table."""
        return panel_rows(self, redact_location=redact_location)

    def to_record(self, redact_location: bool = False) -> dict:
        """A plain JSON-able dict for exports. `redact_location` leaves GPS coordinates out."""
        return {
            "format": self.format,
            "generator_hints": [h.to_record() for h in self.hints],
            "hint_note": self.hint_note,
            "c2pa": self.c2pa.to_record(),
            "exif": self.exif.to_record(redact_location),
            "xmp": self.xmp.to_record(),
            "text_chunks": self.text.to_record(),
            "jpeg": self.jpeg.to_record() if self.jpeg else None,
            "errors": list(self.errors),
            "location_redacted": bool(redact_location and self.exif.gps is not None),
        }  # no timing: a record of the same file is the same record


# ----------------------------------------------------------------------------------------------
# entry point

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
    exif, exif_raw = _guard_pair(ExifPart, "EXIF", _read_exif, pil, pil_error)
    png_xmp = None
    text = TextPart()
    if fmt == "PNG":
        text, png_xmp = _guard_pair(TextPart, "PNG text chunks", _read_png_text, data)
    xmp = _guard(XmpPart, "XMP", _read_xmp, data, pil, png_xmp)
    jpeg = _guard(JpegPart, "JPEG structure", _read_jpeg, data, exif_raw, image) if fmt == "JPEG" else None
    c2pa_part = _guard(C2paPart, "C2PA", _read_c2pa, data, fmt, trust, jpeg)
    hints = _hints(c2pa_part, exif, xmp, text)
    return Metadata(format=fmt, c2pa=c2pa_part, exif=exif, xmp=xmp, text=text, jpeg=jpeg, hints=hints,
                    seconds=time.perf_counter() - started)


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
        result = kind(error=f"{UNREADABLE}{label}: {_reason(exc)}")
    return result


def _guard_pair(kind, label, fn, *args):
    """As `_guard` for a reader that returns (part, extra); extra is None when it failed."""
    result = _guard(kind, label, fn, *args)
    return result if isinstance(result, tuple) else (result, None)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__.lstrip("_")
    return (f"{name}: {text}" if text else name)[:300]


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


_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
         "TIFF": "image/tiff", "HEIF": "image/heif", "AVIF": "image/avif"}


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
        return None, _reason(exc)


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


# ----------------------------------------------------------------------------------------------
# EXIF

_EXIF_IFD, _GPS_IFD, _IFD1 = 0x8769, 0x8825, -1


def _read_exif(pil, pil_error) -> tuple[ExifPart, Optional[bytes]]:
    if pil is None:
        return ExifPart(error=f"{UNREADABLE}EXIF: the file could not be opened ({pil_error})"), None
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = pil.info.get("exif")
        exif = pil.getexif()
        if not len(exif) and not raw:
            return ExifPart(), None
        sub = _safe_ifd(exif, _EXIF_IFD, problems, "Exif sub-IFD")
        gps_ifd = _safe_ifd(exif, _GPS_IFD, problems, "GPS IFD")
    # Pillow skips what it cannot parse and only warns: say so, and keep what was read.
    problems += [" ".join(str(w.message).split())[:120] for w in caught[:5]]
    if raw and not len(exif):
        problems.append(f"{len(raw)} bytes of EXIF, no entry readable")

    def tag(t):  # IFD0 first, then the Exif sub-IFD (DALL-E 2 puts comments in IFD0)
        v = exif.get(t)
        return v if v is not None else sub.get(t)

    gps = _gps(gps_ifd)
    orientation = exif.get(0x0112)
    raw_tiff = raw[6:] if isinstance(raw, bytes) and raw.startswith(b"Exif\x00\x00") else raw
    part = ExifPart(
        present=True, error=(f"{UNREADABLE}EXIF: partly unreadable ({'; '.join(dict.fromkeys(problems))})"
                             if problems else None), make=_text(tag(0x010F)), model=_text(tag(0x0110)),
        lens=_join(_text(sub.get(0xA433)), _text(sub.get(0xA434))), software=_text(tag(0x0131)),
        datetime_original=_text(tag(0x9003)), gps_present=bool(gps_ifd), gps=gps,
        user_comment=_user_comment(tag(0x9286)), maker_note=_maker_note(tag(0x927C)),
        image_description=_text(tag(0x010E)),
        orientation=int(orientation) if isinstance(orientation, int) else None)
    return part, raw_tiff if isinstance(raw_tiff, bytes) else None


def _safe_ifd(exif, tag, problems: Optional[list] = None, label: str = "") -> dict:
    try:
        return dict(exif.get_ifd(tag) or {})
    except Exception as exc:  # noqa: BLE001 - a malformed sub-IFD loses only that IFD
        if problems is not None:
            problems.append(f"{label}: {_reason(exc)}")
        return {}


def _text(value: Any, limit: int = MAX_SHOWN) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    elif isinstance(value, (tuple, list)):
        value = " ".join(str(v) for v in value[:32])
    text = str(value).replace("\x00", " ").strip()
    text = "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text[:limit])
    return text or None


def _join(*parts: Optional[str]) -> Optional[str]:
    out = " ".join(p for p in parts if p)
    return out or None


def _user_comment(value: Any) -> Optional[str]:
    """EXIF UserComment: an 8-byte character-code prefix, then the text."""
    if isinstance(value, bytes) and len(value) >= 8:
        code, body = value[:8], value[8:]
        if code.startswith(b"UNICODE"):
            enc = "utf-16-be" if body[:1] == b"\x00" else "utf-16-le"
            return _text(body.decode(enc, errors="replace"))
        if code.startswith((b"ASCII", b"\x00\x00\x00\x00\x00\x00\x00\x00", b"JIS")):
            return _text(body)
    return _text(value)


def _maker_note(value: Any) -> Optional[str]:
    """MakerNote is usually a binary vendor block; keep it as text only when it reads as text."""
    if value is None:
        return None
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bytes):
        sample = value[:4096]
        printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in sample)
        if sample and printable / len(sample) > 0.95:
            return _text(value)
        return f"binary, {len(value)} bytes"
    return _text(value)


def _gps(gps: dict) -> Optional[tuple[float, float]]:
    try:
        lat, lon = _dms(gps.get(2)), _dms(gps.get(4))
    except Exception:  # noqa: BLE001 - malformed coordinates: present, unreadable
        return None
    if lat is None or lon is None:
        return None
    if str(gps.get(1, "N")).strip("\x00 ").upper().startswith("S"):
        lat = -lat
    if str(gps.get(3, "E")).strip("\x00 ").upper().startswith("W"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return round(lat, 7), round(lon, 7)


def _dms(value) -> Optional[float]:
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        return None
    d, m, s = (float(v) for v in value)
    if any(x != x or x in (float("inf"), float("-inf")) for x in (d, m, s)):
        return None
    return d + m / 60 + s / 3600


# ----------------------------------------------------------------------------------------------
# PNG text chunks

def _read_png_text(data: bytes) -> tuple[TextPart, Optional[bytes]]:
    entries, problems, xmp = [], [], None
    pos, total, count, chunks = 8, 0, 0, 0
    while pos + 8 <= len(data) and chunks < MAX_PNG_CHUNKS:
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body_start, body_end = pos + 8, pos + 8 + length
        pos = body_end + 4
        chunks += 1
        if kind == b"IEND":
            break
        if kind not in (b"tEXt", b"zTXt", b"iTXt"):
            continue
        if body_end > len(data):
            problems.append(f"{kind.decode()} chunk truncated")
            break
        count += 1
        if count > MAX_TEXT_CHUNKS:
            problems.append(f"more than {MAX_TEXT_CHUNKS} text chunks; the rest were not read")
            break
        key, value, err = _png_text_chunk(kind, data[body_start:body_end])
        if err:
            problems.append(f"text chunk '{_text(key, 80) or '?'}': {err}")
            continue
        total += len(value)
        if total > MAX_TEXT_TOTAL:
            problems.append(f"text chunks exceed {MAX_TEXT_TOTAL >> 20} MB in all; the rest were not read")
            break
        if key == "XML:com.adobe.xmp":
            xmp = value.encode("utf-8", errors="replace")
            continue
        json_err = _json_problem(key, value)
        if json_err:
            problems.append(json_err)
        entries.append(TextEntry(key=_text(key, 80) or "?", value=_shown(value), length=len(value),
                                 chunk=kind.decode()))
    error = f"{UNREADABLE}PNG text chunks: " + "; ".join(problems) if problems else None
    return TextPart(entries=tuple(entries), error=error), xmp


def png_without_text(data: bytes) -> bytes:
    """The PNG with its tEXt/zTXt/iTXt chunks left out (pixels untouched): for decoding only."""
    out, pos = [data[:8]], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if kind not in (b"tEXt", b"zTXt", b"iTXt"):
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)


def _png_text_chunk(kind: bytes, body: bytes) -> tuple[str, str, Optional[str]]:
    key_raw, sep, rest = body.partition(b"\x00")
    key = key_raw[:80].decode("latin-1")
    if not sep:
        return key, "", "no keyword separator"
    if kind == b"tEXt":
        if len(rest) > MAX_TEXT_CHUNK:
            return key, "", f"{len(rest):,} bytes, over the {MAX_TEXT_CHUNK >> 20} MB limit; not read"
        return key, rest.decode("latin-1"), None
    if kind == b"zTXt":
        raw, err = _inflate(rest[1:])
        return key, (raw or b"").decode("latin-1"), err
    # iTXt: compression flag, method, language tag \0, translated keyword \0, text
    if len(rest) < 2:
        return key, "", "truncated"
    flag, rest = rest[0], rest[2:]
    _lang, _, rest = rest.partition(b"\x00")
    _tkey, _, text = rest.partition(b"\x00")
    if flag:
        text, err = _inflate(text)
        if err:
            return key, "", err
    elif len(text) > MAX_TEXT_CHUNK:
        return key, "", f"{len(text):,} bytes, over the {MAX_TEXT_CHUNK >> 20} MB limit; not read"
    return key, (text or b"").decode("utf-8", errors="replace"), None


def _inflate(data: bytes) -> tuple[Optional[bytes], Optional[str]]:
    """zlib with an output cap: a compressed bomb stops at MAX_TEXT_CHUNK + 1 bytes."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, MAX_TEXT_CHUNK + 1)
    except zlib.error as exc:
        return None, f"corrupt compressed text ({exc})"
    if len(out) > MAX_TEXT_CHUNK:
        return None, f"decompresses to more than {MAX_TEXT_CHUNK >> 20} MB; not read"
    return out, None


def _shown(value: str) -> str:
    return value[:MAX_SHOWN]


_JSON_KEYS = ("prompt", "workflow", "invokeai_metadata", "invokeai_graph", "sd-metadata", "Comment")
_STRING_RX = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS_RX = re.compile(r"[\[\]{}]")


def _json_problem(key: str, value: str) -> Optional[str]:
    """Checks JSON-valued text chunks without recursion: depth first, then a bounded parse."""
    stripped = value.lstrip()
    if key not in _JSON_KEYS or not stripped.startswith(("{", "[")):
        return None
    depth = _json_depth(value)
    if depth > MAX_JSON_DEPTH:
        return f"text chunk '{key}' is JSON nested {depth} levels deep (limit {MAX_JSON_DEPTH}); not parsed"
    try:
        json.loads(value)
    except ValueError as exc:
        return f"text chunk '{key}' is not valid JSON ({exc})"
    return None


def _json_depth(value: str) -> int:
    depth = deepest = 0
    for m in _BRACKETS_RX.finditer(_STRING_RX.sub('""', value)):
        depth += 1 if m.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


# ----------------------------------------------------------------------------------------------
# XMP

_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
}


def _q(prefix: str, name: str) -> str:
    return f"{{{_NS[prefix]}}}{name}"


def _find_xmp(data: bytes, pil, png_xmp: Optional[bytes]) -> Optional[bytes]:
    if png_xmp:
        return png_xmp
    if pil is not None:
        packet = pil.info.get("xmp") or pil.info.get("XML:com.adobe.xmp")
        if isinstance(packet, str):
            packet = packet.encode("utf-8", errors="replace")
        if packet:
            return packet
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        start = data.find(b"<?xpacket begin")
    if start < 0:
        return None
    end = data.find(b"</x:xmpmeta>", start, start + MAX_XMP + 64)
    if end < 0:
        return data[start:start + MAX_XMP + 1]  # too long or unterminated: the size check decides
    return data[start:end + len(b"</x:xmpmeta>")]


def _read_xmp(data: bytes, pil, png_xmp: Optional[bytes]) -> XmpPart:
    packet = _find_xmp(data, pil, png_xmp)
    if not packet:
        return XmpPart()
    if len(packet) > MAX_XMP:
        return XmpPart(present=True, num_bytes=len(packet),
                       error=f"{UNREADABLE}XMP: packet of {len(packet):,} bytes is over the "
                             f"{MAX_XMP >> 20} MB limit; not parsed")
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    text = packet.strip(b"\x00 \t\r\n")
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        return XmpPart(present=True, num_bytes=len(packet),
                       error=f"{UNREADABLE}XMP: refused ({type(exc).__name__}: entities and DTDs are "
                             "never expanded)")
    dst, creator, credit, history = [], None, None, []
    for el in root.iter():
        for name, value in el.attrib.items():
            if name == _q("Iptc4xmpExt", "DigitalSourceType"):
                dst.append(value)
            elif name == _q("xmp", "CreatorTool"):
                creator = creator or value
            elif name == _q("photoshop", "Credit"):
                credit = credit or value
        if el.tag == _q("Iptc4xmpExt", "DigitalSourceType"):
            value = el.get(_q("rdf", "resource")) or _el_text(el)
            if value:
                dst.append(value)
        elif el.tag == _q("xmp", "CreatorTool"):
            creator = creator or _el_text(el)
        elif el.tag == _q("photoshop", "Credit"):
            credit = credit or _el_text(el)
        elif el.tag == _q("xmpMM", "History"):
            for li in el.iter(_q("rdf", "li")):
                if len(history) < MAX_HISTORY:
                    history.append(_history_event(li))
    return XmpPart(present=True, num_bytes=len(packet),
                   digital_source_types=tuple(dict.fromkeys(_text(d, 300) for d in dst if _text(d))),
                   creator_tool=_text(creator), credit=_text(credit), history=tuple(h for h in history if h))


def _el_text(el) -> Optional[str]:
    """An XMP simple value, or the first rdf:li of an rdf:Alt / rdf:Seq / rdf:Bag."""
    if el.text and el.text.strip():
        return el.text.strip()
    for li in el.iter(_q("rdf", "li")):
        if li.text and li.text.strip():
            return li.text.strip()
    return None


def _history_event(li) -> str:
    fields = {}
    for name in ("action", "softwareAgent", "when", "changed", "parameters"):
        value = li.get(_q("stEvt", name))
        if value is None:
            child = li.find(".//" + _q("stEvt", name))
            value = child.text if child is not None else None
        if value:
            fields[name] = value.strip()
    return _text("; ".join(f"{k} {v}" for k, v in fields.items()), 300) or ""


# ----------------------------------------------------------------------------------------------
# JPEG structure

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


def _app_name(n: int, body: bytes) -> str:
    ident = body[:32]
    if n == 0 and ident.startswith(b"JFIF"):
        return "APP0 JFIF"
    if n == 1 and ident.startswith(b"Exif\x00"):
        return "APP1 Exif"
    if n == 1 and ident.startswith(b"http://ns.adobe.com/xap/1.0/"):
        return "APP1 XMP"
    if n == 1 and ident.startswith(b"http://ns.adobe.com/xmp/extension/"):
        return "APP1 extended XMP"
    if n == 2 and ident.startswith(b"ICC_PROFILE"):
        return "APP2 ICC profile"
    if n == 2 and ident.startswith(b"MPF"):
        return "APP2 MPF (multi-picture)"
    if n == 11 and ident.startswith(b"JP"):
        return "APP11 JUMBF (C2PA)"
    if n == 13 and ident.startswith(b"Photoshop 3.0"):
        return "APP13 Photoshop IRB / IPTC"
    if n == 14 and ident.startswith(b"Adobe"):
        return "APP14 Adobe"
    label = bytes(c for c in ident[:12] if 32 <= c < 127).decode("ascii").strip()
    return f"APP{n}" + (f" ({label})" if label else "")


def _read_jpeg(data: bytes, exif_raw: Optional[bytes], image: Optional[Image.Image]) -> JpegPart:
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
        ifd1 = _safe_ifd(exif, _IFD1)
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
        return {"thumbnail": True, "thumbnail_note": f"EXIF thumbnail could not be decoded ({_reason(exc)})"}
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


# ----------------------------------------------------------------------------------------------
# C2PA

_CONTEXTS: dict = {}


def _trust_source(trust) -> Optional[Path]:
    trust = trust if trust is not None else os.environ.get(ENV_C2PA_TRUST) or None
    return Path(trust) if trust else None


def _context(trust: Optional[Path]):
    import c2pa

    pem = None
    if trust is not None:
        pem = trust.read_text(encoding="utf-8", errors="replace")
        if "BEGIN CERTIFICATE" not in pem:
            raise ValueError(f"trust list {trust.name} holds no PEM certificate")
    key = (os.getpid(), pem or "")  # a context does not survive fork()
    if key not in _CONTEXTS:
        settings: dict = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False,
                                     "verify_trust": pem is not None}}
        if pem is not None:
            settings["trust"] = {"trust_anchors": pem}
        _CONTEXTS[key] = c2pa.Context(c2pa.Settings.from_dict(settings))
    return _CONTEXTS[key]


def _read_c2pa(data: bytes, fmt: Optional[str], trust, jpeg: Optional[JpegPart]) -> C2paPart:
    try:
        import c2pa
    except Exception as exc:  # noqa: BLE001
        return C2paPart(error=f"{UNREADABLE}C2PA: c2pa-python is not available ({_reason(exc)})")
    trust_path = _trust_source(trust)
    try:
        ctx = _context(trust_path)
    except OSError as exc:
        return C2paPart(error=f"{UNREADABLE}C2PA: trust list {trust_path} could not be read "
                              f"({exc.strerror or exc})")
    mime = _MIME.get(fmt or "")
    if mime is None:
        return C2paPart(trust="format not supported for content credentials")
    try:
        reader = c2pa.Reader(mime, io.BytesIO(data), context=ctx)
    except c2pa.C2paError.ManifestNotFound:
        if jpeg is not None and "APP11 JUMBF (C2PA)" in jpeg.app_segments:
            return C2paPart(present=True, error=f"{UNREADABLE}C2PA: the file has a JUMBF (APP11) segment "
                                                "but no manifest could be read from it (corrupt or truncated)")
        return C2paPart()
    with reader:
        report = reader.json()
        if len(report) > MAX_C2PA_JSON:
            return C2paPart(present=True, error=f"{UNREADABLE}C2PA: manifest report over "
                                                f"{MAX_C2PA_JSON >> 20} MB; not parsed")
        state = reader.get_validation_state()
        results = reader.get_validation_results() or {}
    return _c2pa_part(json.loads(report), state, results, trust_path)


def _c2pa_part(store: dict, state: Optional[str], results: dict, trust: Optional[Path]) -> C2paPart:
    manifests = store.get("manifests") or {}
    active_label = store.get("active_manifest")
    active = manifests.get(active_label) or {}
    failures, trust_failed = [], False
    for item in (results.get("activeManifest") or {}).get("failure") or []:
        code = str(item.get("code"))
        if code.startswith("signingCredential.untrusted"):
            trust_failed = True
            if trust is None:  # no anchors configured: "untrusted" says nothing; the trust line says so
                continue
        failures.append(f"{code}: {item.get('explanation', '')}".strip(": "))
    for delta in results.get("ingredientDeltas") or []:
        for item in ((delta.get("validationDeltas") or {}).get("failure") or []):
            failures.append(f"ingredient {item.get('code')}: {item.get('explanation', '')}".strip(": "))
    if not results:  # older reports: a flat validation_status list
        for item in store.get("validation_status") or []:
            code = str(item.get("code"))
            if code.startswith("signingCredential.untrusted") and trust is None:
                continue
            failures.append(f"{code}: {item.get('explanation', '')}".strip(": "))
    sig = active.get("signature_info") or {}
    actions = []
    for label, manifest in [(active_label, active)] + [(k, v) for k, v in manifests.items() if k != active_label]:
        for assertion in manifest.get("assertions") or []:
            if str(assertion.get("label", "")).split(".v")[0] not in ("c2pa.actions",):
                continue
            for act in ((assertion.get("data") or {}).get("actions") or [])[:MAX_C2PA_ITEMS]:
                if len(actions) >= MAX_C2PA_ITEMS or not isinstance(act, dict):
                    break
                agent = act.get("softwareAgent")
                if isinstance(agent, dict):
                    agent = _join(agent.get("name"), agent.get("version"))
                actions.append(C2paAction(
                    action=_text(act.get("action"), 120) or "?",
                    digital_source_type=_text(act.get("digitalSourceType"), 300),
                    software_agent=_text(agent, 200), when=_text(act.get("when"), 80),
                    manifest="active" if label == active_label else _text(label, 120) or "?"))
    ingredients = tuple(
        C2paIngredient(title=_text(i.get("title"), 200), format=_text(i.get("format"), 60),
                       relationship=_text(i.get("relationship"), 40),
                       has_manifest=bool(i.get("active_manifest") or i.get("manifest_data")))
        for i in (active.get("ingredients") or [])[:MAX_C2PA_ITEMS] if isinstance(i, dict))
    trust_name = trust.name if trust is not None else None
    if state == "Trusted":
        line = f"signature valid; signer chains to the configured trust list ({trust_name})"
    elif state == "Valid" and trust is None:
        line = NO_TRUST_LIST
    elif state == "Valid" or (state == "Invalid" and trust_failed and len(failures) == 1):
        line = f"signature valid; signer NOT on the configured trust list ({trust_name})"
    else:
        line = ("content credentials FAILED validation: " + "; ".join(failures[:3])) if failures else \
            f"content credentials did not validate (state {state})"
    return C2paPart(
        present=True, validation_state=state, trust=line, failures=tuple(failures[:MAX_C2PA_ITEMS]),
        claim_generator=_claim_generator(active), signer=_text(sig.get("common_name"), 200),
        issuer=_text(sig.get("issuer"), 200), algorithm=_text(sig.get("alg"), 40),
        signing_time=_text(sig.get("time"), 80) or _SIGNING_TIME_NOTE, title=_text(active.get("title"), 200),
        actions=tuple(actions), ingredients=ingredients, manifests=len(manifests), trust_list=trust_name)


def _claim_generator(manifest: dict) -> Optional[str]:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        return _text(_join(str(info[0].get("name") or ""), str(info[0].get("version") or "")), 200)
    return _text(manifest.get("claim_generator"), 200)


# ----------------------------------------------------------------------------------------------
# hints and panel rows

def _hints(c2pa_part: C2paPart, exif: ExifPart, xmp: XmpPart, text: TextPart) -> tuple[H.Hint, ...]:
    found: list[H.Hint] = []
    for a in c2pa_part.actions:
        where = "C2PA action" if a.manifest == "active" else "C2PA ingredient's action"
        if a.digital_source_type:
            found += H.match(H.DIGITAL_SOURCE_TYPE, f"{where} {a.action} digitalSourceType", a.digital_source_type)
        if a.software_agent:
            found += H.match(H.SOFTWARE, f"{where} {a.action} softwareAgent", a.software_agent)
    if c2pa_part.claim_generator:
        found += H.match(H.SOFTWARE, "C2PA claim generator", c2pa_part.claim_generator)
    for name, value in (("EXIF Software", exif.software),):
        found += H.match(H.SOFTWARE, name, value or "")
    for name, value in (("EXIF UserComment", exif.user_comment), ("EXIF MakerNote", exif.maker_note),
                        ("EXIF ImageDescription", exif.image_description)):
        found += H.match(H.COMMENT, name, value or "")
    for d in xmp.digital_source_types:
        found += H.match(H.DIGITAL_SOURCE_TYPE, "XMP Iptc4xmpExt:DigitalSourceType", d)
    found += H.match(H.SOFTWARE, "XMP xmp:CreatorTool", xmp.creator_tool or "")
    found += H.match(H.COMMENT, "XMP photoshop:Credit", xmp.credit or "")
    for event in xmp.history:
        found += H.match(H.SOFTWARE, "XMP xmpMM:History", event)
    for e in text.entries:
        field_name = f"PNG text '{e.key}'"
        for h in H.match(H.TEXT_KEY, field_name, e.key):
            found.append(replace(h, text=H.excerpt(e.value)))  # the value, not the key
        if e.key in ("Software", "Source", "Generator"):
            found += H.match(H.SOFTWARE, field_name, e.value)
        elif e.key in ("Description", "Comment", "Title", "Author"):
            found += H.match(H.COMMENT, field_name, e.value)
    unique: dict = {}
    for h in found:
        unique.setdefault((h.field, h.generator), h)
    return tuple(unique.values())


def panel_rows(meta: Metadata, redact_location: bool = False) -> list[tuple[str, str]]:
    """(field, value) rows for a panel or a PDF table: only what was found, errors included."""
    rows: list[tuple[str, str]] = [("Format", meta.format or "unknown")]
    c = meta.c2pa
    rows.append(("C2PA credentials", c.summary()))
    if c.present and not c.error:
        for label, value in (("C2PA claim generator", c.claim_generator), ("C2PA signer", c.signer),
                             ("C2PA issuer", c.issuer), ("C2PA signing time", c.signing_time),
                             ("C2PA validation state", c.validation_state), ("C2PA title", c.title)):
            if value:
                rows.append((label, value))
        rows += [("C2PA failure", f) for f in c.failures]
        rows += [("C2PA action", a.line()) for a in c.actions]
        rows += [("C2PA ingredient", i.line()) for i in c.ingredients]
    e = meta.exif
    if e.error:
        rows.append(("EXIF", e.error))
    elif e.present:
        for label, value in (("Camera make", e.make), ("Camera model", e.model), ("Lens", e.lens),
                             ("Software", e.software), ("Date/time original", e.datetime_original),
                             ("Image description", e.image_description), ("User comment", e.user_comment),
                             ("Maker note", e.maker_note)):
            if value:
                rows.append((label, value))
        if e.gps_present:
            if e.gps is None:
                rows.append(("GPS", "present, coordinates unreadable"))
            elif redact_location:
                rows.append(("GPS", "present (coordinates redacted)"))
            else:
                rows.append(("GPS", f"{e.gps[0]:.6f}, {e.gps[1]:.6f}"))
    else:
        rows.append(("EXIF", "none"))
    x = meta.xmp
    if x.error:
        rows.append(("XMP", x.error))
    elif x.present:
        rows += [("XMP digital source type", d) for d in x.digital_source_types]
        for label, value in (("XMP creator tool", x.creator_tool), ("XMP credit", x.credit)):
            if value:
                rows.append((label, value))
        rows += [("XMP history", h) for h in x.history[:20]]
    for t in meta.text.entries:
        rows.append((f"PNG text '{t.key}'", t.value[:500] + ("\u2026" if t.length > 500 else "")))
    if meta.text.error:
        rows.append(("PNG text", meta.text.error))
    j = meta.jpeg
    if j is not None:
        if j.quality is not None:
            rows.append(("JPEG quality (estimated)", f"{j.quality}: {j.quality_note}"))
        rows.append(("JPEG encoding", "progressive" if j.progressive else "sequential"))
        if j.app_segments:
            rows.append(("JPEG APP segments", ", ".join(j.app_segments)))
        if j.thumbnail:
            rows.append(("EXIF thumbnail", j.thumbnail_note or "present"))
        if j.error:
            rows.append(("JPEG structure", j.error))
    return rows


def panel(meta: Optional[Metadata], redact_location: bool = False) -> dict:
    """What a "Provenance and metadata" panel needs: hint lines first, then all rows.

    -> {"hints": [str], "note": str, "rows": [(field, value)], "errors": [str]}
    """
    if meta is None:
        return {"hints": [], "note": "Metadata not read: the image was given as pixels, not as a file.",
                "rows": [], "errors": []}
    return {"hints": [h.line() for h in meta.hints], "note": meta.hint_note,
            "rows": panel_rows(meta, redact_location), "errors": list(meta.errors)}
