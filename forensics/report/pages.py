"""The A4 layout engine of the PDF reports, and drawing helpers the PNG shares.

`Pages` fills portrait A4 figures top-down with a cursor `y` in inches from the top; text that
runs past the bottom continues on a new page, each page footed and numbered by `finish()`.
"""
from __future__ import annotations

import struct
import textwrap
import warnings
from contextlib import contextmanager
from io import BytesIO

import numpy as np
from matplotlib.backends import backend_pdf
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .._version import __version__
from .wording import DEMO_BANNER, DEMO_BANNER_COLOUR, score_label

A4 = (8.27, 11.69)      # inches, portrait
MARGIN = 0.6            # inches, left and right
BOTTOM = A4[1] - 0.6    # inches from the top where a page's content ends
FULL_WIDTH = A4[0] - 2 * MARGIN
PDF_MAX_SIDE = 640      # panels are ~2.3 in wide: enough for print, keeps pages small


# -- pictures inside PDFs: fast and lossless ---------------------------------------------------
# matplotlib embeds each picture as PNG-predicted Flate data, produced by Pillow at zlib level 6:
# for a 640 px photo panel ~64 ms, two thirds of a report page's cost. Level 1 (Z_RLE) keeps every
# pixel (lossless either way) for ~10% more bytes in a third of the time.
PDF_ZLIB_LEVEL = 1


def _write_png(self, img):
    """`PdfFile._writePng` at PDF_ZLIB_LEVEL -> (IDAT data, bit depth, palette)."""
    buffer = BytesIO()
    img.save(buffer, format="png", compress_level=PDF_ZLIB_LEVEL, compress_type=3)  # 3: Z_RLE, faster
    data, chunks, at = buffer.getvalue(), {b"IDAT": []}, 8
    while at < len(data):  # PNG chunks: length, type, data, CRC
        length, kind = struct.unpack("!L4s", data[at:at + 8])
        chunks.setdefault(kind, []).append(data[at + 8:at + 8 + length])
        at += 12 + length
    return b"".join(chunks[b"IDAT"]), int(chunks[b"IHDR"][0][8]), (chunks.get(b"PLTE") or [None])[0]


if hasattr(backend_pdf.PdfFile, "_writePng"):  # a private hook: without it, matplotlib's own path
    backend_pdf.PdfFile._writePng = _write_png


def pdf_document(figures, title: str) -> bytes:
    """The figures as the pages of one PDF document, in memory (written once, copied where needed)."""
    buffer = BytesIO()
    with quiet(), backend_pdf.PdfPages(buffer, metadata=pdf_meta(title)) as pdf:
        for fig in figures:
            pdf.savefig(fig)
    return buffer.getvalue()


def text(fig, x, y, s, **kw):
    # parse_math=False: a '$' in an uploaded file name must not be read as TeX.
    return fig.text(x, y, s, parse_math=False, **kw)


def banner(fig, bottom, height, text_=DEMO_BANNER, size=15) -> None:
    """The red demo-weights banner across the figure, `bottom` and `height` in figure fractions."""
    fig.patches.append(Rectangle((0, bottom), 1, height, transform=fig.transFigure, color=DEMO_BANNER_COLOUR, zorder=0))
    text(fig, 0.5, bottom + height / 2, text_, ha="center", va="center", color="white",
         fontsize=size, fontweight="bold")


@contextmanager
def quiet():
    # Glyphs missing from DejaVu (CJK names) draw as boxes; the JSON keeps the real name.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        yield


def colour_bar(fig, rect, analysis, cmap, label=None, vmax: float | None = None) -> None:
    """A colour bar for the patch scores; with `vmax` (absolute scale) stronger patches saturate."""
    ax = fig.add_axes(rect)
    label = f"{score_label(analysis)} per patch (%)" if label is None else label
    peak = float(analysis.patch_scores.max())
    top = (vmax or peak) * 100
    extend = "max" if vmax and peak > vmax else "neither"
    fig.colorbar(ScalarMappable(Normalize(0, top), cmap), cax=ax, extend=extend).set_label(label, fontsize=8)
    ax.tick_params(labelsize=7)


def downscaled(img, max_side=PDF_MAX_SIDE) -> np.ndarray:
    scale = min(1.0, max_side / max(img.size))
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return np.asarray(img.resize(size) if scale < 1 else img)


def pdf_meta(title: str) -> dict:
    return {"Title": title, "Creator": f"forensics {__version__}"}


class Pages:
    """A4 pages filled top-down; text that runs past the bottom continues on a new page."""

    def __init__(self, title: str, footer: str):
        self.figs: list[Figure] = []
        self.title, self.footer = title, footer
        self.new_page()

    def new_page(self):
        self.fig = Figure(figsize=A4, dpi=100)
        self.figs.append(self.fig)
        self.y = 0.55                                          # inches from the top
        if len(self.figs) > 1:
            self.lines([f"{self.title} (continued)"], 10, fontweight="bold", color="0.35")
            self.y += 0.1

    def fy(self, y):
        """Inches from the top -> figure fraction from the bottom."""
        return 1 - y / A4[1]

    def room(self, inches) -> None:
        if self.y + inches > BOTTOM:
            self.new_page()

    def lines(self, lines, size=8.0, x=MARGIN, family="sans-serif", **kw) -> None:
        step = size * 1.4 / 72
        for line in lines:
            self.room(step)
            text(self.fig, x / A4[0], self.fy(self.y), line, va="top", fontsize=size, family=family, **kw)
            self.y += step

    def para(self, text_, size=8.0, x=MARGIN, width=FULL_WIDTH, bullet="", **kw) -> None:
        """Wrapped text; chars per line from DejaVu's advance (mono 0.6 em, sans ~0.55 em on average)."""
        em = 0.62 if kw.get("family") == "monospace" else 0.55
        chars = max(20, int(width * 72 / (em * size)))
        for raw in str(text_).splitlines() or [""]:
            wrapped = textwrap.wrap(raw, chars, initial_indent=bullet,
                                    subsequent_indent=" " * (2 * len(bullet))) or [""]
            self.lines(wrapped, size, x, **kw)

    def heading(self, text_, size=10.5) -> None:
        self.room(0.5)
        self.y += 0.08
        self.lines([text_], size, fontweight="bold")
        self.y += 0.03

    def banner(self, height, size) -> None:
        """The demo banner, `height` inches tall, its top at the cursor (does not move it)."""
        banner(self.fig, self.fy(self.y + height), height / A4[1], size=size)

    def axes(self, left, width, height):
        """Axes at the cursor (does not move it)."""
        return self.fig.add_axes((left / A4[0], self.fy(self.y + height), width / A4[0], height / A4[1]))

    def finish(self) -> list[Figure]:
        for n, fig in enumerate(self.figs, 1):
            text(fig, MARGIN / A4[0], 0.3 / A4[1], self.footer, fontsize=7, color="0.35")
            text(fig, 1 - MARGIN / A4[0], 0.3 / A4[1], f"page {n} of {len(self.figs)}", fontsize=7,
                 color="0.35", ha="right")
        return self.figs
