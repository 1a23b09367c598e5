"""The page's event handlers, at module level: they take the detector and component values
explicitly and return {component name: new value} (names as in layout.py), so they can be
imported, unit-tested and read without a browser. layout.py maps the names to components.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from forensics import (GRID, PATCH_SIZE, Analysis, Detector, InputError, analyze_faces, checks, methods, render,
                       report)

from . import cards, session, views

PATCH_HINT = ("Click the heatmap on the original or on the model input, or a ledger row, to see "
              "that patch's score and a magnified crop.")
DOWNLOADS = {fmt: f"download_{fmt}" for fmt in report.FORMATS}
RESULT_VIEWS = ("overlay_orig", "overlay_in", "compare", "grid_plot", "ledger_table", "explainer")
CLASSIC_VIEWS = ("ela_image", "noise_image")  # depend on the image only: cleared by a new one
ROBUST_VIEWS = ("robustness", "robust_plot", "robust_card", "robust_badge")  # the delivery-path sweep: the image only
DEEP_VIEWS = {"faithfulness": ("faith_html", "deletion_plot"), "stability": ("stab_html", "stab_table"),
              "coverage": ("cov_image", "cov_html"), "reliability": ("rel_image", "rel_html")}


def stale_exports() -> dict:
    """Prepared exports no longer match what the page shows: hide their buttons."""
    return {name: gr.DownloadButton(visible=False) for name in DOWNLOADS.values()}


def cleared() -> dict:
    """A new result makes the inspected patch and any prepared exports stale."""
    return {"patch_text": PATCH_HINT, "patch_zoom": None, **stale_exports()}


def no_deep() -> dict:
    """A new image makes its predecessor's deep checks meaningless."""
    waiting = {name: (cards.DEEP_WAIT if name.endswith("html") else None)
               for pair in DEEP_VIEWS.values() for name in pair}
    return {"deep_checks": None, "deep_note": cards.DEEP_HINT, **waiting}


def no_classic() -> dict:
    return {"ela_image": gr.Image(value=None, label="Error level analysis"),
            "noise_image": gr.Image(value=None, label="Noise residual")}


def no_robustness() -> dict:
    return {"robustness": None, "robust_plot": None, "robust_card": cards.ROBUST_HINT, "robust_badge": ""}


SCAN_VIEWS = ("scan_image", "scan_card", "scan_pick")  # the local scan: the image only


def no_scan() -> dict:
    return {"scan_image": None, "scan_card": cards.SCAN_HINT, "scan_pick": gr.Dropdown(choices=[], value=None)}


def no_result(card: str) -> dict:
    return {"analysis": None, "verdict": card, **{v: None for v in RESULT_VIEWS},
            "explainer": cards.EXPLAINER_EMPTY, "metadata": cards.METADATA_EMPTY, **cleared(), **no_deep(),
            **no_classic(), **no_regions(), **no_robustness(), **no_scan()}


def show(a: Analysis, alpha: float, colormap: str, color_scale: str) -> dict:
    """Every view of a result that the explainer settings change: verdict card and the pictures."""
    return {"analysis": a, "verdict": cards.verdict_card(a), **show_pictures(a, alpha, colormap, color_scale)}


def show_pictures(a: Analysis, alpha: float, colormap: str, color_scale: str) -> dict:
    """Heatmaps, grid, ledger and explainer summary (RESULT_VIEWS)."""
    pictures = views.heatmap_views(a, alpha, colormap, color_scale)
    return {"overlay_orig": pictures["original"], "overlay_in": pictures["input"], "compare": pictures["compare"],
            "grid_plot": pictures["grid"], "ledger_table": views.ledger(a),
            "explainer": cards.explainer_card(a, color_scale)}


def show_classic(a: Analysis | None):
    """Error level analysis and noise residual, on demand (each is a full-resolution pass)."""
    if a is None:
        gr.Warning("Analyse an image first.")
        return gr.skip()
    (ela, ela_caption), (noise, noise_caption) = views.classic_views(a)
    return {"ela_image": gr.Image(value=ela, label=ela_caption),
            "noise_image": gr.Image(value=noise, label=noise_caption)}


