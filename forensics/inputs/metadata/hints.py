"""Generator hints: metadata signatures that name or imply an AI image generator.

A hint is independent evidence shown beside the verdict. It never changes P(AI-generated): the
detector looks at pixels only. Metadata is trivially removed (any re-save, screenshot or upload
to most platforms strips it) and trivially forged (any EXIF editor writes it), so

* a hint says "this file carries text that a generator writes", not "this image is AI-generated";
* the absence of a hint proves nothing (see `ABSENCE_NOTE`).

Every hint names the field it came from and the exact text found there, so an analyst can check
it with any other tool (exiftool, c2patool, a hex editor).

The table
---------
`SIGNATURES` is the whole table; `docs/METHODS.md` ("Metadata and generator hints") lists it with
its sources. Each row: which fields it looks at, a case-insensitive regular expression, the
generator it points to, and where the signature is documented or observed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Where a value came from. The metadata reader tags every value it checks with one of these.
DIGITAL_SOURCE_TYPE = "digital source type"  # C2PA action digitalSourceType, XMP Iptc4xmpExt:DigitalSourceType
SOFTWARE = "software"                        # EXIF Software, XMP CreatorTool, PNG Software, C2PA claim generator
COMMENT = "comment"                          # EXIF UserComment / ImageDescription / MakerNote, PNG Description/Comment, XMP Credit
TEXT_KEY = "text chunk key"                  # the keyword of a PNG tEXt/zTXt/iTXt chunk

IPTC_DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"

ABSENCE_NOTE = ("No generator hint found. Absence of metadata proves nothing: re-saving, screenshots "
                "and most upload services strip it, and it can be removed on purpose.")
INDEPENDENCE_NOTE = ("Generator hints come from the file's metadata, which anyone can remove or "
                     "forge. They are independent evidence and never change P(AI-generated).")
MAX_HINT_TEXT = 300  # characters of the matched text kept in a hint


@dataclass(frozen=True)
class Signature:
    kinds: tuple[str, ...]   # which kinds of field this row looks at
    pattern: str             # case-insensitive regular expression, searched in the value
    generator: str           # what it points to
    meaning: str             # one line for the analyst
    source: str              # where the signature is documented or observed


@dataclass(frozen=True)
class Hint:
    field: str               # e.g. "EXIF UserComment", "PNG text 'parameters'", "C2PA action c2pa.created"
    text: str                # the exact text found (first MAX_HINT_TEXT characters)
    generator: str
    meaning: str
    source: str

    def line(self) -> str:
        return f"{self.generator}: {self.field} = \"{self.text}\" ({self.meaning})"

    def to_record(self) -> dict:
        return {"field": self.field, "text": self.text, "generator": self.generator,
                "meaning": self.meaning, "source": self.source}


_IPTC = "IPTC NewsCodes 'digitalsourcetype' vocabulary (cv.iptc.org/newscodes/digitalsourcetype), used by C2PA actions"

SIGNATURES: tuple[Signature, ...] = (
    # --- declared by the creator: IPTC / C2PA digital source types -------------------------
    Signature((DIGITAL_SOURCE_TYPE,), r"compositeWithTrainedAlgorithmicMedia\b",
              "generative AI (part of the image)",
              "declares a composite that includes content from a trained generative model", _IPTC),
    Signature((DIGITAL_SOURCE_TYPE,), r"(?<![A-Za-z])trainedAlgorithmicMedia\b",
              "generative AI",
              "declares content created by a trained generative model", _IPTC),
    Signature((DIGITAL_SOURCE_TYPE,), r"compositeSynthetic\b",
              "synthetic composite",
              "declares a composite that includes synthetic elements", _IPTC),
    Signature((DIGITAL_SOURCE_TYPE,), r"(?<![A-Za-z])algorithmicMedia\b",
              "algorithmic media (not necessarily AI)",
              "declares content created purely by an algorithm without sampled training data", _IPTC),
    # --- OpenAI --------------------------------------------------------------------------
    Signature((COMMENT,), r"Made with OpenAI DALL[-\u00b7 ]?E",
              "OpenAI DALL\u00b7E",
              "EXIF comment written by OpenAI's DALL\u00b7E 2 downloads",
              "observed in the Community Forensics authors' DALL\u00b7E 2 test images (tests/data/commfor-dalle2)"),
    Signature((COMMENT,), r"^OpenAI--req_[0-9a-f]+",
              "OpenAI DALL\u00b7E",
              "OpenAI API request id in the EXIF MakerNote",
              "observed in the Community Forensics authors' DALL\u00b7E 2 test images (tests/data/commfor-dalle2)"),
    Signature((SOFTWARE,), r"\b(ChatGPT|OpenAI|DALL[-\u00b7 ]?E|GPT-4o|gpt-image)",
              "OpenAI",
              "software / claim generator names an OpenAI image product",
              "OpenAI adds C2PA content credentials to DALL\u00b7E 3 and ChatGPT images (openai.com, 2024)"),
    # --- Stable Diffusion tools: PNG text chunks ---------------------------------------
    Signature((TEXT_KEY,), r"^parameters$",
              "Stable Diffusion (AUTOMATIC1111 / Forge / Fooocus web UI)",
              "generation parameters (prompt, steps, sampler, seed) stored by the web UI",
              "AUTOMATIC1111 stable-diffusion-webui, modules/images.py (PNG text 'parameters')"),
    Signature((TEXT_KEY,), r"^(prompt|workflow)$",
              "ComfyUI",
              "ComfyUI node graph stored as JSON",
              "ComfyUI, nodes.py SaveImage (PNG text 'prompt' and 'workflow')"),
    Signature((TEXT_KEY,), r"^(invokeai_metadata|invokeai_graph|sd-metadata|Dream)$",
              "InvokeAI",
              "InvokeAI generation metadata",
              "InvokeAI image metadata ('invokeai_metadata'; older 'sd-metadata' and 'Dream')"),
    # --- Stable Diffusion tools: the same parameters in EXIF UserComment (JPEG, WebP) ------
    # A1111 and its forks write the infotext with piexif's UserComment "unicode" (UTF-16BE after
    # "UNICODE\0"); its last line is "Steps: N, Sampler: ..., Seed: ..., Model: ..., Version: ...".
    # Forge's version starts with "f", SD.Next adds "App: SD.Next", Fooocus' a1111 scheme "Version:
    # Fooocus v..." (lookaheads on that one line pick the tool).
    Signature((COMMENT,), r"\bSteps: \d+, (?=.*\bVersion: f\d)",
              "Stable Diffusion WebUI Forge",
              "generation parameters (prompt, steps, sampler, seed, model) written by Forge",
              "lllyasviel/stable-diffusion-webui-forge, modules/images.py (EXIF UserComment; 'Version: f...')"),
    Signature((COMMENT,), r"\bSteps: \d+, (?=.*\bApp: SD\.Next\b)",
              "SD.Next",
              "generation parameters (prompt, steps, sampler, seed, model) written by SD.Next",
              "vladmandic/automatic (SD.Next), modules/images.py (EXIF UserComment; 'App: SD.Next')"),
    Signature((COMMENT,), r"\bSteps: \d+, (?=.*\bVersion: Fooocus\b)|\"version\": \"Fooocus\b",
              "Fooocus",
              "generation parameters written by Fooocus (a1111 or fooocus scheme)",
              "lllyasviel/Fooocus, modules/meta_parser.py get_exif (EXIF UserComment, Software 'Fooocus v...')"),
    Signature((COMMENT,), r"\bSteps: \d+, (?:Sampler|Seed|CFG scale|Size): "
                          r"(?!.*\bVersion: f\d)(?!.*\bApp: SD\.Next\b)(?!.*\bVersion: Fooocus\b)",
              "Stable Diffusion (AUTOMATIC1111 web UI or a fork)",
              "generation parameters (prompt, steps, sampler, seed, model) in the A1111 infotext format",
              "AUTOMATIC1111 stable-diffusion-webui, modules/images.py save_image_with_geninfo (EXIF "
              "UserComment via piexif, UNICODE)"),
    Signature((SOFTWARE,), r"\bFooocus\b", "Fooocus", "names Fooocus", "Fooocus writes Software 'Fooocus v...'"),
    Signature((TEXT_KEY,), r"^fooocus_scheme$",
              "Fooocus",
              "Fooocus metadata scheme marker",
              "Fooocus, modules/meta_parser.py"),
    # --- names in Software / CreatorTool / claim generator -----------------------------
    Signature((SOFTWARE, COMMENT), r"\bNovelAI\b", "NovelAI", "names NovelAI's image generator",
              "NovelAI writes Software 'NovelAI' and a 'Comment' JSON in its PNGs"),
    Signature((SOFTWARE,), r"\bStable[ _-]?Diffusion\b|\bSDXL\b", "Stable Diffusion",
              "names Stable Diffusion", "tool names as written by SD front ends"),
    Signature((SOFTWARE,), r"\bComfyUI\b", "ComfyUI", "names ComfyUI", "ComfyUI"),
    Signature((SOFTWARE,), r"\bMidjourney\b", "Midjourney", "names Midjourney", "tool name"),
    Signature((SOFTWARE,), r"\bFirefly\b", "Adobe Firefly",
              "names Adobe Firefly (generative AI)", "Adobe Firefly content credentials (claim generator)"),
    Signature((SOFTWARE, COMMENT), r"\bMade with Google AI\b|\bImagen\b|\bGemini\b",
              "Google generative AI", "names a Google generative AI product",
              "Google labels Imagen images with IPTC metadata ('Made with Google AI' credit)"),
    Signature((SOFTWARE,), r"\b(Bing Image Creator|Microsoft Designer|Image Creator from Designer)\b",
              "Microsoft Designer / Bing Image Creator", "names a Microsoft AI image product",
              "Microsoft adds content credentials to Designer and Bing Image Creator images"),
    Signature((SOFTWARE,), r"\b(Leonardo\.?Ai|Ideogram|Flux|Black Forest Labs|Runway|Craiyon|Dreamstudio)\b",
              "other generative AI service", "names a generative image service", "tool name"),
)

_COMPILED = tuple((sig, re.compile(sig.pattern, re.IGNORECASE)) for sig in SIGNATURES)
_MAX_SCAN = 100_000  # characters of a value the patterns look at


def match(kind: str, field: str, value: str) -> list[Hint]:
    """Hints for one value of one field. At most one hint per generator for a value."""
    if not value:
        return []
    text = value[:_MAX_SCAN]
    out, seen = [], set()
    for sig, rx in _COMPILED:
        if kind not in sig.kinds or sig.generator in seen:
            continue
        m = rx.search(text)
        if m:
            seen.add(sig.generator)
            out.append(Hint(field=field, text=excerpt(text, m.start()), generator=sig.generator,
                            meaning=sig.meaning, source=sig.source))
    return out


def excerpt(text: str, at: int = 0) -> str:
    """The exact text of a field on one line, cut to MAX_HINT_TEXT characters from about `at`."""
    one_line = text.replace("\r", " ").replace("\n", " ")
    if len(one_line) <= MAX_HINT_TEXT:
        return one_line
    start = max(0, min(at, len(one_line) - MAX_HINT_TEXT))
    cut = one_line[start:start + MAX_HINT_TEXT]
    return ("\u2026" if start else "") + cut + "\u2026"


def table_rows() -> list[tuple[str, str, str, str]]:
    """(fields, pattern, generator, source) for documentation and tests."""
    return [(", ".join(s.kinds), s.pattern, s.generator, s.source) for s in SIGNATURES]
