"""What the parts add up to: the generator hints (evidence beside the verdict, never part of it)
and the (field, value) rows of a "Provenance and metadata" panel."""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from . import hints as H

from .parts import C2paPart, ExifPart, Metadata, TextPart, XmpPart


def generator_hints(c2pa_part: C2paPart, exif: ExifPart, xmp: XmpPart, text: TextPart) -> tuple[H.Hint, ...]:
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
    rows += [("Re-shared copy indicator", i.line()) for i in meta.laundering]  # never part of P
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

    -> {"hints": [str], "note": str, "rows": [(field, value)], "errors": [str],
        "laundering": [str], "laundering_note": str}
    """
    if meta is None:
        return {"hints": [], "note": "Metadata not read: the image was given as pixels, not as a file.",
                "rows": [], "errors": [], "laundering": [], "laundering_note": ""}
    return {"hints": [h.line() for h in meta.hints], "note": meta.hint_note,
            "rows": panel_rows(meta, redact_location), "errors": list(meta.errors),
            "laundering": meta.laundering_lines(), "laundering_note": meta.laundering_note}