def run_robustness(detector: Detector, a: Analysis | None, progress=None):
    """Does the verdict survive re-encoding? The delivery-path sweep of the image on the page:
    its grid, its judgement (also beside the verdict card), kept for the exports."""
    if a is None:
        gr.Warning("Analyse an image first.")
        return gr.skip()
    if progress is not None:
        progress(0.1, desc="re-sizing and re-encoding copies, then one batched forward pass")
    rob = checks.robustness(detector, a)
    a = a.with_robustness(rob)  # the stability rule takes part in the call: the card says so
    return {"analysis": a, "verdict": cards.verdict_card(a),
            "robustness": session.HeldRobustness(a.input_sha256, rob), "robust_plot": render.robustness_figure(rob),
            "robust_card": cards.robustness_card(rob), "robust_badge": cards.robustness_badge(rob)}


def run_local_scan(detector: Detector, a: Analysis | None, progress=None):
    """The local scan of the image on the page: the map with its hotspots, their table, and the
    call (a "real" with a region called AI-generated becomes inconclusive, said on the card)."""
    if a is None:
        gr.Warning("Analyse an image first.")
        return gr.skip()

    def told(done: int, total: int) -> None:
        if progress is not None:
            progress(done / max(total, 1), desc=f"local scan: {done} of {total} windows")

    try:
        scan = checks.local_scan(detector, a, progress=told)
    except InputError as exc:
        return {"scan_card": cards.scan_card(None, str(exc)), "scan_image": None, "scan_pick": gr.Dropdown(choices=[])}
    a = a.with_local_scan(scan)
    picks = [(f"#{n}: ({', '.join(str(int(v)) for v in h.box)}), P {h.fake_probability:.2f}", n)
             for n, h in enumerate(scan.hotspots, start=1)]
    return {"analysis": a, "verdict": cards.verdict_card(a), "scan_image": render_scan(a),
            "scan_card": cards.scan_card(scan), "scan_pick": gr.Dropdown(choices=picks, value=None)}


def render_scan(a: Analysis):
    return report.draw_local_scan(a.image, a.local_scan)


def pick_hotspot(a: Analysis | None, evt: gr.SelectData):
    """A hotspot picked: its box goes into the region fields (then "Analyse region")."""
    if a is None or a.local_scan is None:
        return gr.skip()
    n = evt.value if isinstance(evt.value, int) else int(str(evt.value).split(":")[0].lstrip("#"))
    hotspot = a.local_scan.hotspots[n - 1]
    return dict(zip(REGION_BOX, (int(v) for v in hotspot.box)))


def show_deep(a: Analysis, deep, alpha: float, colormap: str, color_scale: str) -> dict:
    parts = views.deep_views(a, deep, alpha, colormap, color_scale)
    return {name: value for part, names in DEEP_VIEWS.items() for name, value in zip(names, parts[part])}


# -- events ----------------------------------------------------------------------------------

def analyze(detector: Detector, path, method: str, head_fusion: str, discard_ratio: float,
            alpha: float, colormap: str, color_scale: str) -> dict:
    """A new image, all at once: `analyze_verdict` then `show_views` (the page runs them as two
    steps so the verdict is on screen before the pictures are drawn and sent)."""
    first = analyze_verdict(detector, path, method, head_fusion, discard_ratio)
    rest = show_views(first["analysis"], alpha, colormap, color_scale)
    return {**first, **(rest if rest != gr.skip() else {})}


def analyze_verdict(detector: Detector, path, method: str, head_fusion: str, discard_ratio: float) -> dict:
    """A new image (upload, example, Analyze), step 1: analyse it; show the verdict and the
    metadata, and clear every view of the previous image."""
    if path is None:
        return no_result(cards.EMPTY_CARD)
    try:
        a = session.analyze_for_page(detector, path, method, head_fusion, discard_ratio)
    except InputError as exc:  # said once, in the card where the verdict would be
        return no_result(cards.error_card(str(exc)))
    return {**no_result(cards.verdict_card(a)), "analysis": a, "metadata": cards.metadata_card(a)}


