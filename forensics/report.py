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

from . import __version__, checks, render
from .analysis import DEFAULT_INCONCLUSIVE_MARGIN, verdict_for
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
# "image": full colour at each image's strongest patch (every image shows a hot spot);
# "absolute": full colour at render.ABSOLUTE_VMAX of the flow per patch, comparable across images.
COLOR_SCALES = ("image", "absolute")
UNIFORM_SHARE = 1.0 / (GRID * GRID)
BADGE_COLOURS = {"ok": "#1b7837", "warn": "#8a6100", "bad": "#b2182b", "info": "#5a5a5a"}

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
           cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5,
           deep: "checks.DeepCheck | None" = None, color_scale: str = "image") -> dict[str, Path]:
    """Write the chosen formats of one analysis into `out_dir` -> {format: path}.

    `stem` (default: the input's file name) is sanitised; clashes get -1, -2, ... suffixes.
    `batch` also receives this image's PDF pages (drawn once for both files), listed on its
    cover as `label` (default: the file name). `deep` (from `checks.deep_check`) adds the deep-
    check section to the JSON, PDF and PNG; `color_scale` is "image" (each heatmap scaled to its
    strongest patch) or "absolute" (full colour at `render.ABSOLUTE_VMAX`, comparable across images).
    """
    formats = tuple(dict.fromkeys(f.lower() for f in formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; choose from {FORMATS}")
    scale_vmax(color_scale)  # validates before any file is claimed
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = claim_stem(out_dir, safe_stem(stem or analysis.input.name), formats)
    paths = {f: out_dir / f"{name}.{f}" for f in formats}
    try:
        if "png" in paths:
            write_png(analysis, paths["png"], cmap=cmap, alpha=alpha, deep=deep, color_scale=color_scale)
        if "pdf" in paths or batch is not None:
            pages = pdf_figures(analysis, notes, cmap=cmap, alpha=alpha, deep=deep, color_scale=color_scale)
            if "pdf" in paths:
                _save_pdf(pages, paths["pdf"], analysis)
            if batch is not None:
                batch.add(analysis, pages, label, deep=deep)
        if "json" in paths:
            write_json(analysis, paths["json"], notes, deep=deep, color_scale=color_scale)
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


def scale_vmax(color_scale: str) -> float | None:
    """The `vmax` render functions take for a colour scale: None (per image) or the absolute one."""
    if color_scale not in COLOR_SCALES:
        raise ValueError(f"color_scale must be one of {COLOR_SCALES}, got {color_scale!r}")
    return render.ABSOLUTE_VMAX if color_scale == "absolute" else None


def scale_text(analysis, color_scale: str) -> str:
    """One line saying what full colour means on this colour scale."""
    if scale_vmax(color_scale) is None:
        return (f"per-image scale: full colour = this image's strongest patch "
                f"({100 * float(analysis.patch_scores.max()):.2f}%), not comparable across images")
    return (f"absolute scale: full colour = {100 * render.ABSOLUTE_VMAX:g}% per patch (uniform "
            f"{100 * UNIFORM_SHARE:.2f}%), comparable across images")


def reproduce_command(analysis, *, deep: bool = False, color_scale: str = "image") -> str:
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
    if deep:
        args.append("--deep-check")
    if color_scale != "image":
        args += ["--color-scale", color_scale]
    return shlex.join(args)


def _mask(m) -> list[list[int]]:
    return [[int(v) for v in row] for row in np.asarray(m, dtype=bool)]


def deep_record(deep) -> dict:
    """The deep check as plain JSON: every number the PDF shows, and the 24x24 masks as 0/1."""
    f, s, c, r = deep.faithfulness, deep.stability, deep.coverage, deep.reliability
    return {
        "faithfulness": {
            "method": f.method, "fractions": [_num(x) for x in f.fractions],
            "probability": _num(f.probability),
            "top_removed": [_num(x) for x in f.top_removed],
            "random_removed": [_num(x) for x in f.random_removed],
            "auc_top": _num(f.auc_top), "auc_random": _num(f.auc_random),
            "faithful": bool(f.faithful), "faithful_ratio": checks.FAITHFUL_RATIO,
            "faithful_min_auc": checks.FAITHFUL_MIN_AUC, "summary": f.summary},
        "stability": {
            "probability": _num(s.probability),
            "perturbations": [{"name": p.name, "probability": _num(p.probability), "verdict": p.verdict,
                               "flipped": bool(p.flipped), "heatmap_correlation": _num(p.heatmap_correlation)}
                              for p in s.perturbations],
            "fragile": bool(s.fragile), "fragile_correlation": checks.FRAGILE_CORRELATION, "summary": s.summary},
        "coverage": None if c is None else {
            "tiles": [{"box_original": [int(v) for v in t.box_original], "probability": _num(t.probability)}
                      for t in c.tiles],
            "aggregation": c.aggregation, "probability": _num(c.probability),
            "centre_probability": _num(c.centre_probability), "summary": c.summary},
        "coverage_error": deep.coverage_error,
        "reliability": {
            "flat_count": int(r.flat.sum()), "clipped_count": int(r.clipped.sum()),
            "weak_count": int(r.weak.sum()), "outlier_count": int(r.outliers.sum()),
            "flat_std_below": checks.FLAT_STD, "clipped_share_above": checks.CLIPPED_SHARE,
            "outlier_mads_above": checks.OUTLIER_MADS, "summary": r.summary,
            "flat": _mask(r.flat), "clipped": _mask(r.clipped), "outliers": _mask(r.outliers)},
    }


def record(analysis, notes: str = "", deep=None, *, color_scale: str = "image") -> dict:
    """The JSON record: result, explanation, provenance. Only created_utc changes on a re-run.

    `deep` (a `checks.DeepCheck`) adds the "deep_check" section; `color_scale` records how the
    PNG and PDF coloured the heatmaps.
    """
    a, i, m, g = analysis, analysis.input, analysis.model, analysis.geometry
    vmax = scale_vmax(color_scale)
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
        "top10_share": _num(a.top_share(0.1)),
        "method_agreement": _method_agreement(a),
        "explanation_unstable": bool(a.explanation_unstable),
        "color_scale": {"name": color_scale,
                        "full_colour_share": _num(vmax if vmax is not None else a.patch_scores.max())},
        **({"deep_check": deep_record(deep)} if deep is not None else {}),
        "software": software_versions(),
        "created_utc": a.created_utc,
        "reproduce": reproduce_command(a, deep=deep is not None, color_scale=color_scale),
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


def write_json(analysis, path, notes: str = "", deep=None, *, color_scale: str = "image") -> Path:
    Path(path).write_text(_dumps(record(analysis, notes, deep, color_scale=color_scale)) + "\n",
                          encoding="utf-8")
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


def _colour_bar(fig, rect, analysis, cmap, label=None, vmax: float | None = None):
    """A colour bar for the patch scores; with `vmax` (absolute scale) stronger patches saturate."""
    ax = fig.add_axes(rect)
    label = f"{render.SCORE_LABELS.get(analysis.method, 'share')} per patch (%)" if label is None else label
    peak = float(analysis.patch_scores.max())
    top = (vmax or peak) * 100
    extend = "max" if vmax and peak > vmax else "neither"
    fig.colorbar(ScalarMappable(Normalize(0, top), cmap), cax=ax, extend=extend).set_label(label, fontsize=8)
    ax.tick_params(labelsize=7)


def _scale_label(analysis, color_scale) -> str:
    """The colour bar label: what is coloured, and on which scale."""
    what = f"{render.SCORE_LABELS.get(analysis.method, 'share')} per patch (%)"
    if scale_vmax(color_scale) is None:
        return f"{what}\nper-image scale: full colour = strongest patch"
    return f"{what}\nabsolute scale: full colour = {100 * render.ABSOLUTE_VMAX:g}%"


def badges(analysis, deep) -> list[dict]:
    """The deep check at a glance: [{"label", "detail", "level": ok | warn | bad | info}], in order
    faithfulness, stability, explanation (method agreement), full coverage."""
    a, f, s, c = analysis, deep.faithfulness, deep.stability, deep.coverage
    out = [{"label": "FAITHFUL" if f.faithful else "NOT SHOWN FAITHFUL", "level": "ok" if f.faithful else "warn",
            "detail": f"AUC {f.auc_top:.3f} vs {f.auc_random:.3f} random"}]
    flips = [p.name for p in s.perturbations if p.flipped]
    low = min(p.heatmap_correlation for p in s.perturbations)
    out.append({"label": "FRAGILE" if s.fragile else "STABLE", "level": "bad" if s.fragile else "ok",
                "detail": (f"verdict flips in {len(flips)} of {len(s.perturbations)} re-runs" if flips
                           else f"no flips; lowest heatmap r {low:.2f}")})
    agreement = a.method_agreement
    if agreement is None:
        out.append({"label": "ONE METHOD RUN", "level": "info",
                    "detail": "grad-rollout not run"})
    else:
        out.append({"label": "EXPLANATION UNSTABLE" if a.explanation_unstable else "METHODS AGREE",
                    "level": "bad" if a.explanation_unstable else "ok",
                    "detail": f"methods' top-10% IoU {agreement:.2f}"})
    if c is None:
        out.append({"label": "COVERAGE NOT RUN", "level": "info", "detail": "image too elongated to tile"})
    else:
        verdict = verdict_for(c.probability, a.inconclusive_margin)
        out.append({"label": f"FULL IMAGE P {c.probability:.2f}",
                    "level": {"ai-generated": "bad", "real": "ok"}.get(verdict, "warn"),
                    "detail": f"max of {len(c.tiles)} tiles: {verdict}"})
    return out


def badge_line(analysis, deep) -> str:
    """The badges as one line of text, for captions and tables."""
    return " \u00b7 ".join(b["label"] for b in badges(analysis, deep))


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

def annotated_figure(analysis, cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5, *,
                     deep=None, color_scale: str = "image") -> Figure:
    """The original with the heatmap, crop outline, colour bar and the facts burned in."""
    a = analysis
    vmax = scale_vmax(color_scale)
    over = render.overlay_original(a, alpha=alpha, cmap=cmap, max_side=PNG_MAX_SIDE, vmax=vmax)
    h, w = over.shape[:2]
    fit = min(7.0 / w, 7.0 / h)
    iw, ih = w * fit, h * fit                                  # image size, inches
    head, foot, bar = (2.05 if a.demo else 1.45) + (0.25 if deep is not None else 0.0), 0.85, 1.15
    fw, fh = max(iw + bar + 2 * 0.35, 7.6), head + ih + foot
    fig = Figure(figsize=(fw, fh), dpi=PNG_DPI)
    left = (fw - iw - bar) / 2
    ax = fig.add_axes((left / fw, foot / fh, iw / fw, ih / fh))
    ax.imshow(over, interpolation="antialiased")
    ax.set_axis_off()
    _colour_bar(fig, ((left + iw + 0.15) / fw, foot / fh, 0.16 / fw, ih / fh), a, cmap,
                _scale_label(a, color_scale), vmax)

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
    caption = (f"{seen} Colours: {render.SCORE_LABELS.get(a.method, 'share')} per patch ({a.method}, "
               f"{a.head_fusion} fusion, discard {a.discard_ratio:g}; {scale_text(a, color_scale)}), "
               f"not proof. Created {a.created_utc}.")
    _text(fig, x, 0.7 / fh, "\n".join(textwrap.wrap(caption, int(fw * 15.5))), va="top", fontsize=8,
          linespacing=1.35)
    if deep is not None:
        _text(fig, x, (y - 1.26) / fh, f"Deep check: {badge_line(a, deep)}", va="top", fontsize=9,
              fontweight="bold", color=BADGE_COLOURS["bad" if deep.stability.fragile or a.explanation_unstable
                                                      else "warn" if not deep.faithfulness.faithful else "ok"])
    return fig


def write_png(analysis, path, cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5, *,
              deep=None, color_scale: str = "image") -> Path:
    a = analysis
    meta = {"Title": f"{a.verdict_text}: P(AI-generated) = {a.fake_probability:.4f}",
            "Source": f"{a.input.name or ''} sha256:{a.input_sha256 or ''}",
            "Software": f"forensics {__version__}; model {a.model.label}",
            "Description": DEMO_WARNING if a.demo else " ".join(limits(a))}
    with _quiet():
        # zlib level 3: half the time of the default 6 for ~10% more bytes on photos
        annotated_figure(a, cmap, alpha, deep=deep, color_scale=color_scale).savefig(
            path, format="png", dpi=PNG_DPI, metadata=meta, pil_kwargs={"compress_level": 3})
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


def _panels(page: _Pages, a, cmap, alpha, vmax=None):
    orig = _downscaled(a.image)
    h = min(2.35, 2.3 * orig.shape[0] / orig.shape[1])         # image panels keep the aspect
    over = render.overlay_original(a, alpha=alpha, cmap=cmap, max_side=PDF_MAX_SIDE, vmax=vmax)
    titles = {0.0: "Original (white box: analysed crop)", 2.42: "Heatmap on the original",
              5.0: "24\u00d724 patch scores (%" + (", absolute scale)" if vmax else ")")}
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
    render.draw_grid(ax, a, cmap, vmax, fontsize=6)
    cax = ((_MARGIN + 6.9) / A4[0], page._fy(page.y + 1.7), 0.1 / A4[0], 1.7 / A4[1])
    _colour_bar(page.fig, cax, a, cmap, label="", vmax=vmax)
    page.y += max(h, 1.7 + 0.35) + 0.1


def _provenance(a, deep=None, color_scale: str = "image") -> list[tuple[str, str]]:
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
        ("Colour scale", scale_text(a, color_scale)),
        ("Software", ", ".join(f"{k} {v}" for k, v in software_versions().items())),
        ("Created (UTC)", a.created_utc),
        ("Reproduce", reproduce_command(a, deep=deep is not None, color_scale=color_scale)),
    ]


def pdf_figures(analysis, notes: str = "", cmap: str = render.DEFAULT_COLORMAP,
                alpha: float = 0.5, deep=None, color_scale: str = "image") -> list[Figure]:
    """The report pages of one image: one page (more if the notes are long), and with `deep` a
    deep-check page after it."""
    a = analysis
    vmax = scale_vmax(color_scale)
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
    if deep is not None:
        worst = max(("ok", "info", "warn", "bad").index(b["level"]) for b in badges(a, deep))
        page.para(f"Deep check: {badge_line(a, deep)}", 8.5,
                  fontweight="bold", color=BADGE_COLOURS[("ok", "ok", "warn", "bad")[worst]])
    for note in caveats(a):
        page.para(note, 8.5, bullet="\u2022 ", color="#8a3b00")
    page.y += 0.1
    _panels(page, a, cmap, alpha, vmax)

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
    for key, value in _provenance(a, deep, color_scale):
        mono = key in ("SHA-256", "Weights SHA-256", "Reproduce")
        step = 7.5 * 1.4 / 72
        page.room(step)
        page.lines([key], 7.5, fontweight="bold")
        page.y -= step  # the value starts on the key's line
        page.para(printable(value), 7.5, x=_MARGIN + 1.25, width=A4[0] - 2 * _MARGIN - 1.25,
                  family="monospace" if mono else "sans-serif")
    page.heading("Analyst notes")
    page.para(notes.strip() or "(none)", 9)
    if deep is not None:
        _deep_page(page, a, deep, cmap, alpha, vmax)
    return page.finish()


def _badge_row(page: _Pages, items, height=0.52, gap=0.1) -> None:
    page.room(height + 0.1)
    width = (A4[0] - 2 * _MARGIN - gap * (len(items) - 1)) / len(items)
    for n, b in enumerate(items):
        left = _MARGIN + n * (width + gap)
        page.fig.patches.append(Rectangle((left / A4[0], page._fy(page.y + height)), width / A4[0],
                                          height / A4[1], transform=page.fig.transFigure, zorder=0,
                                          color=BADGE_COLOURS[b["level"]]))
        centre = (left + width / 2) / A4[0]
        _text(page.fig, centre, page._fy(page.y + 0.19), b["label"], ha="center", va="center", color="white",
              fontsize=8.5, fontweight="bold")
        _text(page.fig, centre, page._fy(page.y + 0.38), b["detail"], ha="center", va="center", color="white",
              fontsize=6.5)
    page.y += height + 0.12


def _legend(page: _Pages, x, entries, size=7.0) -> None:
    """Swatches with labels, one per line, at the cursor: entries are (Patch keywords, text)."""
    step = size * 1.55 / 72
    for style, text in entries:
        page.room(step)
        page.fig.patches.append(Rectangle((x / A4[0], page._fy(page.y + step * 0.8)), 0.22 / A4[0],
                                          step * 0.7 / A4[1], transform=page.fig.transFigure, **style))
        _text(page.fig, (x + 0.3) / A4[0], page._fy(page.y + step * 0.45), text, va="center", fontsize=size)
        page.y += step


def _coverage_panel(ax, a, coverage, cmap, alpha) -> None:
    over = render.coverage_overlay(a, coverage, alpha, cmap, max_side=PDF_MAX_SIDE)
    ax.imshow(over, interpolation="none")
    s = over.shape[1] / a.image.width
    l, t, r, b = a.geometry.crop_box_exact
    ax.add_patch(Rectangle((l * s - 0.5, t * s - 0.5), (r - l) * s, (b - t) * s, fill=False, ec="#ffd700",
                           lw=1.0, ls="--"))
    for tile in coverage.tiles:
        l, t, r, b = tile.box_original
        ax.add_patch(Rectangle((l * s - 0.5, t * s - 0.5), (r - l) * s, (b - t) * s, fill=False, ec="white",
                               lw=0.6, alpha=0.9))
        ax.text((l + r) / 2 * s, (t + b) / 2 * s, f"{tile.probability:.2f}", ha="center", va="center",
                fontsize=6, parse_math=False, bbox=dict(boxstyle="round,pad=0.15", fc="white", alpha=0.85, lw=0))
    ax.set_axis_off()


def _reliability_panel(ax, a, reliability, cmap, alpha, vmax) -> None:
    """The reliability overlay placed on the dimmed original, outlier tokens boxed in vector."""
    w, h = a.image.size
    dim = (_downscaled(a.image).astype(np.float32) * render.NOT_ANALYSED_DIM).astype(np.uint8)
    ax.imshow(dim, extent=(0, w, h, 0), interpolation="none")
    l, t, r, b = a.geometry.crop_box_exact
    ax.imshow(render.reliability_overlay(a, reliability, alpha, cmap, vmax=vmax), extent=(l, r, b, t),
              interpolation="none")
    for row, col in zip(*np.nonzero(reliability.outliers)):
        pl, pt, pr, pb = a.geometry.input_to_original(a.geometry.patch_box_input(int(row), int(col)))
        ax.add_patch(Rectangle((pl, pt), pr - pl, pb - pt, fill=False, ec="#00ffff", lw=1.0))
    ax.add_patch(Rectangle((l, t), r - l, b - t, fill=False, ec="white", lw=1.0))
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_axis_off()


def _deep_page(page: _Pages, a, deep, cmap, alpha, vmax) -> None:
    """The deep-check page: badges, summaries, deletion curve, stability table, coverage and
    reliability pictures, the tile table."""
    f, s = deep.faithfulness, deep.stability
    page.new_page()
    page.lines(["Deep checks"], 14, fontweight="bold")
    if a.demo:
        page.y += 0.03
        _banner(page.fig, page._fy(page.y + 0.32), 0.32 / A4[1], size=10)
        page.y += 0.4
    page.y += 0.05
    _badge_row(page, badges(a, deep))
    what = render.SCORE_LABELS.get(a.method, "share").removeprefix("share of ")
    lines = [*deep.summaries(),
             f"Concentration: the strongest 10% of patches hold {a.top_share(0.1):.1%} of the {what} "
             f"(10% if spread evenly).",
             ("Method agreement: not measured (only attention rollout was run; --method grad-rollout runs both)."
              if a.method_agreement is None else
              f"Method agreement: the top-10% patches of attention rollout and grad-rollout overlap "
              f"{a.method_agreement:.2f} IoU" + (", below 0.25: EXPLANATION UNSTABLE, do not present either "
                                                 "map alone." if a.explanation_unstable else " (0.25 or more: "
                                                 "the methods agree).")),
             f"Colour scale of the heatmaps: {scale_text(a, 'absolute' if vmax else 'image')}."]
    for line in lines:
        page.para(line, 8, bullet="\u2022 ")

    # Deletion curve (left) beside the stability table (right).
    page.heading("Faithfulness (deletion check) and stability (innocent re-runs)")
    h = 2.0
    page.room(h + 0.5)
    top = page.y + 0.2
    page.y = top
    render.draw_deletion(page.axes(_MARGIN + 0.45, 2.95, h), f, fontsize=7)
    x, width = _MARGIN + 3.8, A4[0] - 2 * _MARGIN - 3.8
    page.y = top - 0.2
    table = [f"{'run':<14}{'P(AI)':>6}  {'verdict':<13}{'flipped':<8}{'heatmap r':>9}",
             f"{'original':<14}{s.probability:6.3f}  {a.verdict:<13}{'-':<8}{'-':>9}"]
    page.lines(table[:1], 7.5, x=x, family="monospace", fontweight="bold")
    page.lines(table[1:], 7.5, x=x, family="monospace")
    for p in s.perturbations:
        bad = p.flipped or p.heatmap_correlation < checks.FRAGILE_CORRELATION
        page.lines([f"{p.name:<14}{p.probability:6.3f}  {p.verdict:<13}{'YES' if p.flipped else 'no':<8}"
                    f"{p.heatmap_correlation:9.2f}"], 7.5, x=x, family="monospace",
                   color=BADGE_COLOURS["bad"] if bad else "black")
    page.y += 0.08
    for text in (f"Fragile when a re-run flips the verdict or its heatmap correlates below "
                 f"{checks.FRAGILE_CORRELATION:g} with this one (Pearson, in original pixels, over the region "
                 "both runs analysed).",
                 f"Deletion: the strongest k% of patches, or as many random ones (seeded), are set to the "
                 f"image's mean colour and the model re-runs. Faithful when the strongest move P at least "
                 f"{checks.FAITHFUL_RATIO:g}\u00d7 as much as random ones and by {checks.FAITHFUL_MIN_AUC:g} or more "
                 "(area under |\u0394P|, averaged over k). Mean-filling is itself unusual input; the random curve "
                 "is the baseline."):
        page.para(text, 7, x=x, width=width, color="0.25")
    page.y = max(page.y, top + h + 0.45)

    _whole_image(page, a, deep, cmap, alpha, vmax)


_LIMIT = A4[1] - 0.6  # inches from the top where a page's content ends


def _whole_image(page: _Pages, a, deep, cmap, alpha, vmax) -> None:
    """Full coverage beside the reliability mask (one above the other for wide images), the tile
    table under the coverage picture; moved to a new page as a whole when it does not fit."""
    c, r = deep.coverage, deep.reliability
    full = A4[0] - 2 * _MARGIN
    gap = 0.3
    col_w = (full - gap) / 2
    aspect = a.image.height / a.image.width
    stacked = aspect < 0.45                 # panoramas: each picture gets the full width
    width = full if stacked else col_w
    caption, legend, title, head = (0.42 if stacked else 0.5), 0.5, 0.22, 0.35
    table = _tile_table(page, c, width, measure=True) if c is not None else 0.0

    def panel_height(y):                     # what the pictures can have below cursor y
        if stacked:
            return (_LIMIT - y - head - 2 * title - caption - table - legend - 0.22) / 2
        return _LIMIT - y - head - title - max(caption + table, legend) - 0.06

    wanted = min(2.2 if stacked else 2.9, width * aspect)
    if panel_height(page.y) < (0.6 * wanted if stacked else min(wanted, 1.6)):
        page.new_page()
    ph = max(0.2, min(wanted, panel_height(page.y)))
    pw = min(width, ph / aspect)
    ph = pw * aspect

    page.heading("Whole image (full coverage) and weak evidence (reliability)")
    cov_title = (f"Full coverage: {len(c.tiles)} tiles, P(AI) by {c.aggregation} {c.probability:.2f}"
                 if c is not None else "Full coverage not run")
    rel_title = "Reliability mask on the analysed crop"
    right = _MARGIN if stacked else _MARGIN + col_w + gap

    def titled(x, text):
        _text(page.fig, x / A4[0], page._fy(page.y), text, va="top", fontsize=8, fontweight="bold")
        page.y += title

    top = page.y
    titled(_MARGIN, cov_title)
    if not stacked:
        page.y = top
        titled(right, rel_title)
    pictures, fig = page.y, page.fig
    if c is not None:
        _coverage_panel(page.axes(_MARGIN, pw, ph), a, c, cmap, alpha)
        page.y += ph + 0.06
        page.para("White boxes: the overlapping 384-pixel tiles, each labelled with its P(AI); dashed gold: "
                  "the centre crop behind the verdict. Stitched heatmap scaled to its own maximum.", 7,
                  width=width, color="0.25")
        page.y += 0.05
        _tile_table(page, c, width)
    else:
        page.para(f"Not run: {deep.coverage_error}", 8, width=width, color=BADGE_COLOURS["warn"])
    if stacked:
        page.y += 0.1
        titled(_MARGIN, rel_title)
        pictures = page.y
    left_end, left_page = page.y, page.fig
    page.y = pictures
    if not stacked:
        page.fig = fig  # beside the coverage picture, even if the tile table ran onto a new page
    _reliability_panel(page.axes(right, pw, ph), a, r, cmap, alpha, vmax)
    page.y += ph + 0.06
    weak = _count(r.weak.sum(), "patch", "patches")
    _legend(page, right, [
        (dict(color="#a3a3a3"), f"grey: flat or clipped \u2014 weak evidence ({weak})"),
        (dict(fc="#404040", ec="#00ffff", lw=1.5), f"cyan boxes: high-norm outlier tokens ({int(r.outliers.sum())})"),
        (dict(color="#2e2e2e"), "dimmed: outside the analysed crop (white box)"),
    ])
    page.fig = left_page
    page.y = (left_end if left_page is not fig else max(page.y, left_end)) + 0.05


def _count(n, one: str, many: str) -> str:
    return f"{int(n)} {one if int(n) == 1 else many}"


def _tile_table(page: _Pages, coverage, width, measure: bool = False) -> float:
    """Tile number, box in original pixels and P(AI), in as many columns as fit `width`;
    returns its height in inches (and draws nothing when `measure`)."""
    size = 6.5
    boxes = ["({}, {}, {}, {})".format(*tile.box_original) for tile in coverage.tiles]
    bw = max(len("tile box (l, t, r, b)"), *map(len, boxes))
    rows = [f"{n:>2} {box:<{bw}}  {tile.probability:5.3f}"
            for n, (box, tile) in enumerate(zip(boxes, coverage.tiles), 1)]
    col_w = (bw + 10) * 0.6 * size / 72 + 0.2  # DejaVu Sans Mono advance: 0.6 em
    cols = max(1, min(len(rows), int(width // col_w)))
    per_col = -(-len(rows) // cols)
    height = (per_col + 1) * size * 1.4 / 72
    if measure:
        return height
    page.room(height)
    top, ends = page.y, []
    for k in range(0, len(rows), per_col):
        page.y = top
        x = _MARGIN + (k // per_col) * col_w
        page.lines([f"{'#':>2} {'tile box (l, t, r, b)':<{bw}}  {'P(AI)':>5}"], size, x=x, family="monospace",
                   fontweight="bold")
        page.lines(rows[k:k + per_col], size, x=x, family="monospace")
        ends.append(page.y)
    page.y = max(ends)
    return height


def _pdf_meta(title: str) -> dict:
    return {"Title": title, "Creator": f"forensics {__version__}"}


def _save_pdf(figures, path, analysis) -> None:
    meta = _pdf_meta(f"Forensic report: {analysis.input.name or 'image'}")
    with _quiet(), PdfPages(path, metadata=meta) as pdf:
        for fig in figures:
            pdf.savefig(fig)


def write_pdf(analysis, path, notes: str = "", cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5, *,
              deep=None, color_scale: str = "image") -> Path:
    _save_pdf(pdf_figures(analysis, notes, cmap, alpha, deep, color_scale), path, analysis)
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

    def add(self, analysis, figures=None, label: str | None = None, deep=None) -> None:
        """Append an image's pages (drawn here unless given); `deep` puts its badges on the cover."""
        a = analysis
        with _quiet():
            for fig in figures or pdf_figures(a, self.notes, deep=deep):
                self._pdf.savefig(fig)
        self._model_label, self._demo = a.model.label, self._demo or a.demo
        self.rows.append({"file": label or a.input.name, "verdict": a.verdict,
                          "p": a.fake_probability, "sha": (a.input_sha256 or "")[:12],
                          "deep": None if deep is None else badge_line(a, deep)})

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
                if r.get("deep"):
                    page.para(f"deep check: {r['deep']}", 7, x=_MARGIN + 0.35, width=A4[0] - 2 * _MARGIN - 0.35,
                              color="0.3")
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
