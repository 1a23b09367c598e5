"""The page engine of every PDF report: ReportLab platypus on A4, text as text in every script.

A report is a `Story`: its flowables (paragraphs, tables, pictures, matplotlib plots as PNG) plus
the facts for the page template (title, footer) and the document's metadata. `pdf_document`
lays it out: page 1 starts at the top, later pages carry "<title> (continued)"; every page is
footed with the case or file name and "page n of N". Pictures are drawn at their own pixels
(Flate, lossless), once each; boxes, labels and the patch grid's numbers are vector.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from io import BytesIO

import numpy as np
from matplotlib.colors import to_hex
from matplotlib.ticker import MaxNLocator
from PIL import Image
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (BaseDocTemplate, Flowable, Frame, PageTemplate, Paragraph, Spacer, Table,
                                TableStyle)

from .._version import __version__
from . import render
from .fonts import MONO, SANS, markup, register
from .wording import DEMO_BANNER, DEMO_BANNER_COLOUR

PDF_MAX_SIDE = 640      # pixels: panels are ~2.3 in wide, enough for print, keeps pages small

# ReportLab's documented setting (rl_config): pictures as binary Flate streams, not ASCII85 text.
# ASCII85 is 25% larger and, without ReportLab's optional C accelerator, its pure-Python encoder
# took ~0.2 s of each 0.25 s page. Binary streams are as valid in every reader.
rl_config.useA85 = 0


@dataclass(frozen=True)
class PageLayout:
    """A4 portrait, in inches."""
    width: float = 8.27
    height: float = 11.69
    margin: float = 0.6          # left and right
    top: float = 0.45            # page 1: where the title starts
    top_later: float = 0.8       # later pages: below the "(continued)" line
    bottom: float = 0.6          # where content ends, from the page's bottom
    footer: float = 0.3          # the footer's baseline, from the page's bottom

    @property
    def content_width(self) -> float:
        return self.width - 2 * self.margin


LAYOUT = PageLayout()
A4 = (LAYOUT.width, LAYOUT.height)
MARGIN = LAYOUT.margin
FULL_WIDTH = LAYOUT.content_width


def colour(c) -> colors.Color:
    """A matplotlib colour ("#b2182b", "0.35", "white") as a ReportLab colour."""
    return colors.HexColor(to_hex(c))


@functools.lru_cache(maxsize=256)
def style(size: float = 8.0, bold: bool = False, colour_: str = "black", mono: bool = False,
          bullet: bool = False, align: str = "left", leading: float = 1.3, indent: float = 0.0,
          after: float = 0.0) -> ParagraphStyle:
    """One paragraph style, cached: `size` in points, `indent` and `after` in inches."""
    register()
    family = MONO if mono else SANS
    return ParagraphStyle(
        f"s{size}{bold}{colour_}{mono}{bullet}{align}{leading}{indent}{after}",
        fontName=family + ("-Bold" if bold else ""), fontSize=size, leading=size * leading,
        textColor=colour(colour_), alignment={"left": TA_LEFT, "right": TA_RIGHT, "center": TA_CENTER}[align],
        leftIndent=indent * inch + (10 if bullet else 0), bulletIndent=indent * inch, bulletFontName=SANS,
        bulletFontSize=size, spaceAfter=after * inch)


def para(text, size: float = 8.0, **kw) -> Paragraph:
    """Plain text (untrusted: escaped; CJK in the fallback font) as a paragraph; newlines kept."""
    bullet = kw.pop("bullet", False)
    body = "<br/>".join(markup(line) for line in str(text).splitlines() or [""])
    return Paragraph(body, style(size, bullet=bool(bullet), **kw), bulletText="\u2022" if bullet else None)


def heading(text, size: float = 10.5, before: float = 0.08) -> list:
    return [Spacer(1, before * inch), para(text, size, bold=True, after=0.03)]


def banner(size: float = 13, pad: float = 0.12, text: str = DEMO_BANNER, width: float = FULL_WIDTH) -> Table:
    """The red demo-weights banner: white bold text on DEMO_BANNER_COLOUR, the content's width."""
    t = Table([[para(text, size, bold=True, colour_="white", align="center")]], colWidths=[width * inch])
    t.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), colour(DEMO_BANNER_COLOUR)),
                           ("TOPPADDING", (0, 0), (-1, -1), pad * inch),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), pad * inch)]))
    return t


