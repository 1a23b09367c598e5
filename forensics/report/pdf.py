"""An image's report pages: verdict, caveats, the three pictures, the strongest patches, the
limits, provenance and the analyst's notes; with a deep check, its page follows (`pdf_deep`)."""
from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .._version import __version__
from ..explain import checks
from . import render
from ..explain.rollout import AGREEMENT_TOP_FRACTION
from .names import display_name, printable
from .pages import A4, FULL_WIDTH, MARGIN, PDF_MAX_SIDE, Pages, colour_bar, downscaled, pdf_document, text
from .pdf_deep import deep_page
from .provenance import metadata_section
from .records import method_agreement, reproduce_command, software_versions
from .wording import VERDICT_COLOURS, WARNING_COLOUR, caveats, deep_headline, limits, probability_line


def _panels(page: Pages, a, cmap, alpha, vmax=None) -> None:
    """Original with the analysed crop, heatmap on the original, the 24x24 grid with its colour bar."""
    orig = downscaled(a.image)
    h = min(2.35, 2.3 * orig.shape[0] / orig.shape[1])         # image panels keep the aspect
    over = render.overlay_original(a, alpha=alpha, cmap=cmap, max_side=PDF_MAX_SIDE, vmax=vmax)
    titles = {0.0: "Original (white box: analysed crop)", 2.42: "Heatmap on the original",
              5.0: "24\u00d724 patch scores (%" + (", absolute scale)" if vmax else ")")}
    for left, title in titles.items():
        text(page.fig, (MARGIN + left) / A4[0], page.fy(page.y), title, va="top", fontsize=8, fontweight="bold")
    page.y += 0.2
    ax = page.axes(MARGIN, 2.3, h)
    ax.imshow(orig, interpolation="none")
    ax.set_axis_off()
    sx, sy = orig.shape[1] / a.image.width, orig.shape[0] / a.image.height
    l, t, r, b = a.geometry.crop_box_exact
    ax.add_patch(Rectangle((l * sx - 0.5, t * sy - 0.5), (r - l) * sx, (b - t) * sy, fill=False,
                           ec="white", lw=1.2))
    ax = page.axes(MARGIN + 2.42, 2.3, h)
    ax.imshow(over, interpolation="none")
    ax.set_axis_off()
    ax = page.axes(MARGIN + 5.1, 1.7, 1.7)
    render.draw_grid(ax, a, cmap, vmax, fontsize=6)
    cax = ((MARGIN + 6.9) / A4[0], page.fy(page.y + 1.7), 0.1 / A4[0], 1.7 / A4[1])
    colour_bar(page.fig, cax, a, cmap, label="", vmax=vmax)
    page.y += max(h, 1.7 + 0.35) + 0.1


def _provenance(a, deep=None, color_scale: str = "image") -> list[tuple[str, str]]:
    i, m = a.input, a.model
    l, t, r, b = a.crop_box
    pre = a.preprocessing.describe()
    rev = "none (demo)" if m.demo else (m.revision or "none (local folder)")
    agreement = method_agreement(a)
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
                   + ("" if agreement is None else
                      f"; agreement with the other method {agreement:.2f} "
                      f"(top-{AGREEMENT_TOP_FRACTION:.0%} IoU)")),
        ("Colour scale", render.scale_text(a.patch_scores, color_scale)),
        ("Software", ", ".join(f"{k} {v}" for k, v in software_versions().items())),
        ("Created (UTC)", a.created_utc),
        ("Reproduce", reproduce_command(a, deep=deep is not None, color_scale=color_scale)),
    ]


def pdf_figures(analysis, notes: str = "", cmap: str = render.DEFAULT_COLORMAP,
                alpha: float = 0.5, deep=None, color_scale: str = "image",
                redact_location: bool = False) -> list[Figure]:
    """The report pages of one image: one page (more if the notes are long), and with `deep` a
    deep-check page after it."""
    a = analysis
    vmax = render.scale_vmax(color_scale)
    title = f"Image forensic report: {display_name(a.input.name, 55)}"
    page = Pages(title, f"{display_name(a.input.name, 50)}  \u00b7  sha256 {(a.input_sha256 or 'none')[:12]}  "
                        f"\u00b7  forensics {__version__}")
    page.lines([title], 14, fontweight="bold")
    if a.demo:
        page.y += 0.05
        page.banner(0.45, size=13)
        page.y += 0.55
    page.y += 0.05
    page.lines([a.verdict_text], 13, fontweight="bold", color=VERDICT_COLOURS[a.verdict])
    page.lines([probability_line(a)], 9.5)
    judgements = None if deep is None else checks.judgements(a, deep)
    if judgements is not None:
        headline, colour = deep_headline(judgements)
        page.para(headline, 8.5, fontweight="bold", color=colour)
    for note in caveats(a):
        page.para(note, 8.5, bullet="\u2022 ", color=WARNING_COLOUR)
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
    x, width = MARGIN + 3.65, FULL_WIDTH - 3.65
    page.y += 0.08
    page.lines(["What this result can and cannot say"], 10.5, x=x, fontweight="bold")
    page.y += 0.03
    for limit in limits(a):
        page.para(limit, 7.5, x=x, width=width, bullet="\u2022 ")
    if not a.model.pinned and not a.demo:
        page.para("These are not the pinned Community Forensics weights; the facts above describe "
                  "the published model.", 7.5, x=x, width=width, bullet="\u2022 ", color=WARNING_COLOUR)
    page.y = max(page.y, left_end) + 0.05

    page.heading("Provenance")
    for key, value in _provenance(a, deep, color_scale):
        mono = key in ("SHA-256", "Weights SHA-256", "Reproduce")
        step = 7.5 * 1.4 / 72
        page.room(step)
        page.lines([key], 7.5, fontweight="bold")
        page.y -= step  # the value starts on the key's line
        page.para(printable(value), 7.5, x=MARGIN + 1.25, width=FULL_WIDTH - 1.25,
                  family="monospace" if mono else "sans-serif")
    metadata_section(page, a, redact_location)  # generator hints and metadata rows: report/provenance.py
    page.heading("Analyst notes")
    page.para(notes.strip() or "(none)", 9)
    if deep is not None:
        deep_page(page, a, deep, judgements, cmap, alpha, vmax)
    return page.finish()


def pdf_bytes(figures, analysis) -> bytes:
    """An image's report pages as one PDF document in memory (the CLI writes it twice: its own
    file and its pages in the batch report)."""
    return pdf_document(figures, f"Forensic report: {analysis.input.name or 'image'}")


def write_pdf(analysis, path, notes: str = "", cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5, *,
              deep=None, color_scale: str = "image") -> Path:
    Path(path).write_bytes(pdf_bytes(pdf_figures(analysis, notes, cmap, alpha, deep, color_scale), analysis))
    return Path(path)
