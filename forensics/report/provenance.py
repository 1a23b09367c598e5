"""Provenance and metadata in the exports: the JSON "metadata" section, the summary.csv hints
cell and the PDF's "Generator hints" and "Metadata" rows (under its Provenance table).

All three read `analysis.input.metadata` (forensics.metadata.Metadata, read from the original
bytes by `load_image`; None for an in-memory image). Generator hints come first: they are
independent evidence and never change P(AI-generated); where none is found the section says that
absence of metadata proves nothing. `redact_location` leaves GPS coordinates out.
"""
from __future__ import annotations

MAX_PDF_HINTS = 3

NOT_READ = "not read: the image was given as pixels, not as a file"


def metadata_record(analysis, redact_location: bool = False) -> dict | None:
    """The JSON record's "metadata" section (every field plus `generator_hints`); None if not read."""
    meta = analysis.input.metadata
    return None if meta is None else meta.to_record(redact_location=redact_location)


def hints_cell(analysis) -> str:
    """summary.csv's generator_hints column: "generator (field: text); ..." or "none found"."""
    meta = analysis.input.metadata
    if meta is None:
        return NOT_READ
    if not meta.hints:
        return "none found"
    return "; ".join(f"{h.generator} ({h.field}: {h.text[:80]})" for h in meta.hints)


def metadata_rows(analysis, redact_location: bool = False) -> list[tuple[str, str]]:
    """Two rows for the report's Provenance table, so an image's page stays one page: the
    generator hints (or the note that their absence proves nothing) and one summary of every
    metadata part. The JSON record holds every field."""
    meta = analysis.input.metadata
    if meta is None:
        return [("Metadata", NOT_READ)]
    shown = "; ".join(f"{h.generator}: {h.field} \"{h.text[:90]}\"" for h in meta.hints[:MAX_PDF_HINTS])
    if len(meta.hints) > MAX_PDF_HINTS:
        shown += f"; {len(meta.hints) - MAX_PDF_HINTS} more in the JSON record"
    hints = (shown + ". From metadata anyone can remove or forge; never changes P(AI-generated)."
             if meta.hints else "none found. Absence of metadata proves nothing.")
    rows = [("Generator hints", hints), ("Metadata", summary_text(meta, redact_location))]
    if meta.laundering:  # signs of a re-shared copy: beside the hints, never in P
        rows.append(("Re-shared copy?", "; ".join(i.label for i in meta.laundering)
                     + ": signs of a re-shared or re-saved copy, not of manipulation; never in P (evidence in the "
                       "JSON record)."))
    return rows


def summary_text(meta, redact_location: bool = False) -> str:
    """Every part of the metadata in a few clauses, for the PDF and other tight spaces."""
    parts = [f"C2PA: {meta.c2pa.summary()}"]
    if meta.c2pa.present and not meta.c2pa.error:
        sources = sorted({a.digital_source_type.rsplit("/", 1)[-1] for a in meta.c2pa.actions
                          if a.digital_source_type})
        parts[-1] += (f" Signer {meta.c2pa.signer or '?'} ({meta.c2pa.issuer or '?'}); claim generator "
                      f"{meta.c2pa.claim_generator or '?'}" + (f"; source {', '.join(sources)}" if sources else ""))
    e = meta.exif
    if e.present:
        camera = e.model if e.make and e.model and e.model.startswith(e.make) else _join(e.make, e.model)
        fields = [v for v in (camera, e.lens, e.software and f"software {e.software}",
                              e.datetime_original and f"taken {e.datetime_original}") if v]
        if e.gps_present:
            fields.append("GPS present (redacted)" if redact_location or e.gps is None
                          else f"GPS {e.gps[0]:.5f}, {e.gps[1]:.5f}")
        parts.append("EXIF: " + (", ".join(fields) or "present, no camera fields"))
    x = meta.xmp
    if x.present and not x.error:
        fields = [v for v in (x.creator_tool and f"creator tool {x.creator_tool}",
                              x.digital_source_types and "source " + ", ".join(
                                  d.rsplit("/", 1)[-1] for d in x.digital_source_types),
                              x.history and f"{len(x.history)} history event(s)") if v]
        parts.append("XMP: " + (", ".join(fields) or "present"))
    if meta.text.entries:
        parts.append("PNG text: " + ", ".join(t.key for t in meta.text.entries[:8]))
    j = meta.jpeg
    if j is not None:
        jp = [f"quality ~{j.quality}" if j.quality else "", "progressive" if j.progressive else "sequential"]
        if j.thumbnail:
            jp.append("EXIF thumbnail " + ("matches" if j.thumbnail_matches else
                                           "DIFFERS" if j.thumbnail_matches is False else "not compared"))
        parts.append("JPEG: " + ", ".join(p for p in jp if p))
    parts += list(meta.errors)
    return ". ".join(p.rstrip(".") for p in parts) + "."


def _join(*values) -> str:
    return " ".join(v for v in values if v)


__all__ = ["metadata_record", "hints_cell", "metadata_rows", "summary_text", "NOT_READ"]
