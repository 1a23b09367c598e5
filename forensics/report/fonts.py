"""Fonts of every script for the PDF (ReportLab) and the annotated PNG (Pillow).

DejaVu Sans (matplotlib ships it) covers Latin, Greek and Cyrillic; Droid Sans Fallback (shipped in
forensics/data/fonts/, Apache-2.0) covers Chinese, Japanese and Korean. Neither library falls back
from one font to another by itself, so text is split into runs by which font has the glyph
(`runs`): the PDF wraps fallback runs in <font name=...> (`markup`), the PNG draws each run with
its own font (`draw_text`). Both fonts are TrueType outlines (glyf), which ReportLab embeds as
subsets; the fallback is loaded only when a text needs it.
"""
from __future__ import annotations

import functools
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib
from PIL import ImageFont

_DEJAVU = Path(matplotlib.get_data_path(), "fonts", "ttf")
FALLBACK_FILE = Path(__file__).resolve().parent.parent / "data" / "fonts" / "DroidSansFallback.ttf"

SANS, SANS_BOLD, MONO, MONO_BOLD, FALLBACK = ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSansMono",
                                              "DejaVuSansMono-Bold", "DroidSansFallback")
_FILES = {SANS: "DejaVuSans.ttf", SANS_BOLD: "DejaVuSans-Bold.ttf", MONO: "DejaVuSansMono.ttf",
          MONO_BOLD: "DejaVuSansMono-Bold.ttf"}


@functools.lru_cache(maxsize=1)
def register() -> None:
    """Register DejaVu Sans and Sans Mono (with bold) as ReportLab font families, once."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    for name, file in _FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(_DEJAVU / file)))
    for family, normal, bold in ((SANS, SANS, SANS_BOLD), (MONO, MONO, MONO_BOLD)):
        for is_bold, face in ((0, normal), (1, bold)):
            for italic in (0, 1):  # no italic faces: <i> keeps the upright one
                addMapping(family, is_bold, italic, face)


@functools.lru_cache(maxsize=1)
def register_fallback() -> None:
    """Register the CJK fallback with ReportLab (parses ~3 MB: only when a text needs it)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    pdfmetrics.registerFont(TTFont(FALLBACK, str(FALLBACK_FILE)))
    from reportlab.lib.fonts import addMapping
    for bold in (0, 1):
        for italic in (0, 1):
            addMapping(FALLBACK, bold, italic, FALLBACK)


@functools.lru_cache(maxsize=1)
def _primary_chars() -> frozenset[int]:
    from fontTools.ttLib import TTFont
    with TTFont(str(_DEJAVU / _FILES[SANS]), lazy=True) as font:
        return frozenset(font.getBestCmap())


@functools.lru_cache(maxsize=1)
def _fallback_chars() -> frozenset[int]:
    from fontTools.ttLib import TTFont
    with TTFont(str(FALLBACK_FILE), lazy=True) as font:
        return frozenset(font.getBestCmap())


def _needs_fallback(ch: str) -> bool:
    code = ord(ch)
    return code not in _primary_chars() and code in _fallback_chars()


def runs(text: str) -> list[tuple[str, bool]]:
    """`text` as (run, needs the fallback font) pieces, in order; whitespace stays with its run."""
    out: list[tuple[str, bool]] = []
    if text.isascii():          # the common case, without a look-up per character
        return [(text, False)] if text else []
    for ch in text:
        fallback = _needs_fallback(ch) if not ch.isspace() else (out[-1][1] if out else False)
        if out and out[-1][1] == fallback:
            out[-1] = (out[-1][0] + ch, fallback)
        else:
            out.append((ch, fallback))
    return out


def markup(text: str) -> str:
    """Plain text -> ReportLab paragraph markup: XML-escaped, CJK runs in the fallback font."""
    pieces = runs(str(text))
    if any(f for _, f in pieces):
        register_fallback()
    return "".join(f'<font name="{FALLBACK}">{escape(s)}</font>' if f else escape(s) for s, f in pieces)


# -- Pillow (the annotated PNG) ------------------------------------------------------------------

@functools.lru_cache(maxsize=32)
def pil_fallback(pixels: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FALLBACK_FILE), pixels, layout_engine=ImageFont.Layout.BASIC)


def text_length(text: str, font: ImageFont.FreeTypeFont) -> float:
    """The width in pixels of `text` drawn by `draw_text` with `font` (and its fallback)."""
    return sum((pil_fallback(font.size) if f else font).getlength(s) for s, f in runs(text))


def draw_text(draw, xy, text: str, font: ImageFont.FreeTypeFont, fill, anchor: str = "ls") -> None:
    """`draw.text` with per-run fallback: runs DejaVu lacks are drawn in Droid Sans Fallback.

    Anchors: "ls" (left baseline) or "ms" (middle baseline), as the PNG uses them."""
    pieces = runs(text)
    if not any(f for _, f in pieces):
        draw.text(xy, text, fill=fill, font=font, anchor=anchor)
        return
    x, y = xy
    if anchor[0] == "m":
        x -= text_length(text, font) / 2
    for s, fallback in pieces:
        face = pil_fallback(font.size) if fallback else font
        draw.text((x, y), s, fill=fill, font=face, anchor="l" + anchor[1])
        x += face.getlength(s)
