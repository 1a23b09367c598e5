"""The result of a metadata read: one frozen type per part, and `Metadata`, which holds them all.

Frozen because a result is evidence and is never edited after reading.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from . import hints as H


LAUNDERING_NOTE = ("Laundering indicators describe how this file was last saved. They suggest a re-shared or "
                   "re-saved copy (a messenger, a social feed, a screenshot, an editor), not manipulation, and "
                   "never change P(AI-generated). The original may say more.")
LAUNDERING_NONE_NOTE = "No laundering indicator: nothing in the file suggests a re-shared or re-saved copy."


@dataclass(frozen=True)
class Indicator:
    """A sign in the file itself that it is a re-shared or re-saved copy (laundering.py finds them)."""

    key: str         # "no-metadata" | "jpeg-quality" | "platform-size" | "chroma-subsampling" | "double-jpeg" | "screenshot"
    label: str       # a few words
    evidence: str    # what was found, with its numbers

    def line(self) -> str:
        return f"{self.label}: {self.evidence}"

    def to_record(self) -> dict:
        return {"key": self.key, "label": self.label, "evidence": self.evidence}


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
    # Signs of a re-shared or re-saved copy (metadata.laundering): shown beside, never in P.
    laundering: tuple[Indicator, ...] = ()

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

    @property
    def laundering_note(self) -> str:
        return LAUNDERING_NOTE if self.laundering else LAUNDERING_NONE_NOTE

    def laundering_lines(self) -> list[str]:
        """One line per laundering indicator (label: evidence); none when there is none."""
        return [i.line() for i in self.laundering]

    def to_record(self, redact_location: bool = False) -> dict:
        """A plain JSON-able dict for exports. `redact_location` leaves GPS coordinates out."""
        return {
            "format": self.format,
            "generator_hints": [h.to_record() for h in self.hints],
            "hint_note": self.hint_note,
            "laundering_indicators": [i.to_record() for i in self.laundering],
            "laundering_note": self.laundering_note,
            "c2pa": self.c2pa.to_record(),
            "exif": self.exif.to_record(redact_location),
            "xmp": self.xmp.to_record(),
            "text_chunks": self.text.to_record(),
            "jpeg": self.jpeg.to_record() if self.jpeg else None,
            "errors": list(self.errors),
            "location_redacted": bool(redact_location and self.exif.gps is not None),
        }  # no timing: a record of the same file is the same record
