"""EXIF through Pillow: camera, lens, software, date, GPS and the comment fields generators fill.

Pillow skips what it cannot parse and only warns; the part keeps what was read and says what was not.
"""
from __future__ import annotations

import warnings
from typing import Any, Optional

from .limits import UNREADABLE, clean_text, join_words, short_reason
from .parts import ExifPart

# IFD1 (-1 in Pillow) holds the thumbnail: the JPEG reader compares it with the image.
_EXIF_IFD, _GPS_IFD, IFD1 = 0x8769, 0x8825, -1


def read_exif(pil, pil_error) -> tuple[ExifPart, Optional[bytes]]:
    if pil is None:
        return ExifPart(error=f"{UNREADABLE}EXIF: the file could not be opened ({pil_error})"), None
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = pil.info.get("exif")
        exif = pil.getexif()
        if not len(exif) and not raw:
            return ExifPart(), None
        sub = safe_ifd(exif, _EXIF_IFD, problems, "Exif sub-IFD")
        gps_ifd = safe_ifd(exif, _GPS_IFD, problems, "GPS IFD")
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
                             if problems else None), make=clean_text(tag(0x010F)), model=clean_text(tag(0x0110)),
        lens=join_words(clean_text(sub.get(0xA433)), clean_text(sub.get(0xA434))), software=clean_text(tag(0x0131)),
        datetime_original=clean_text(tag(0x9003)), gps_present=bool(gps_ifd), gps=gps,
        user_comment=_user_comment(tag(0x9286)), maker_note=_maker_note(tag(0x927C)),
        image_description=clean_text(tag(0x010E)),
        orientation=int(orientation) if isinstance(orientation, int) else None)
    return part, raw_tiff if isinstance(raw_tiff, bytes) else None


def safe_ifd(exif, tag, problems: Optional[list] = None, label: str = "") -> dict:
    try:
        return dict(exif.get_ifd(tag) or {})
    except Exception as exc:  # noqa: BLE001 - a malformed sub-IFD loses only that IFD
        if problems is not None:
            problems.append(f"{label}: {short_reason(exc)}")
        return {}


def _user_comment(value: Any) -> Optional[str]:
    """EXIF UserComment: an 8-byte character-code prefix, then the text."""
    if isinstance(value, bytes) and len(value) >= 8:
        code, body = value[:8], value[8:]
        if code.startswith(b"UNICODE"):
            enc = "utf-16-be" if body[:1] == b"\x00" else "utf-16-le"
            return clean_text(body.decode(enc, errors="replace"))
        if code.startswith((b"ASCII", b"\x00\x00\x00\x00\x00\x00\x00\x00", b"JIS")):
            return clean_text(body)
    return clean_text(value)


def _maker_note(value: Any) -> Optional[str]:
    """MakerNote is usually a binary vendor block; keep it as text only when it reads as text."""
    if value is None:
        return None
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bytes):
        sample = value[:4096]
        printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in sample)
        if sample and printable / len(sample) > 0.95:
            return clean_text(value)
        return f"binary, {len(value)} bytes"
    return clean_text(value)


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
