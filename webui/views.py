"""The page's pictures and tables: heatmaps, the patch ledger, deep-check views.

Arrays and DataFrames from package results; the colour scale is `render`'s.
"""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from forensics import GRID, Analysis, checks, classic, render

from . import cards

LEDGER_HEADERS = ["rank", "row", "col", "box in original", "score", "share %"]
STABILITY_HEADERS = ["re-run", "P(AI)", "verdict", "flipped", "heatmap r"]

# What each picture shows, for screen readers (gr.Image alt_text). A heatmap's own alternative,
# naming where its strongest patches lie, replaces the first two once an image is analysed.
ALT = {
    "input_image": "the image given for analysis",
    "overlay_orig": "heatmap over the original picture: brighter colours where more of the explanation lies; "
                    "dimmed outside the analysed centre crop",
    "overlay_in": "heatmap over the 384 by 384 pixel model input: brighter colours where more of the explanation "
                  "lies",
    "patch_zoom": "magnified close-up of the inspected patch, outlined in yellow, with one patch of context; "
                  "its score is in the text beside it",
    "region_canvas": "the original picture for picking a region: the first corner clicked is marked with a cross "
                     "and the region picked is outlined",
    "region_overlay": "heatmap of the region over the original picture: the region outlined in cyan, what the "
                      "model saw in white",
    "region_input": "heatmap over the region's 384 by 384 pixel model input",
    "faces_overview": "the original picture with each face found outlined and numbered",
    "ela_image": "error level analysis of the original: how much each area changes when re-saved as JPEG",
    "noise_image": "noise residual of the original: the fine grain left after smoothing",
    "cov_image": "whole picture in numbered tiles, each tile's heatmap stitched over the original",
    "rel_image": "reliability mask over the model input: grey patches are flat or clipped, cyan boxes are "
                 "outlier tokens",
    "scan_image": "local scan over the original picture: each 384 by 384 window shaded by its P(AI-generated), "
                  "the hotspots boxed",
    "frame_overlay": "heatmap over the sampled video frame",
    "frame_input": "heatmap over the sampled frame's 384 by 384 pixel model input",
}
ALT_TOP_PATCHES = 5  # a heatmap's alternative names where its strongest few patches lie
# Gradio draws a matplotlib figure with the alt text "matplotlib plot visualising provided data";
# webui/a11y.js puts these in its place (plot elem_id -> what the figure shows).
PLOT_ALT = {
    "grid-plot": "the 24 by 24 patch scores as a grid of coloured squares, the five strongest numbered, with a "
                 "colour bar of each patch's share",
    "deletion-plot": "deletion curve: P(AI-generated) as more of the map's strongest patches are mean-filled, "
                     "beside as many random patches",
    "robust-grid": "grid of P(AI-generated) and the verdict of each re-sized and re-encoded copy; a star marks a "
                   "verdict that differs from the file's own",
    "timeline": "P(AI-generated) of each sampled frame against its time in the clip, with the inconclusive band "
                "and the strongest frames ringed",
}


def heatmap_alt(a: Analysis, on: str = "original", top: int = ALT_TOP_PATCHES) -> str:
    """A heatmap's text alternative: where its strongest patches lie on the grid and in the
    original, and their share. `on`: "original" or "input" (the 384x384 model input)."""
    best = a.top_patches(top)
    rows, cols = [e["row"] for e in best], [e["col"] for e in best]
    lefts, tops, rights, bottoms = zip(*(e["box_original"] for e in best))
    share = sum(e["share_percent"] for e in best)
    where = "the original picture" if on == "original" else "the 384 by 384 pixel model input"
    return (f"heatmap over {where}: the strongest {len(best)} of {GRID * GRID} patches lie at "
            f"{_span('row', rows)}, {_span('column', cols)} of the {GRID} by {GRID} grid "
            f"(original pixels {min(lefts)}, {min(tops)} to {max(rights)}, {max(bottoms)}) and hold "
            f"{share:.1f} % of the {cards.method_words(a.method)[1]}"
            + ("; dimmed outside the analysed centre crop" if on == "original" else ""))


def _span(name: str, values: list[int]) -> str:
    low, high = min(values), max(values)
    return f"{name} {low}" if low == high else f"{name}s {low} to {high}"


def heatmap_views(a: Analysis, alpha: float, cmap: str, color_scale: str = "image") -> dict:
    """The heatmap pictures of `a`: on the original, on the input, the slider pair, the grid."""
    vmax = render.scale_vmax(color_scale)
    on_original = render.overlay_original(a, alpha, cmap, vmax=vmax)
    height, width = on_original.shape[:2]
    base = np.asarray(a.image if a.image.size == (width, height)
                      else a.image.resize((width, height), Image.BILINEAR))
    return {"original": on_original, "input": render.overlay_input(a, alpha, cmap, vmax=vmax),
            "compare": (base, on_original), "grid": render.grid_figure(a, cmap, vmax)}


def ledger(a: Analysis) -> pd.DataFrame:
    """All 576 patches, strongest first."""
    rows = [[e["rank"], e["row"], e["col"], "({},{},{},{})".format(*e["box_original"]),
             round(e["score"], 5), round(e["share_percent"], 3)] for e in a.top_patches()]
    return pd.DataFrame(rows, columns=LEDGER_HEADERS)


def patch_at_shown(a: Analysis, x: float, y: float) -> dict | None:
    """Ledger row under pixel (x, y) of the heatmap on the original as sent to the page, which
    is downscaled for large originals (Gradio reports clicks in the picture's own pixels)."""
    scale = render.display_scale(a.image.size)
    return a.patch_at(x / scale, y / scale)


