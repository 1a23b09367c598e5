"""Evidence exports of an `Analysis`: annotated PNG, PDF report, JSON record, CSV patch ledger.

One module serves the app's downloads and the CLI. Output names come from the input's file
name, which is untrusted: `safe_stem` reduces it to [A-Za-z0-9._-], and `claim_stem` creates
the files exclusively, adding -1, -2, ... so nothing is ever overwritten.
"""
from __future__ import annotations

import csv
import itertools
import json
import platform
import re
import shlex
import textwrap
import unicodedata
import warnings
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import PIL
import torch
import transformers
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.colors import Normalize
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from . import __version__, render
from .analysis import DEFAULT_INCONCLUSIVE_MARGIN
from .preprocess import GRID, INPUT_SIZE, TRAINING

FORMATS = ("png", "pdf", "json", "csv")
THRESHOLD = 0.5
DEMO_WARNING = "UNTRAINED DEMO WEIGHTS \u2014 NOT A FORENSIC RESULT"
VERDICT_COLOURS = {"ai-generated": "#b2182b", "real": "#2166ac", "inconclusive": "#8a6100"}

# What the published model can and cannot tell; printed beside every verdict.
MODEL_LIMITS = (
    f"The model sees only the {INPUT_SIZE}\u00d7{INPUT_SIZE} centre crop of the image resized so its "
    "short side is 440 px; anything outside the outlined box was not examined.",
    "Community Forensics was trained on 2.7 million images from 4,803 generators. Generators, edits "
    "or recompression unlike its training data can fool it in either direction.",
    f"P(AI-generated) is sigmoid(logit); the authors' cut-off is {THRESHOLD}. Results near the cut-off "
    "are reported as inconclusive rather than forced into a class.",
)
# What the heatmap means, per explanation method.
METHOD_LIMITS = {
    "attention-rollout": "Attention rollout shows where the model's attention flowed, not proof that "
                         "those pixels are synthetic or manipulated.",
    "grad-rollout": "Grad-rollout shows which patches pushed the AI-generated score, as the model "
                    "weighs them; it is not proof that those pixels are synthetic or manipulated.",
}
SCORE_LABELS = {"attention-rollout": "share of attention flow", "grad-rollout": "share of relevance"}

CSV_HEADER = ("rank", "row", "col", "input_left", "input_top", "input_right", "input_bottom",
              "original_left", "original_top", "original_right", "original_bottom", "score")

PNG_DPI = 200
PNG_MAX_SIDE = 1400     # original pixels shown in the annotated PNG (7 in at 200 dpi)
PDF_MAX_SIDE = 640      # panels are ~2.3 in wide: enough for print, keeps pages small
A4 = (8.27, 11.69)      # inches, portrait
_MARGIN = 0.6
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


# ---------------------------------------------------------------------------------------------
# Names

def safe_stem(name: str | None, default: str = "image", max_len: int = 64) -> str:
    """A file stem safe to use in any folder: no directories, no dot-files, only [A-Za-z0-9._-]."""
    base = re.split(r"[\\/]", str(name or ""))[-1]
    if "." in base[1:]:
        base = base[: base.rindex(".")]
    ascii_ = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_).strip("._-")[:max_len].strip("._-")
    if not stem:
        return default
    return f"{stem}_" if stem.lower().split(".")[0] in _WINDOWS_RESERVED else stem


def claim_stem(out_dir: Path, stem: str, exts) -> str:
    """Create empty `stem.ext` files exclusively (stem, stem-1, ...) and return the stem that won.

    Exclusive creation (O_EXCL) means an existing file or link is never overwritten, even when
    two exports race for the same name.
    """
    for n in itertools.count():
        candidate = stem if n == 0 else f"{stem}-{n}"
        made = []
        try:
            for ext in exts:
                path = out_dir / f"{candidate}.{ext}"
                path.touch(exist_ok=False)
                made.append(path)
            return candidate
        except FileExistsError:
            for path in made:
                path.unlink()


