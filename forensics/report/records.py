"""The machine-readable exports: the JSON record (result, explanation, provenance, deep check) and
the CSV patch ledger, plus the provenance pieces every export prints (software versions, the
command that reproduces the analysis).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import platform
import shlex
from pathlib import Path

import numpy as np
import PIL
import torch
import transformers

from ..explain import registry
from .._version import __version__
from ..explain import checks
from ..explain.robustness import COMMON_QUALITIES as ROBUSTNESS_COMMON_QUALITIES
from ..explain.robustness import COMMON_SIZES as ROBUSTNESS_COMMON_SIZES
from ..explain.robustness import ENCODER as ROBUSTNESS_ENCODER
from ..explain.robustness import MAX_CHANGED_SHARE as ROBUSTNESS_MAX_CHANGED
from . import render
from ..core.preprocess import GRID, PATCH_SIZE
from ..model.spec import TRAINING
from ..core.verdict import DEFAULT_INCONCLUSIVE_MARGIN, THRESHOLD
from .wording import caveats, limits
from .provenance import metadata_record

CSV_HEADER = ("rank", "row", "col", "input_left", "input_top", "input_right", "input_bottom",
              "original_left", "original_top", "original_right", "original_bottom", "score")


def number(x: float) -> float:
    """8 significant digits: more than a float32 forward pass resolves, without float64 noise."""
    return float(f"{float(x):.8g}")


def method_agreement(analysis) -> float | None:
    """The two methods' top-patch IoU as recorded (None when only one method ran)."""
    agreement = getattr(analysis, "method_agreement", None)
    return None if agreement is None else number(agreement)