def show_views(a: Analysis | None, alpha: float, colormap: str, color_scale: str):
    """A new image, step 2: the heatmaps, grid, ledger, explainer and the region canvas."""
    if a is None:
        return gr.skip()
    return {**show_pictures(a, alpha, colormap, color_scale), **no_regions(a)}


def reanalyze(detector: Detector, path, method: str, head_fusion: str, discard_ratio: float) -> dict:
    """The Analyze button, step 1: as a new image, with a word when there is none."""
    if path is None:
        gr.Warning("Drop, paste or pick an image first.")
    return analyze_verdict(detector, path, method, head_fusion, discard_ratio)


def reroll(a: Analysis | None, head_fusion: str, discard_ratio: float, alpha: float, colormap: str,
           color_scale: str):
    """Head fusion or discard ratio changed: recompute the rollout from the kept attention."""
    if a is None:
        return gr.skip()
    a = a.with_rollout(head_fusion, discard_ratio)  # no forward pass
    return {**show(a, alpha, colormap, color_scale), **cleared()}


def switch_method(detector: Detector, a: Analysis | None, path, method: str, alpha: float, colormap: str,
                  color_scale: str):
    if a is None:
        return gr.skip()
    try:
        a = session.pick_method(detector, a, path, method)  # a pass only the first time for another method
    except InputError as exc:
        gr.Warning(f"{methods.get(method).label} was not run: {exc}")
        return {"method_pick": a.method}
    return {**show(a, alpha, colormap, color_scale), **cleared()}


def restyle(a: Analysis | None, held, deep_on: bool, alpha: float, colormap: str, color_scale: str):
    """Opacity, colour map or colour scale changed: redraw; prepared exports used the old colours."""
    if a is None:
        return gr.skip()
    out = {**show(a, alpha, colormap, color_scale), **stale_exports()}
    deep = session.deep_for(a, held)
    if deep_on and deep is not None:
        redrawn = show_deep(a, deep, alpha, colormap, color_scale)
        out.update(cov_image=redrawn["cov_image"], rel_image=redrawn["rel_image"])
    return out


def toggle_deep(deep_on: bool) -> dict:
    return {"deep_panel": gr.Column(visible=deep_on), **stale_exports()}


def follow_deep(detector: Detector, a: Analysis | None, held, deep_on: bool, alpha: float, colormap: str,
                color_scale: str, progress=None):
    """While the deep check is on, the one for what the page shows (run unless kept)."""
    if not deep_on:
        return gr.skip()
    if a is None:
        return {**no_deep(), **stale_exports()}
    started = time.perf_counter()
    kept = session.deep_for(a, held) is not None
    only_deletion = session.only_method_changed(a, held)
    held, deep = session.refresh_deep(detector, a, held, progress)
    took = None if kept else time.perf_counter() - started
    return {"deep_checks": held, "deep_note": cards.deep_status(a, took, only_deletion),
            **show_deep(a, deep, alpha, colormap, color_scale), **stale_exports()}


def inspect_original(a: Analysis | None, evt: gr.SelectData):
    """A click on the heatmap over the original (display pixels)."""
    if a is None:
        return gr.skip(), gr.skip()
    return views.patch_report(a, views.patch_at_shown(a, *evt.index))


def inspect_input(a: Analysis | None, evt: gr.SelectData):
    """A click on the heatmap over the 384x384 model input."""
    if a is None:
        return gr.skip(), gr.skip()
    x, y = evt.index
    row, col = min(int(y) // PATCH_SIZE, GRID - 1), min(int(x) // PATCH_SIZE, GRID - 1)
    return views.patch_report(a, next(e for e in a.top_patches() if (e["row"], e["col"]) == (row, col)))


def inspect_row(a: Analysis | None, evt: gr.SelectData):
    """A click on a ledger row."""
    if a is None or not evt.row_value:
        return gr.skip(), gr.skip()
    return views.patch_report(a, a.top_patches(int(evt.row_value[0]))[-1])


def export_dir() -> Path:
    """A fresh folder per export inside Gradio's cache, whose files delete_cache removes."""
    root = Path(get_upload_folder()) / "forensics-exports"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="export-", dir=root))