def export(analysis, out_dir, formats=FORMATS, notes: str = "", stem: str | None = None, *,
           batch: "BatchReport | None" = None, label: str | None = None,
           cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5) -> dict[str, Path]:
    """Write the chosen formats of one analysis into `out_dir` -> {format: path}.

    `stem` (default: the input's file name) is sanitised; clashes get -1, -2, ... suffixes.
    `batch` also receives this image's PDF pages (drawn once for both files), listed on its
    cover as `label` (default: the file name).
    """
    formats = tuple(dict.fromkeys(f.lower() for f in formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; choose from {FORMATS}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = claim_stem(out_dir, safe_stem(stem or analysis.input.name), formats)
    paths = {f: out_dir / f"{name}.{f}" for f in formats}
    try:
        if "png" in paths:
            write_png(analysis, paths["png"], cmap=cmap, alpha=alpha)
        if "pdf" in paths or batch is not None:
            pages = pdf_figures(analysis, notes, cmap=cmap, alpha=alpha)
            if "pdf" in paths:
                _save_pdf(pages, paths["pdf"], analysis)
            if batch is not None:
                batch.add(analysis, pages, label)
        if "json" in paths:
            write_json(analysis, paths["json"], notes)
        if "csv" in paths:
            write_csv(analysis, paths["csv"])
    except BaseException:
        for path in paths.values():  # no half-written evidence left behind
            path.unlink(missing_ok=True)
        raise
    return paths


# ---------------------------------------------------------------------------------------------
# JSON and CSV

def _num(x: float) -> float:
    """8 significant digits: more than a float32 forward pass resolves, without float64 noise."""
    return float(f"{float(x):.8g}")


def software_versions() -> dict:
    return {"forensics": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": np.__version__, "pillow": PIL.__version__}


def limits(analysis) -> list[str]:
    """The model's limits and what this explanation method can show."""
    return [*MODEL_LIMITS, METHOD_LIMITS.get(analysis.method, METHOD_LIMITS["attention-rollout"])]


def caveats(analysis) -> list[str]:
    """The analysis' own notes (demo weights, centre crop, input facts, unstable explanation)."""
    return list(analysis.notes())


def _method_agreement(analysis) -> float | None:
    agreement = getattr(analysis, "method_agreement", None)
    return None if agreement is None else _num(agreement)


def reproduce_command(analysis) -> str:
    """The CLI call that re-creates this analysis (output folder left as DIR)."""
    a, m = analysis, analysis.model
    args = ["python", "-m", "forensics", "analyze", a.input.name or "FILE", "--out", "DIR",
            "--head-fusion", a.head_fusion, "--discard-ratio", repr(float(a.discard_ratio))]
    if a.method != "attention-rollout":
        args += ["--method", a.method]
    if m.demo:
        args.append("--demo")
    else:
        args += ["--model", m.source] + (["--revision", m.revision] if m.revision else [])
    if a.preprocessing.name != TRAINING.name:
        args += ["--preprocessing", a.preprocessing.name]
    if a.inconclusive_margin != DEFAULT_INCONCLUSIVE_MARGIN:
        args += ["--inconclusive-margin", repr(float(a.inconclusive_margin))]
    return shlex.join(args)


def record(analysis, notes: str = "") -> dict:
    """The JSON record: result, explanation, provenance. Only created_utc changes on a re-run."""
    a, i, m, g = analysis, analysis.input, analysis.model, analysis.geometry
    return {
        "fake_probability": _num(a.fake_probability),
        "logit": _num(a.logit),
        "verdict": a.verdict,
        "verdict_text": a.verdict_text,
        "threshold": THRESHOLD,
        "inconclusive_margin": _num(a.inconclusive_margin),
        "input_sha256": i.sha256,
        "input": {"name": i.name, "bytes": i.num_bytes, "format": i.format, "width": i.width,
                  "height": i.height, "mode": i.mode, "frames": i.frames,
                  "exif_orientation": i.exif_orientation, "has_icc_profile": i.has_icc_profile,
                  "alpha_flattened": i.alpha_flattened},
        "crop_box": list(a.crop_box),
        "geometry": {"crop_box_exact": [_num(v) for v in g.crop_box_exact],
                     "resized_size": list(g.resized_size), "crop_offset": list(g.crop_offset),
                     "input_size": g.input_size, "coverage": _num(a.coverage)},
        "model": {"source": m.source, "revision": m.revision, "weights_sha256": m.weights_sha256,
                  "pinned": m.pinned, "demo": m.demo, "num_parameters": m.num_parameters},
        "preprocessing": a.preprocessing.describe(),
        "method": {"name": a.method, "head_fusion": a.head_fusion, "discard_ratio": _num(a.discard_ratio),
                   "grid": GRID, "patch_size": INPUT_SIZE // GRID,
                   "agreement_top10_iou": _method_agreement(a)},
        "patch_scores": [[_num(v) for v in row] for row in a.patch_scores],
        "software": software_versions(),
        "created_utc": a.created_utc,
        "reproduce": reproduce_command(a),
        "notes": caveats(a),
        "analyst_notes": notes,
    }


def _dumps(obj, depth: int = 0) -> str:
    """JSON with one line per list of numbers (a grid row, a box), nested objects indented."""
    pad, end = "  " * (depth + 1), "\n" + "  " * depth
    if isinstance(obj, dict) and obj:
        items = (f"{pad}{json.dumps(k)}: {_dumps(v, depth + 1)}" for k, v in obj.items())
        return "{\n" + ",\n".join(items) + end + "}"
    if isinstance(obj, list) and any(isinstance(v, (list, dict)) for v in obj):
        return "[\n" + ",\n".join(pad + _dumps(v, depth + 1) for v in obj) + end + "]"
    return json.dumps(obj, ensure_ascii=False)


def write_json(analysis, path, notes: str = "") -> Path:
    Path(path).write_text(_dumps(record(analysis, notes)) + "\n", encoding="utf-8")
    return Path(path)


def write_csv(analysis, path) -> Path:
    """All 576 patches, strongest first: rank, row, col, box in the 384 input, box in the original, score."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(CSV_HEADER)
        for p in analysis.top_patches():
            out.writerow([p["rank"], p["row"], p["col"], *p["box_input"], *p["box_original"], _num(p["score"])])
    return Path(path)


def spreadsheet_safe(text) -> str:
    """Defuse cells a spreadsheet would run as a formula (names come from untrusted uploads)."""
    text = "" if text is None else str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# ---------------------------------------------------------------------------------------------
# Shared drawing helpers

def printable(text: str) -> str:
    """Control, bidi and line-separator characters shown as '?' (names are untrusted: no terminal
    escapes, no right-to-left tricks)."""
    return "".join("?" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in str(text))


def display_name(name: str | None, max_len: int = 60) -> str:
    """A file name fit to print: `printable`, long names elided in the middle."""
    name = printable(name or "(in-memory image)")
    if len(name) <= max_len:
        return name
    head = (max_len - 1) // 2
    return name[:head] + "\u2026" + name[head + 1 - max_len:]


def _text(fig, x, y, s, **kw):
    # parse_math=False: a '$' in an uploaded file name must not be read as TeX.
    return fig.text(x, y, s, parse_math=False, **kw)


def _probability_line(a) -> str:
    lo, hi = THRESHOLD - a.inconclusive_margin, THRESHOLD + a.inconclusive_margin
    return (f"P(AI-generated) = {a.fake_probability:.3f}   (cut-off {THRESHOLD}; "
            f"inconclusive between {lo:.2f} and {hi:.2f})")


def _colour_bar(fig, rect, analysis, cmap, label=None):
    ax = fig.add_axes(rect)
    label = f"{SCORE_LABELS.get(analysis.method, 'share')} per patch (%)" if label is None else label
    top = float(analysis.patch_scores.max()) * 100
    fig.colorbar(ScalarMappable(Normalize(0, top), cmap), cax=ax).set_label(label, fontsize=8)
    ax.tick_params(labelsize=7)


def _banner(fig, bottom, height, text=DEMO_WARNING, size=15):
    fig.patches.append(Rectangle((0, bottom), 1, height, transform=fig.transFigure, color="#c00000", zorder=0))
    _text(fig, 0.5, bottom + height / 2, text, ha="center", va="center", color="white",
          fontsize=size, fontweight="bold")


@contextmanager
def _quiet():
    # Glyphs missing from DejaVu (CJK names) draw as boxes; the JSON keeps the real name.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        yield


# ---------------------------------------------------------------------------------------------
# Annotated PNG

def annotated_figure(analysis, cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5) -> Figure:
    """The original with the heatmap, crop outline, colour bar and the facts burned in."""
    a = analysis
    over = render.overlay_original(a, alpha=alpha, cmap=cmap, max_side=PNG_MAX_SIDE)
    h, w = over.shape[:2]
    fit = min(7.0 / w, 7.0 / h)
    iw, ih = w * fit, h * fit                                  # image size, inches
    head, foot, bar = (2.05 if a.demo else 1.45), 0.85, 1.15
    fw, fh = max(iw + bar + 2 * 0.35, 7.6), head + ih + foot
    fig = Figure(figsize=(fw, fh), dpi=PNG_DPI)
    left = (fw - iw - bar) / 2
    ax = fig.add_axes((left / fw, foot / fh, iw / fw, ih / fh))
    ax.imshow(over, interpolation="antialiased")
    ax.set_axis_off()
    _colour_bar(fig, ((left + iw + 0.15) / fw, foot / fh, 0.16 / fw, ih / fh), a, cmap)

    y = fh - 0.2                                               # text cursor, inches from bottom
    if a.demo:
        _banner(fig, (fh - 0.6) / fh, 0.6 / fh)
        y -= 0.6
    x = 0.35 / fw
    _text(fig, x, (y - 0.1) / fh, a.verdict_text, va="top", fontsize=15, fontweight="bold",
          color=VERDICT_COLOURS[a.verdict])
    _text(fig, x, (y - 0.5) / fh, _probability_line(a), va="top", fontsize=10.5, fontweight="bold")
    sha = (a.input_sha256 or "none")[:12]
    _text(fig, x, (y - 0.8) / fh, f"File: {display_name(a.input.name)}    SHA-256: {sha}\u2026",
          va="top", fontsize=9)
    _text(fig, x, (y - 1.03) / fh, f"Model: {display_name(a.model.label, 90)}", va="top", fontsize=9)
    l, t, r, b = a.crop_box
    seen = (f"White box: the region the model analysed, ({l}, {t})\u2013({r}, {b}), {a.coverage:.0%} of "
            "the image; dimmed: not seen." if a.coverage < 0.999 else "The model saw the whole image.")
    caption = (f"{seen} Colours: {SCORE_LABELS.get(a.method, 'share')} per patch ({a.method}, "
               f"{a.head_fusion} fusion, discard {a.discard_ratio:g}), not proof. Created {a.created_utc}.")
    _text(fig, x, 0.7 / fh, "\n".join(textwrap.wrap(caption, int(fw * 15.5))), va="top", fontsize=8,
          linespacing=1.35)
    return fig


def write_png(analysis, path, cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5) -> Path:
    a = analysis
    meta = {"Title": f"{a.verdict_text}: P(AI-generated) = {a.fake_probability:.4f}",
            "Source": f"{a.input.name or ''} sha256:{a.input_sha256 or ''}",
            "Software": f"forensics {__version__}; model {a.model.label}",
            "Description": DEMO_WARNING if a.demo else " ".join(limits(a))}
    with _quiet():
        # zlib level 3: half the time of the default 6 for ~10% more bytes on photos
        annotated_figure(a, cmap, alpha).savefig(path, format="png", dpi=PNG_DPI, metadata=meta,
                                                 pil_kwargs={"compress_level": 3})
    return Path(path)


# ---------------------------------------------------------------------------------------------
# PDF pages

class _Pages:
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

    def _fy(self, y):
        return 1 - y / A4[1]

    def room(self, inches) -> None:
        if self.y + inches > A4[1] - 0.6:
            self.new_page()

    def lines(self, lines, size=8.0, x=_MARGIN, family="sans-serif", **kw) -> None:
        step = size * 1.4 / 72
        for line in lines:
            self.room(step)
            _text(self.fig, x / A4[0], self._fy(self.y), line, va="top", fontsize=size, family=family, **kw)
            self.y += step

    def para(self, text, size=8.0, x=_MARGIN, width=A4[0] - 2 * _MARGIN, bullet="", **kw) -> None:
        """Wrapped text; chars per line from DejaVu's advance (mono 0.6 em, sans ~0.55 em on average)."""
        em = 0.62 if kw.get("family") == "monospace" else 0.55
        chars = max(20, int(width * 72 / (em * size)))
        for raw in str(text).splitlines() or [""]:
            wrapped = textwrap.wrap(raw, chars, initial_indent=bullet,
                                    subsequent_indent=" " * (2 * len(bullet))) or [""]
            self.lines(wrapped, size, x, **kw)

    def heading(self, text, size=10.5) -> None:
        self.room(0.5)
        self.y += 0.08
        self.lines([text], size, fontweight="bold")
        self.y += 0.03

    def axes(self, left, width, height):
        """Axes at the cursor (does not move it)."""
        return self.fig.add_axes((left / A4[0], self._fy(self.y + height), width / A4[0], height / A4[1]))

    def finish(self) -> list[Figure]:
        for n, fig in enumerate(self.figs, 1):
            _text(fig, _MARGIN / A4[0], 0.3 / A4[1], self.footer, fontsize=7, color="0.35")
            _text(fig, 1 - _MARGIN / A4[0], 0.3 / A4[1], f"page {n} of {len(self.figs)}", fontsize=7,
                  color="0.35", ha="right")
        return self.figs


def _downscaled(img, max_side=PDF_MAX_SIDE) -> np.ndarray:
    scale = min(1.0, max_side / max(img.size))
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return np.asarray(img.resize(size) if scale < 1 else img)


def _panels(page: _Pages, a, cmap, alpha):
    orig = _downscaled(a.image)
    h = min(2.35, 2.3 * orig.shape[0] / orig.shape[1])         # image panels keep the aspect
    over = render.overlay_original(a, alpha=alpha, cmap=cmap, max_side=PDF_MAX_SIDE)
    titles = {0.0: "Original (white box: analysed crop)", 2.42: "Heatmap on the original",
              5.0: "24\u00d724 patch scores (%)"}
    for left, title in titles.items():
        _text(page.fig, (_MARGIN + left) / A4[0], page._fy(page.y), title, va="top", fontsize=8, fontweight="bold")
    page.y += 0.2
    ax = page.axes(_MARGIN, 2.3, h)
    ax.imshow(orig, interpolation="none")
    ax.set_axis_off()
    sx, sy = orig.shape[1] / a.image.width, orig.shape[0] / a.image.height
    l, t, r, b = a.geometry.crop_box_exact
    ax.add_patch(Rectangle((l * sx - 0.5, t * sy - 0.5), (r - l) * sx, (b - t) * sy, fill=False,
                           ec="white", lw=1.2))
    ax = page.axes(_MARGIN + 2.42, 2.3, h)
    ax.imshow(over, interpolation="none")
    ax.set_axis_off()
    ax = page.axes(_MARGIN + 5.1, 1.7, 1.7)
    render.draw_grid(ax, a, cmap, fontsize=6)
    cax = ((_MARGIN + 6.9) / A4[0], page._fy(page.y + 1.7), 0.1 / A4[0], 1.7 / A4[1])
    _colour_bar(page.fig, cax, a, cmap, label="")
    page.y += max(h, 1.7 + 0.35) + 0.1


def _provenance(a) -> list[tuple[str, str]]:
    i, m = a.input, a.model
    l, t, r, b = a.crop_box
    pre = a.preprocessing.describe()
    rev = "none (demo)" if m.demo else (m.revision or "none (local folder)")
    return [
        ("File", display_name(i.name, 90)),
        ("Bytes", f"{i.num_bytes:,}" if i.num_bytes is not None else "unknown (in-memory image)"),
        ("SHA-256", i.sha256 or "none (in-memory image)"),
        ("Image", f"{i.format or '?'}, {i.width}\u00d7{i.height} px upright, mode {i.mode}, frames {i.frames}, "
                  f"EXIF orientation {i.exif_orientation}, ICC profile {'yes' if i.has_icc_profile else 'no'}"
                  + (", alpha flattened onto white" if i.alpha_flattened else "")),
        ("Analysed region", f"({l}, {t})\u2013({r}, {b}) in original pixels, {a.coverage:.1%} of the area"),
        ("Model", display_name(m.source, 120)),
        ("Revision", rev),
        ("Weights SHA-256", (m.weights_sha256 or "none") + ("  (pinned release)" if m.pinned else "")),
        ("Preprocessing", ", ".join(f"{k} {v}" for k, v in pre.items())),
        ("Method", f"{a.method}, head fusion {a.head_fusion}, discard ratio {a.discard_ratio:g}"
                   + ("" if _method_agreement(a) is None else
                      f"; agreement with the other method {_method_agreement(a):.2f} (top-10% IoU)")),
        ("Software", ", ".join(f"{k} {v}" for k, v in software_versions().items())),
        ("Created (UTC)", a.created_utc),
        ("Reproduce", reproduce_command(a)),
    ]


def pdf_figures(analysis, notes: str = "", cmap: str = render.DEFAULT_COLORMAP,
                alpha: float = 0.5) -> list[Figure]:
    """The report pages of one image (one page unless the notes are long)."""
    a = analysis
    title = f"Image forensic report: {display_name(a.input.name, 55)}"
    page = _Pages(title, f"{display_name(a.input.name, 50)}  \u00b7  sha256 {(a.input_sha256 or 'none')[:12]}  "
                         f"\u00b7  forensics {__version__}")
    page.lines([title], 14, fontweight="bold")
    if a.demo:
        page.y += 0.05
        _banner(page.fig, page._fy(page.y + 0.45), 0.45 / A4[1], size=13)
        page.y += 0.55
    page.y += 0.05
    page.lines([a.verdict_text], 13, fontweight="bold", color=VERDICT_COLOURS[a.verdict])
    page.lines([_probability_line(a)], 9.5)
    for note in caveats(a):
        page.para(note, 8.5, bullet="\u2022 ", color="#8a3b00")
    page.y += 0.1
    _panels(page, a, cmap, alpha)

    # Left: the strongest patches; right: what the result can and cannot say.
    top = page.y
    page.heading("Strongest 10 patches")
    table = [f"{'rank':>4} {'row':>3} {'col':>3}  {'box in original (l, t, r, b)':<28} {'share':>6}"]
    for p in a.top_patches(10):
        box = "({}, {}, {}, {})".format(*p["box_original"])
        table.append(f"{p['rank']:>4} {p['row']:>3} {p['col']:>3}  {box:<28} {p['share_percent']:5.2f}%")
    page.lines(table, 7.5, family="monospace")
    left_end, page.y = page.y, top
    x, width = _MARGIN + 3.65, A4[0] - 2 * _MARGIN - 3.65
    page.y += 0.08
    page.lines(["What this result can and cannot say"], 10.5, x=x, fontweight="bold")
    page.y += 0.03
    for limit in limits(a):
        page.para(limit, 7.5, x=x, width=width, bullet="\u2022 ")
    if not a.model.pinned and not a.demo:
        page.para("These are not the pinned Community Forensics weights; the facts above describe "
                  "the published model.", 7.5, x=x, width=width, bullet="\u2022 ", color="#8a3b00")
    page.y = max(page.y, left_end) + 0.05

    page.heading("Provenance")
    for key, value in _provenance(a):
        mono = key in ("SHA-256", "Weights SHA-256", "Reproduce")
        step = 7.5 * 1.4 / 72
        page.room(step)
        page.lines([key], 7.5, fontweight="bold")
        page.y -= step  # the value starts on the key's line
        page.para(printable(value), 7.5, x=_MARGIN + 1.25, width=A4[0] - 2 * _MARGIN - 1.25,
                  family="monospace" if mono else "sans-serif")
    page.heading("Analyst notes")
    page.para(notes.strip() or "(none)", 9)
    return page.finish()


def _pdf_meta(title: str) -> dict:
    return {"Title": title, "Creator": f"forensics {__version__}"}


def _save_pdf(figures, path, analysis) -> None:
    meta = _pdf_meta(f"Forensic report: {analysis.input.name or 'image'}")
    with _quiet(), PdfPages(path, metadata=meta) as pdf:
        for fig in figures:
            pdf.savefig(fig)


def write_pdf(analysis, path, notes: str = "", cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5) -> Path:
    _save_pdf(pdf_figures(analysis, notes, cmap, alpha), path, analysis)
    return Path(path)


# ---------------------------------------------------------------------------------------------
# Batch PDF

class BatchReport:
    """One PDF for a batch: a cover page with the summary table, then each image's pages.

    Pages are written as images arrive (nothing but the summary rows is kept in memory); the
    cover, drawn last, is moved to the front when the file is closed.
    """

    def __init__(self, path, notes: str = ""):
        self.path = Path(path)
        self.notes = notes
        self.rows: list[dict] = []
        self._pdf = PdfPages(self.path, metadata=_pdf_meta("Forensic batch report"))
        self._model_label = None
        self._demo = self._closed = False

    def add(self, analysis, figures=None, label: str | None = None) -> None:
        a = analysis
        with _quiet():
            for fig in figures or pdf_figures(a, self.notes):
                self._pdf.savefig(fig)
        self._model_label, self._demo = a.model.label, self._demo or a.demo
        self.rows.append({"file": label or a.input.name, "verdict": a.verdict,
                          "p": a.fake_probability, "sha": (a.input_sha256 or "")[:12]})

    def add_error(self, label: str, message: str) -> None:
        self.rows.append({"file": label, "verdict": "error", "error": message})

    def _cover(self) -> list[Figure]:
        ok = [r for r in self.rows if r["verdict"] != "error"]
        counts = Counter(r["verdict"] for r in ok)
        page = _Pages("Forensic batch report", f"forensics {__version__}  \u00b7  batch summary")
        page.lines([page.title], 16, fontweight="bold")
        if self._demo:
            _banner(page.fig, page._fy(page.y + 0.5), 0.5 / A4[1], size=13)
            page.y += 0.6
        page.para(f"{len(ok)} of {len(self.rows)} file(s) analysed: {counts['ai-generated']} likely "
                  f"AI-generated, {counts['real']} likely real, {counts['inconclusive']} inconclusive; "
                  f"{len(self.rows) - len(ok)} could not be read.", 10)
        page.para(f"Model: {self._model_label or 'not used'}", 9)
        if self.notes.strip():
            page.para(f"Analyst notes: {self.notes.strip()}", 9)
        page.para("Each analysed image has its own pages after this summary, with the model's limits "
                  "and full provenance. P = P(AI-generated).", 8.5, color="0.3")
        page.y += 0.1
        head = f"{'#':>3}  {'file':<44} {'verdict':<13} {'P':>6}  sha256"
        page.lines([head], 8, family="monospace", fontweight="bold")
        for n, r in enumerate(self.rows, 1):
            name = display_name(r["file"], 44)
            if r["verdict"] == "error":
                page.lines([f"{n:>3}  {name:<44} unreadable"], 8, family="monospace", color="#a00000")
                page.para(printable(r["error"]), 7, x=_MARGIN + 0.3, width=A4[0] - 2 * _MARGIN - 0.3,
                          color="#a00000")
            else:
                page.lines([f"{n:>3}  {name:<44} {r['verdict']:<13} {r['p']:6.3f}  {r['sha']}"], 8,
                           family="monospace", color=VERDICT_COLOURS[r["verdict"]])
        return page.finish()

    def close(self) -> Path:
        if self._closed:
            return self.path
        self._closed = True
        cover = self._cover()
        with _quiet():
            for fig in cover:
                self._pdf.savefig(fig)
        pages = getattr(self._pdf._file, "pageList", None)  # matplotlib internals; else cover stays last
        if isinstance(pages, list) and len(pages) > len(cover):
            pages[:] = pages[-len(cover):] + pages[:-len(cover)]
        self._pdf.close()
        return self.path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_batch_pdf(path, analyses, errors=(), notes: str = "") -> Path:
    """A batch PDF from analyses in memory, plus (label, message) pairs for unreadable files."""
    with BatchReport(path, notes) as batch:
        for a in analyses:
            batch.add(a)
        for label, message in errors:
            batch.add_error(label, message)
    return Path(path)