def patch_report(a: Analysis, entry: dict | None) -> tuple[str, np.ndarray | None]:
    """The inspector's text and magnified crop for a ledger entry (None: outside the crop)."""
    if entry is None:
        return cards.patch_text(a, None), None
    return cards.patch_text(a, entry), render.patch_closeup(a, entry["row"], entry["col"])


def stability_table(a: Analysis, s: checks.Stability) -> pd.DataFrame:
    rows = [["original", f"{100 * s.probability:.1f} %", a.verdict, "", "1.00"]]
    rows += [[p.name, f"{100 * p.probability:.1f} %", p.verdict, "yes" if p.flipped else "no",
              f"{p.heatmap_correlation:.2f}"] for p in s.perturbations]
    return pd.DataFrame(rows, columns=STABILITY_HEADERS)


def number_tiles(picture: np.ndarray, a: Analysis, coverage: checks.Coverage) -> np.ndarray:
    """Tile numbers (as in the tile list) inside each tile's bottom-left corner of the coverage overlay
    (the top edge lies under the image's label on the page)."""
    out = picture.copy()
    scale = out.shape[1] / a.image.width
    size = max(0.5, max(out.shape[:2]) / 900)
    for i, tile in enumerate(coverage.tiles, start=1):
        x, y = round(tile.box_original[0] * scale), round(tile.box_original[3] * scale)
        org = (x + round(8 * size), y - round(10 * size))
        for colour, width in (((0, 0, 0), 5), ((255, 255, 255), 2)):
            cv2.putText(out, str(i), org, cv2.FONT_HERSHEY_SIMPLEX, size, colour, max(1, round(width * size)),
                        cv2.LINE_AA)
    return out


def deep_views(a: Analysis, deep: checks.DeepCheck, alpha: float, cmap: str, color_scale: str = "image") -> dict:
    """The four parts of a deep check as the page shows them:
    faithfulness (badge, deletion curve), stability (badge, table of re-runs),
    coverage (stitched overlay or None, tile list beside the centre-crop P),
    reliability (masked overlay, legend)."""
    verdicts = {j.key: j for j in checks.judgements(a, deep)}
    coverage_picture = None
    if deep.coverage is not None:
        coverage_picture = number_tiles(render.coverage_overlay(a, deep.coverage, alpha, cmap), a, deep.coverage)
    return {
        "faithfulness": (cards.faithfulness_panel(a, deep.faithfulness, verdicts["faithfulness"]),
                         render.deletion_figure(deep.faithfulness)),
        "stability": (cards.stability_panel(deep.stability, verdicts["stability"]),
                      stability_table(a, deep.stability)),
        "coverage": (coverage_picture, cards.coverage_panel(a, deep, verdicts["coverage"])),
        "reliability": (render.reliability_overlay(a, deep.reliability, alpha, cmap, render.scale_vmax(color_scale)),
                        cards.reliability_legend(deep.reliability)),
    }


def classic_views(a: Analysis) -> list[tuple[np.ndarray, str]]:
    """Error level analysis and the noise residual of the upright original, at display size,
    each with its caption of what it can and cannot show."""
    scale = render.display_scale(a.image.size)
    size = (max(1, round(a.image.width * scale)), max(1, round(a.image.height * scale)))
    # On the full-resolution image (resampling would smooth away what they look for), then shrunk.
    return [(v.image if scale == 1 else cv2.resize(v.image, size, interpolation=cv2.INTER_AREA), v.caption)
            for v in classic.classic_views(np.asarray(a.image))]


# -- regions and faces -------------------------------------------------------------------------

FACE_HEADERS = ["face", "box in original", "P(AI)", "verdict", "share of whole-image map"]


def region_canvas(a: Analysis, box=None, corner=None) -> np.ndarray:
    """The original at display size for picking a region: the box so far outlined, a first
    corner marked."""
    picture = render.outline_original(a.image, [box] if box else [])
    if corner is not None:
        scale = render.display_scale(a.image.size)
        x, y = round(corner[0] * scale), round(corner[1] * scale)
        cv2.drawMarker(picture, (x, y), render.REGION_COLOUR, cv2.MARKER_CROSS, 24, 2)
    return picture


def faces_views(a: Analysis, pairs, alpha: float, cmap: str, color_scale: str):
    """The Faces section: overview with numbered boxes, a gallery of (face, heatmap on what the
    model saw) with each face's P and verdict, and the table."""
    boxes = [face.box for face, _ in pairs]
    overview = render.outline_original(a.image, boxes, render.FACE_COLOUR,
                                       labels=[str(i) for i in range(1, len(boxes) + 1)])
    shares = a.region_shares(boxes) if boxes else []
    vmax = render.scale_vmax(color_scale)
    gallery, rows = [], []
    for i, ((face, fa), share) in enumerate(zip(pairs, shares), start=1):
        caption = f"face {i}: P(AI) {100 * fa.fake_probability:.1f} % \u2014 {fa.verdict_text}"
        gallery.append((render.region_thumbnail(a.image, face.box, 256), caption))
        gallery.append((render.overlay_input(fa, alpha, cmap, vmax=vmax), f"face {i}: where the model looked"))
        rows.append([i, "({},{},{},{})".format(*face.box), f"{100 * fa.fake_probability:.1f} %", fa.verdict,
                     f"{100 * share:.1f} %"])
    return overview, gallery, pd.DataFrame(rows, columns=FACE_HEADERS)