def software_versions() -> dict:
    return {"forensics": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": np.__version__, "pillow": PIL.__version__}


def reproduce_command(analysis, *, deep: bool = False, color_scale: str = "image") -> str:
    """The CLI call that re-creates this analysis (output folder left as DIR)."""
    a, m = analysis, analysis.model
    args = ["python", "-m", "forensics", "analyze", a.input.name or "FILE", "--out", "DIR",
            "--head-fusion", a.head_fusion, "--discard-ratio", repr(float(a.discard_ratio))]
    if getattr(a, "region", None) is not None:  # a region or face analysis: the same box again
        args += ["--region", ",".join(str(v) for v in a.region)]
    if a.method != registry.BASELINE:
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
    if getattr(a, "calibration", None) is not None:
        args += ["--calibration", a.calibration.path or "calibration.json"]
    return shlex.join(args)


def _mask(m) -> list[list[int]]:
    return [[int(v) for v in row] for row in np.asarray(m, dtype=bool)]


def deep_record(analysis, deep) -> dict:
    """The deep check as plain JSON: the judgements, every number the PDF shows, and the 24x24
    masks as 0/1."""
    f, s, c, r = deep.faithfulness, deep.stability, deep.coverage, deep.reliability
    n = number
    return {
        "judgements": [dataclasses.asdict(j) for j in checks.judgements(analysis, deep)],
        "faithfulness": {
            "method": f.method, "fractions": [n(x) for x in f.fractions],
            "probability": n(f.probability),
            "top_removed": [n(x) for x in f.top_removed],
            "random_removed": [n(x) for x in f.random_removed],
            "auc_top": n(f.auc_top), "auc_random": n(f.auc_random),
            "faithful": bool(f.faithful), "faithful_ratio": checks.FAITHFUL_RATIO,
            "faithful_min_auc": checks.FAITHFUL_MIN_AUC, "summary": f.summary},
        "stability": {
            "probability": n(s.probability),
            "perturbations": [{"name": p.name, "probability": n(p.probability), "verdict": p.verdict,
                               "flipped": bool(p.flipped), "heatmap_correlation": n(p.heatmap_correlation)}
                              for p in s.perturbations],
            "fragile": bool(s.fragile), "fragile_correlation": checks.FRAGILE_CORRELATION, "summary": s.summary},
        "coverage": None if c is None else {
            "tiles": [{"box_original": [int(v) for v in t.box_original], "probability": n(t.probability)}
                      for t in c.tiles],
            "aggregation": c.aggregation, "probability": n(c.probability),
            "centre_probability": n(c.centre_probability), "summary": c.summary},
        "coverage_error": deep.coverage_error,
        "reliability": {
            "flat_count": int(r.flat.sum()), "clipped_count": int(r.clipped.sum()),
            "weak_count": int(r.weak.sum()), "outlier_count": int(r.outliers.sum()),
            "flat_std_below": checks.FLAT_STD, "clipped_share_above": checks.CLIPPED_SHARE,
            "outlier_mads_above": checks.OUTLIER_MADS, "summary": r.summary,
            "flat": _mask(r.flat), "clipped": _mask(r.clipped), "outliers": _mask(r.outliers)},
    }


def robustness_record(rob) -> dict:
    """The delivery-path sweep (`checks.robustness`) as plain JSON: the grid, every variant, the
    share that keeps the verdict, where it first changes, and the one-line judgement."""
    n = number
    return {
        "summary": rob.summary,
        "judgement": dataclasses.asdict(checks.robustness_judgement(rob)),
        "original": {"fake_probability": n(rob.probability), "verdict": rob.verdict,
                     "long_edge": rob.original_long_edge},
        "holds": n(rob.holds),
        # the stability rule (docs/METHODS.md): does the sweep demote the call?
        "unstable": bool(rob.unstable), "instability": rob.instability,
        "rule": {"common_long_edges": list(ROBUSTNESS_COMMON_SIZES), "common_qualities": list(ROBUSTNESS_COMMON_QUALITIES),
                 "max_changed_share": ROBUSTNESS_MAX_CHANGED},
        "lowest_probability": n(rob.lowest_probability), "highest_probability": n(rob.highest_probability),
        "first_quality_change": rob.first_quality_change, "first_size_change": rob.first_size_change,
        "long_edges": list(rob.sizes), "qualities": list(rob.qualities),
        "resample": "lanczos", "encoder": ROBUSTNESS_ENCODER,
        "region": None if rob.region is None else list(rob.region),
        "skipped": list(rob.skipped),
        "variants": [{"long_edge": v.long_edge, "quality": v.quality, "fake_probability": n(v.fake_probability),
                      "verdict": v.verdict} for v in rob.variants],
    }


def record(analysis, notes: str = "", deep=None, *, color_scale: str = "image",
           redact_location: bool = False, robustness=None) -> dict:
    """The JSON record: result, explanation, provenance. Only created_utc changes on a re-run.

    `deep` (a `checks.DeepCheck`) adds the "deep_check" section; `robustness` (a
    `checks.Robustness`) the "robustness" section; `color_scale` records how the PNG and PDF
    coloured the heatmaps.
    """
    analysis = analysis.with_robustness(robustness)
    robustness = analysis.robustness
    a, i, m, g = analysis, analysis.input, analysis.model, analysis.geometry
    n = number
    vmax = render.scale_vmax(color_scale)
    lr = a.likelihood_ratio
    return {
        "fake_probability": n(a.fake_probability),
        # which P the verdict used; the raw one is always sigmoid(logit) (issue 13: calibration)
        "fake_probability_is": "calibrated" if getattr(a, "calibration", None) is not None else "raw",
        "raw_fake_probability": n(a.raw_probability),
        "calibration": a.calibration.describe() if getattr(a, "calibration", None) is not None else None,
        "logit": n(a.logit),
        "verdict": a.verdict,            # the final call
        "verdict_text": a.verdict_text,
        "model_verdict": a.model_verdict,  # what P alone says
        "verdict_reasons": list(a.verdict_reasons),  # why the two differ (empty: they do not)
        "applicability": [c.record() for c in a.applicability],
        "likelihood_ratio": None if lr is None else lr.record(),
        "threshold": THRESHOLD,
        "inconclusive_margin": n(a.inconclusive_margin),
        "input_sha256": i.sha256,
        "input": {"name": i.name, "bytes": i.num_bytes, "format": i.format, "width": i.width,
                  "height": i.height, "mode": i.mode, "frames": i.frames,
                  "exif_orientation": i.exif_orientation, "has_icc_profile": i.has_icc_profile,
                  "alpha_flattened": i.alpha_flattened},
        # provenance and metadata of the original bytes, with "generator_hints" (report/provenance.py)
        "metadata": metadata_record(a, redact_location),
        "crop_box": list(a.crop_box),
        # region: the box asked for (clipped), how it was fed (native / resized / upscaled), and
        # scale = model-input pixels per original pixel; null for a whole-image analysis
        "region": None if getattr(a, "region", None) is None else {
            "box": list(a.region), "mode": a.region_mode, "scale": n(a.region_scale),
            "share_seen": n(a.geometry.region_seen)},
        "geometry": {"crop_box_exact": [n(v) for v in g.crop_box_exact],
                     "resized_size": list(g.resized_size), "crop_offset": list(g.crop_offset),
                     "input_size": g.input_size, "coverage": n(a.coverage)},
        "model": {"source": m.source, "revision": m.revision, "weights_sha256": m.weights_sha256,
                  "pinned": m.pinned, "demo": m.demo, "num_parameters": m.num_parameters},
        "preprocessing": a.preprocessing.describe(),
        "method": {"name": a.method, "head_fusion": a.head_fusion, "discard_ratio": n(a.discard_ratio),
                   "grid": GRID, "patch_size": PATCH_SIZE,
                   "agreement_top10_iou": method_agreement(a)},
        "patch_scores": [[n(v) for v in row] for row in a.patch_scores],
        "top10_share": n(a.top_share(0.1)),
        "method_agreement": method_agreement(a),
        "explanation_unstable": bool(a.explanation_unstable),
        "color_scale": {"name": color_scale,
                        "full_colour_share": n(vmax if vmax is not None else a.patch_scores.max())},
        **({"deep_check": deep_record(a, deep)} if deep is not None else {}),
        **({"robustness": robustness_record(robustness)} if robustness is not None else {}),
        **({"local_scan": a.local_scan.to_record()} if a.local_scan is not None else {}),
        "software": software_versions(),
        "created_utc": a.created_utc,
        "reproduce": reproduce_command(a, deep=deep is not None, color_scale=color_scale),
        "notes": caveats(a),
        "limits": limits(a, robustness),
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


def write_json(analysis, path, notes: str = "", deep=None, *, color_scale: str = "image",
               redact_location: bool = False, robustness=None, sections: dict | None = None) -> Path:
    """The record as JSON; `sections`: more top-level keys after the tool's own (never replacing one)."""
    out = record(analysis, notes, deep, color_scale=color_scale, redact_location=redact_location,
                 robustness=robustness)
    clash = set(sections or ()) & set(out)
    if clash:
        raise ValueError(f"extra JSON sections {sorted(clash)} would replace the record's own keys")
    Path(path).write_text(_dumps({**out, **(sections or {})}) + "\n", encoding="utf-8")
    return Path(path)


def write_csv(analysis, path) -> Path:
    """All 576 patches, strongest first: rank, row, col, box in the 384 input, box in the original, score."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(CSV_HEADER)
        for p in analysis.top_patches():
            out.writerow([p["rank"], p["row"], p["col"], *p["box_input"], *p["box_original"], number(p["score"])])
    return Path(path)
