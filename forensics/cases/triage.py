"""The triage columns an item's row keeps beside its record: each is derived from the stored
JSON record, so `verify` can recompute them and catch a row changed behind the log's back."""
from __future__ import annotations

def _c2pa_state(record: dict) -> str:
    if record.get("kind") == "video":  # a clip's metadata is not read: "none" would claim it was looked at
        return "not read"
    c = (record.get("metadata") or {}).get("c2pa") or {}
    if c.get("error"):
        return "error"
    if not c.get("present"):
        return "none"
    return (c.get("validation_state") or "present").lower()


LOSSLESS = ("PNG", "BMP", "TIFF")


def _quality(record: dict) -> int | None:
    """100 for a lossless file, a JPEG's estimated quality, else None (unknown)."""
    fmt = (record.get("input") or {}).get("format")
    if fmt in LOSSLESS:
        return 100
    jpeg = (record.get("metadata") or {}).get("jpeg") or {}
    return jpeg.get("quality") if fmt == "JPEG" else None


def _hint_names(record: dict) -> str:
    hints = (record.get("metadata") or {}).get("generator_hints") or []
    return ", ".join(dict.fromkeys(h.get("generator", "?") for h in hints))


def _robustness(record: dict) -> str:
    """The delivery-path sweep's judgement label, "" when none was run."""
    return ((record.get("robustness") or {}).get("judgement") or {}).get("label", "")


def _reasons(record: dict) -> str:
    """Why the final call differs from P alone, joined by "; " ("" when it does not)."""
    return "; ".join(record.get("verdict_reasons") or [])


def _local_scan(record: dict) -> str:
    """The local scan's one-line judgement, "" when none was run."""
    scan = record.get("local_scan") or {}
    if not scan:
        return ""
    if scan.get("refused"):
        return "not scanned"
    hotspots = scan.get("hotspots") or []
    if not hotspots:
        return "no region called"
    return f"{len(hotspots)} region(s) called AI, max P {max(h['fake_probability'] for h in hotspots):.2f}"


def triage_columns(record: dict) -> dict:
    """column -> value, for the columns of `items` that come from the record."""
    i = record.get("input") or {}
    return {"hints": _hint_names(record), "c2pa": _c2pa_state(record), "quality": _quality(record),
            "width": i.get("width"), "height": i.get("height"), "robustness": _robustness(record),
            "reasons": _reasons(record), "local_scan": _local_scan(record)}
