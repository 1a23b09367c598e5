"""Evidence exports of an `Analysis`: annotated PNG, PDF report, JSON record, CSV patch ledger.

One package serves the app's downloads and the CLI; `export()` is the one entry point for
writers. A module per job:

    names.py     untrusted names -> safe file stems, printable text, spreadsheet-safe cells
    wording.py   limits, caveats, the probability line, the deep-check headline, colours
    records.py   the JSON record and the CSV patch ledger; software versions, reproduce command
    figures.py   the annotated PNG (laid out, then painted with Pillow)
    pages.py     the A4 layout engine of the PDFs and the drawing helpers the PNG shares
    pdf.py       an image's report pages (pdf_deep.py: its deep-check page)
    batch.py     the batch PDF: a cover with the summary table, then each image's pages

Deep-check judgements come from `checks.judgements`, colour scales from `render`, the verdict
rule from `verdict`: this package only lays them out.
"""
from __future__ import annotations

from pathlib import Path

from ..explain import checks
from . import render
from .render import ABSOLUTE_VMAX, COLOR_SCALES, UNIFORM_SHARE, scale_text, scale_vmax
from .batch import BatchReport, write_batch_pdf
from .figures import annotated_layout, write_png
from .names import claim_stem, display_name, printable, safe_stem, spreadsheet_safe
from .pdf import pdf_bytes, pdf_figures, write_pdf
from .records import (CSV_HEADER, deep_record, record, reproduce_command, robustness_record, software_versions,
                      write_csv, write_json)
from .scan_figure import draw_local_scan
from .wording import (LOCAL_SCAN_LIMIT, LEVEL_COLOURS, ROBUSTNESS_MEANING, VERDICT_COLOURS, caveats, condition_lines, likelihood_line,
                      limits, reason_lines)
from . import clip  # a clip's exports (record, timeline, contact sheet, PDF)

FORMATS = ("png", "pdf", "json", "csv")

__all__ = [
    "FORMATS", "export", "clip", "render", "record", "robustness_record", "ROBUSTNESS_MEANING", "deep_record", "write_json", "write_csv", "CSV_HEADER", "write_png",
    "annotated_layout", "write_pdf", "pdf_figures", "pdf_bytes", "BatchReport", "write_batch_pdf", "safe_stem", "claim_stem",
    "spreadsheet_safe", "display_name", "printable", "reproduce_command", "software_versions", "limits",
    "caveats", "draw_local_scan", "LOCAL_SCAN_LIMIT", "condition_lines", "likelihood_line", "reason_lines", "VERDICT_COLOURS", "LEVEL_COLOURS", "COLOR_SCALES", "ABSOLUTE_VMAX", "UNIFORM_SHARE",
    "scale_vmax", "scale_text",
]


def export(analysis, out_dir, formats=FORMATS, notes: str = "", stem: str | None = None, *,
           batch: BatchReport | None = None, label: str | None = None,
           cmap: str = render.DEFAULT_COLORMAP, alpha: float = 0.5,
           deep: checks.DeepCheck | None = None, color_scale: str = "image",
           redact_location: bool = False, robustness=None, sections: dict | None = None) -> dict[str, Path]:
    """Write the chosen formats of one analysis into `out_dir` -> {format: path}.

    `stem` (default: the input's file name) is sanitised; clashes get -1, -2, ... suffixes.
    `batch` also receives this image's PDF document (drawn once for both files), listed on its
    cover as `label` (default: the file name). `deep` (from `checks.deep_check`) adds the deep-
    check section to the JSON, PDF and PNG; `color_scale` is "image" (each heatmap scaled to its
    strongest patch) or "absolute" (full colour at `render.ABSOLUTE_VMAX`, comparable across images).
    `redact_location` leaves GPS coordinates out of the JSON and PDF metadata sections.
    `robustness` (from `checks.robustness`) adds the "robustness" section to the JSON and the
    delivery-path grid to the PDF. `sections`: more top-level keys for the JSON record, after
    the tool's own (the analyst's probe: never part of P or the call).
    """
    analysis = analysis.with_robustness(robustness)  # the sweep's rule takes part in the call everywhere
    robustness = analysis.robustness
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
            document = pdf_bytes(pdf_figures(analysis, notes, cmap=cmap, alpha=alpha, deep=deep,
                                             color_scale=color_scale, redact_location=redact_location,
                                             robustness=robustness), analysis)
            if "pdf" in paths:
                paths["pdf"].write_bytes(document)
            if batch is not None:
                batch.add(analysis, document, label, deep=deep)
        if "json" in paths:
            write_json(analysis, paths["json"], notes, deep=deep, color_scale=color_scale,
                       redact_location=redact_location, robustness=robustness, sections=sections)
        if "csv" in paths:
            write_csv(analysis, paths["csv"])
    except BaseException:
        for path in paths.values():  # no half-written evidence left behind
            path.unlink(missing_ok=True)
        raise
    return paths