def export(a: Analysis | None, held, deep_on: bool, analyst_notes: str, alpha: float, colormap: str,
           color_scale: str, robust=None):
    """Write PNG, PDF, JSON and CSV with the colours on screen and offer them for download (with
    the delivery-path sweep when one was run for this image)."""
    if a is None:
        gr.Warning("Analyse an image first.")
        return gr.skip()
    deep = session.deep_for(a, held) if deep_on else None
    if deep_on and deep is None:
        gr.Warning("The deep check has not finished: these exports leave it out.")
    files = report.export(a, export_dir(), notes=analyst_notes or "", cmap=colormap, alpha=alpha,
                          deep=deep, color_scale=color_scale, robustness=session.robustness_for(a, robust))
    return {name: gr.DownloadButton(value=str(files[fmt]), visible=True) if fmt in files
            else gr.DownloadButton(visible=False) for fmt, name in DOWNLOADS.items()}


# -- regions and faces ---------------------------------------------------------------------------

def no_regions(a: Analysis | None = None) -> dict:
    """A new image: nothing picked, nothing analysed; the picking canvas shows the new original."""
    return {"region_canvas": None if a is None else views.region_canvas(a), "region_corner": None,
            "region_card": cards.REGION_HINT, "region_overlay": None, "region_input": None,
            **{name: None for name in REGION_BOX}, "faces_overview": None, "faces_gallery": None,
            "faces_table": None, "faces_note": ""}


REGION_BOX = ("region_left", "region_top", "region_right", "region_bottom")


def pick_corner(a: Analysis | None, corner, evt: gr.SelectData):
    """A click on the region canvas (display pixels): the first click marks a corner, the
    second completes the box and fills in its numbers (original pixels)."""
    if a is None:
        return gr.skip()
    scale = render.display_scale(a.image.size)
    point = (round(evt.index[0] / scale), round(evt.index[1] / scale))
    if corner is None:
        return {"region_corner": point, "region_canvas": views.region_canvas(a, corner=point)}
    box = (min(corner[0], point[0]), min(corner[1], point[1]), max(corner[0], point[0]), max(corner[1], point[1]))
    return {"region_corner": None, "region_canvas": views.region_canvas(a, box),
            **dict(zip(REGION_BOX, box))}


def analyze_region(detector: Detector, a: Analysis | None, left, top, right, bottom, alpha: float,
                   colormap: str, color_scale: str):
    """The box at full resolution, with the image's explainer settings: its own verdict and map."""
    if a is None:
        gr.Warning("Analyse an image first.")
        return gr.skip()
    box = (left, top, right, bottom)
    if any(v is None for v in box):
        return {"region_card": cards.error_card("Give all four sides of the region (click two corners).")}
    try:
        ra = detector.analyze_decoded([(a.image, a.input)], a.head_fusion, a.discard_ratio, method=a.method,
                                      regions=[box])[0]
    except InputError as exc:
        return {"region_card": cards.error_card(str(exc)), "region_overlay": None, "region_input": None}
    vmax = render.scale_vmax(color_scale)
    return {"region_card": cards.compact_card(ra, "Region"),
            "region_overlay": render.overlay_original(ra, alpha, colormap, vmax=vmax),
            "region_input": render.overlay_input(ra, alpha, colormap, vmax=vmax),
            "region_canvas": views.region_canvas(a, ra.region)}


def find_faces(detector: Detector, a: Analysis | None, alpha: float, colormap: str, color_scale: str):
    """Detect faces and analyse each as a region, in one batched pass."""
    if a is None:
        gr.Warning("Analyse an image first.")
        return gr.skip()
    started = time.perf_counter()
    pairs = analyze_faces(detector, a)
    took = time.perf_counter() - started
    if not pairs:
        return {"faces_overview": None, "faces_gallery": None, "faces_table": None,
                "faces_note": f"No face found ({took:.1f} s). The detector misses faces lying sideways and "
                              "faces under about 30 pixels; draw a region instead."}
    overview, gallery, table = views.faces_views(a, pairs, alpha, colormap, color_scale)
    return {"faces_overview": overview, "faces_gallery": gallery, "faces_table": table,
            "faces_note": f"{len(pairs)} face(s) found and analysed in {took:.1f} s. Share of whole-image map: "
                          "how much of the whole image's heatmap falls on each face."}