def grid_table(rows, widths, header: bool = True, size: float = 7.5, mono_cols=(), right_cols=(),
               colours=None, spans=()) -> Table:
    """A borderless table of text cells: `widths` in inches, optional bold header row; `colours`
    one colour per row (None: black); `spans`: TableStyle SPAN commands."""
    cells = []
    for r, row in enumerate(rows):
        c = (colours[r] if colours else None) or "black"
        cells.append([para(v, size, bold=header and r == 0, mono=i in mono_cols, colour_=c,
                           align="right" if i in right_cols else "left", leading=1.2)
                      if not isinstance(v, Flowable) else v for i, v in enumerate(row)])
    t = Table(cells, colWidths=[w * inch for w in widths], repeatRows=1 if header else 0, hAlign="LEFT")
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                           ("RIGHTPADDING", (0, 0), (-1, -1), 4), ("TOPPADDING", (0, 0), (-1, -1), 0.5),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5), *spans]))
    return t


def columns(cells, widths, gap_after: float = 0.0, valign: str = "TOP") -> Table:
    """Flowables side by side (each cell a flowable or a list of them), `widths` in inches."""
    t = Table([cells], colWidths=[w * inch for w in widths], hAlign="LEFT")
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), valign), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                           ("RIGHTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), gap_after * inch)]))
    return t


# -- pictures ------------------------------------------------------------------------------------

DISPLAY_REDUCING_GAP = 2.0


def downscaled(img, max_side=PDF_MAX_SIDE) -> np.ndarray:
    scale = min(1.0, max_side / max(img.size))
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    # reducing_gap: Pillow shrinks by whole factors first, then resamples (about 4x faster on a
    # 12 MP photo, no visible difference). For display only: never the model's input.
    return np.asarray(img.resize(size, reducing_gap=DISPLAY_REDUCING_GAP) if scale < 1 else img)


@dataclass(frozen=True)
class Box:
    """A rectangle over a picture, in the picture's `extent` units (original pixels)."""
    left: float
    top: float
    right: float
    bottom: float
    colour: str = "white"
    width: float = 1.2           # points
    dash: tuple = ()


@dataclass(frozen=True)
class Label:
    """A short text on a white rounded box centred at (x, y), in `extent` units."""
    x: float
    y: float
    text: str
    size: float = 6.0


class Picture(Flowable):
    """An RGB picture drawn at `width` x `height` inches from its own pixels, with vector boxes
    and labels on top. `extent` (w, h) is the coordinate space of `layers`, boxes and labels
    (default: the picture's pixels); `layers` are further pictures placed at (l, t, r, b)."""

    def __init__(self, rgb: np.ndarray, width: float, height: float, *, extent=None, layers=(), boxes=(),
                 labels=()):
        super().__init__()
        self.rgb, self.width, self.height = rgb, width * inch, height * inch
        self.extent = extent or (rgb.shape[1], rgb.shape[0])
        self.layers, self.boxes, self.labels = layers, boxes, labels

    def wrap(self, *_):
        return self.width, self.height

    def _xy(self, x, y):
        return x * self.width / self.extent[0], self.height - y * self.height / self.extent[1]

    def draw(self):
        c = self.canv
        c.drawImage(ImageReader(Image.fromarray(np.ascontiguousarray(self.rgb))), 0, 0, self.width, self.height)
        for rgb, (l, t, r, b) in self.layers:
            x0, y1 = self._xy(l, t)
            x1, y0 = self._xy(r, b)
            c.drawImage(ImageReader(Image.fromarray(np.ascontiguousarray(rgb))), x0, y0, x1 - x0, y1 - y0)
        for box in self.boxes:
            x0, y1 = self._xy(box.left, box.top)
            x1, y0 = self._xy(box.right, box.bottom)
            c.setStrokeColor(colour(box.colour))
            c.setLineWidth(box.width)
            c.setDash(*box.dash) if box.dash else c.setDash()
            c.rect(x0, y0, x1 - x0, y1 - y0, stroke=1, fill=0)
        c.setDash()
        for label in self.labels:
            x, y = self._xy(label.x, label.y)
            w = c.stringWidth(label.text, SANS, label.size) + 3
            c.setFillColor(colors.Color(1, 1, 1, alpha=0.85))
            c.roundRect(x - w / 2, y - label.size * 0.6, w, label.size * 1.2, 2, stroke=0, fill=1)
            c.setFillColor(colors.black)
            c.setFont(SANS, label.size)
            c.drawCentredString(x, y - label.size * 0.35, label.text)


class Swatch(Flowable):
    """A small legend swatch: fill colour and optional edge colour."""

    def __init__(self, fill: str, edge: str | None = None, width: float = 0.22, height: float = 0.09):
        super().__init__()
        self.fill, self.edge, self.width, self.height = fill, edge, width * inch, height * inch

    def wrap(self, *_):
        return self.width, self.height

    def draw(self):
        self.canv.setFillColor(colour(self.fill))
        self.canv.setStrokeColor(colour(self.edge or self.fill))
        self.canv.setLineWidth(1.5 if self.edge else 0.1)
        self.canv.rect(0, 0, self.width, self.height, stroke=1, fill=1)


class ScoreGrid(Flowable):
    """The 24x24 patch scores (%) as a picture with the top patches numbered, axis ticks and a
    colour bar, drawn directly (no matplotlib figure): `side` inches square, the bar beside it."""

    TICKS = (0, 6, 12, 18)

    def __init__(self, analysis, cmap: str, vmax: float | None, side: float, *, size: float = 6.0,
                 annotate_top: int = 5, bar: bool = True):
        super().__init__()
        self.a, self.cmap, self.vmax, self.side = analysis, cmap, vmax, side * inch
        self.size, self.top, self.bar = size, annotate_top, bar
        self.left_pad, self.bottom_pad = 2.2 * size + 8, 2.2 * size + 8   # room for ticks and axis labels
        self.bar_width = (0.1 * inch + 4 * size + 6) if bar else 0

    def wrap(self, *_):
        return self.left_pad + self.side + (0.15 * inch + self.bar_width if self.bar else 0), self.side + self.bottom_pad

    def draw(self):
        c, s, n = self.canv, self.side, self.a.patch_scores.shape[0]
        x0, y0 = self.left_pad, self.bottom_pad
        heat = render.colorize(render.heat_grid(self.a.patch_scores, self.vmax), self.cmap)  # (24, 24, 3)
        cell = s / n
        c.drawImage(ImageReader(Image.fromarray(np.repeat(np.repeat(heat, 8, 0), 8, 1))), x0, y0, s, s)
        c.setStrokeColor(colors.black)
        c.setLineWidth(0.6)
        c.rect(x0, y0, s, s, stroke=1, fill=0)
        c.setFont(SANS, self.size)
        c.setFillColor(colors.black)
        for t in self.TICKS:                     # patch centres, as matplotlib's imshow ticks
            x, y = x0 + (t + 0.5) * cell, y0 + s - (t + 0.5) * cell
            c.line(x, y0, x, y0 - 2)
            c.drawCentredString(x, y0 - 2 - self.size, str(t))
            c.line(x0, y, x0 - 2, y)
            c.drawRightString(x0 - 3, y - self.size * 0.35, str(t))
        c.setFont(SANS, self.size + 1)
        c.drawCentredString(x0 + s / 2, 1, "patch column")
        c.saveState()
        c.translate(self.size + 2, y0 + s / 2)
        c.rotate(90)
        c.drawCentredString(0, 0, "patch row")
        c.restoreState()
        radius = max(2.5, cell * 0.55)
        for e in self.a.top_patches(self.top):
            x, y = x0 + (e["col"] + 0.5) * cell, y0 + s - (e["row"] + 0.5) * cell
            c.setFillColor(colors.white)
            c.circle(x, y, radius, stroke=0, fill=1)
            c.setFillColor(colors.black)
            c.setFont(SANS + "-Bold", self.size)
            c.drawCentredString(x, y - self.size * 0.35, str(e["rank"]))
        if self.bar:
            self._colour_bar(x0 + s + 0.15 * inch, y0, 0.1 * inch, s)

    def _colour_bar(self, x, y, w, h):
        c = self.canv
        peak = float(self.a.patch_scores.max())
        top = (self.vmax or peak) * 100
        saturates = bool(self.vmax and peak > self.vmax)
        inner = h / 1.05 if saturates else h               # matplotlib: the extension is 5% of the bar
        ramp = render.colorize(np.linspace(1, 0, 256, dtype=np.float32)[:, None].repeat(4, 1), self.cmap)
        c.drawImage(ImageReader(Image.fromarray(ramp)), x, y, w, inner)
        c.setStrokeColor(colors.black)
        c.setLineWidth(0.5)
        c.rect(x, y, w, inner, stroke=1, fill=0)
        if saturates:
            over = render.colorize(np.ones((1, 1), np.float32), self.cmap)[0, 0]
            c.setFillColorRGB(*(over / 255))
            path = c.beginPath()
            path.moveTo(x, y + inner)
            path.lineTo(x + w / 2, y + h)
            path.lineTo(x + w, y + inner)
            path.close()
            c.drawPath(path, stroke=1, fill=1)
        c.setFont(SANS, self.size)
        c.setFillColor(colors.black)
        values = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(0, top) if top > 0 else [0.0]
        values = [v for v in values if -1e-9 <= v <= top * (1 + 1e-9)]
        decimals = next(d for d in range(7) if all(abs(float(f"{v:.{d}f}") - v) < 1e-9 * max(1, abs(v))
                                                   for v in values) or d == 6)
        for v in values:
            ty = y + (v / top if top > 0 else 0) * inner
            c.line(x + w, ty, x + w + 2, ty)
            c.drawString(x + w + 3, ty - self.size * 0.35, f"{v:.{decimals}f}")


def plot(fig, width: float, dpi: int = 150) -> Picture:
    """A matplotlib plot as a picture `width` inches wide, rendered at `dpi` (its own resolution)."""
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    with Image.open(buffer) as img:
        rgb = np.asarray(img.convert("RGB"))
    return Picture(rgb, width, width * rgb.shape[0] / rgb.shape[1])


# -- the document --------------------------------------------------------------------------------

@dataclass
class Story:
    """A report's flowables and the facts of its pages: `title` (metadata, and the header of
    continued pages), `footer` (case or file name), `subject`/`keywords` (the input's SHA-256)."""
    title: str
    footer: str
    flowables: list = field(default_factory=list)
    subject: str = ""
    keywords: str = ""
    continued: str | None = None   # the header of later pages; None: "<title> (continued)", "": none

    def add(self, *items) -> "Story":
        for item in items:
            self.flowables.extend(item if isinstance(item, list) else [item])
        return self

    def texts(self) -> list[tuple[str, str]]:
        """(plain text, "#rrggbb") of the story's top-level paragraphs, in order."""
        return [(f.getPlainText(), "#" + f.style.textColor.hexval()[2:].lower())
                for f in self.flowables if isinstance(f, Paragraph)]


class _Canvas(Canvas):
    """A canvas that writes "page n of N" once N is known: each footer draws a form named after
    its page, and the forms are defined just before the file is written."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.pages = 0

    def save(self):
        for n in range(1, self.pages + 1):
            self.beginForm(f"pageno{n}")
            self.setFont(SANS, 7)
            self.setFillColor(colour("0.35"))
            self.drawRightString((LAYOUT.width - LAYOUT.margin) * inch, LAYOUT.footer * inch,
                                 f"page {n} of {self.pages}")
            self.endForm()
        super().save()


def _footer(story: Story):
    foot = para(story.footer, 7, colour_="0.35")
    head = (None if story.continued == "" else  # "": no header on later pages
            para(story.continued or f"{story.title} (continued)", 10, bold=True, colour_="0.35"))

    def on_page(canvas, doc):
        canvas.pages = doc.page
        _, h = foot.wrap((LAYOUT.content_width - 1) * inch, inch)
        foot.drawOn(canvas, LAYOUT.margin * inch, LAYOUT.footer * inch - 1.5)
        canvas.doForm(f"pageno{doc.page}")
        if doc.page > 1 and head is not None:
            _, h = head.wrap(LAYOUT.content_width * inch, inch)
            head.drawOn(canvas, LAYOUT.margin * inch, (LAYOUT.height - 0.45) * inch - h)
    return on_page


def pdf_document(story: Story) -> bytes:
    """The story laid out on A4 pages as one PDF document, in memory."""
    register()
    buffer = BytesIO()
    L = LAYOUT
    doc = BaseDocTemplate(buffer, pagesize=(L.width * inch, L.height * inch), title=story.title,
                          author="", subject=story.subject, keywords=story.keywords,
                          creator=f"forensics {__version__}", producer=f"forensics {__version__} (ReportLab)",
                          leftMargin=L.margin * inch, rightMargin=L.margin * inch)
    frame = dict(x1=L.margin * inch, width=L.content_width * inch, leftPadding=0, rightPadding=0, topPadding=0,
                 bottomPadding=0)
    first = Frame(y1=L.bottom * inch, height=(L.height - L.top - L.bottom) * inch, id="first", **frame)
    later = Frame(y1=L.bottom * inch, height=(L.height - L.top_later - L.bottom) * inch, id="later", **frame)
    on_page = _footer(story)
    doc.addPageTemplates([PageTemplate("first", [first], onPage=on_page, autoNextPageTemplate="later"),
                          PageTemplate("later", [later], onPage=on_page)])
    doc.build(list(story.flowables), canvasmaker=_Canvas)
    return buffer.getvalue()
