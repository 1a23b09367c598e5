"""The rows of results.parquet (forensics/scale.py): the schema, and one Analysis as a row."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..explain import registry
from .._version import __version__
from ..analysis.detector import Detector
from ..analysis.result import Analysis
from ..core.preprocess import GRID

TOP_PATCHES = 10

# -- the table ---------------------------------------------------------------------------------

_BOX = pa.list_(pa.int32(), 4)
_SCORES = pa.list_(pa.float32(), GRID * GRID)
_CONDITION = pa.struct([("name", pa.string()), ("detail", pa.string()), ("blocks_verdict", pa.bool_())])
_PATCH = pa.struct([("rank", pa.int16()), ("row", pa.int8()), ("col", pa.int8()), ("score", pa.float32()),
                    ("box_original", _BOX)])

# One row per file. Scores are float32: what the float32 forward pass resolves (7 digits).
SCHEMA = pa.schema([
    ("path", pa.string()),               # as Ray lists it: absolute local path, or bucket/key
    ("name", pa.string()),
    ("status", pa.string()),             # ok | error | skipped
    ("error", pa.string()),              # why the file was not analysed (status error/skipped)
    ("sha256", pa.string()),             # of the file's bytes, also for unreadable files
    ("num_bytes", pa.int64()),
    ("format", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
    ("fake_probability", pa.float64()),  # P(AI-generated) the verdict uses (calibrated with --calibration)
    ("raw_probability", pa.float64()),   # sigmoid(logit), the model's own
    ("logit", pa.float64()),
    ("calibration", pa.string()),        # what calibrated fake_probability; null: none
    ("verdict", pa.string()),            # the final call: ai-generated | real | inconclusive
    ("model_verdict", pa.string()),      # what P alone says
    ("verdict_reasons", pa.list_(pa.string())),  # why the final call differs (empty: it does not)
    ("applicability", pa.list_(_CONDITION)),     # conditions outside the model's validated domain
    ("crop_box", _BOX),                  # (left, top, right, bottom) analysed, original pixels
    ("coverage", pa.float64()),          # share of the image area the model saw
    ("patch_scores", _SCORES),           # 24x24 row-major, sum 1: scores of `method`
    ("rollout_scores", _SCORES),         # the baseline (attention rollout), when `method` is another
    ("method_agreement", pa.float64()),  # top-10% IoU of the two methods (when another was run)
    ("top_patches", pa.list_(_PATCH)),   # the 10 strongest, rank 1 first
    ("notes", pa.list_(pa.string())),    # the caveats every export prints
    ("generator_hints", pa.list_(pa.string())),  # from the file's metadata, never mixed into P
    ("method", pa.string()), ("head_fusion", pa.string()), ("discard_ratio", pa.float64()),
    ("preprocessing", pa.string()), ("inconclusive_margin", pa.float64()),
    ("model_source", pa.string()), ("model_revision", pa.string()), ("model_weights_sha256", pa.string()),
    ("model_pinned", pa.bool_()), ("model_demo", pa.bool_()), ("model_num_parameters", pa.int64()),
    ("forensics_version", pa.string()), ("created_utc", pa.string()),
])
# What the actors hand the driver: the table plus the file's bytes when exports were asked for.
WIRE_SCHEMA = SCHEMA.append(pa.field("bytes", pa.binary()))


def provenance(det: Detector, method) -> dict:
    """The columns that say how a row was made: model and method (a scale.MethodSpec); error rows
    carry them too."""
    m = det.model_info
    return {"method": method.method, "head_fusion": method.head_fusion, "discard_ratio": method.discard_ratio,
            "inconclusive_margin": det.inconclusive_margin,
            "model_source": m.source, "model_revision": m.revision, "model_weights_sha256": m.weights_sha256,
            "model_pinned": m.pinned, "model_demo": m.demo, "model_num_parameters": m.num_parameters,
            "forensics_version": __version__}


def result_fields(a: Analysis) -> dict:
    """One analysis -> its columns of SCHEMA."""
    m, meta = a.model, a.input.metadata
    compared = a.method != registry.BASELINE  # the baseline is kept beside the shown method
    return {
        "status": "ok", "error": None, "format": a.input.format, "width": a.input.width, "height": a.input.height,
        "fake_probability": a.fake_probability, "raw_probability": a.raw_probability, "logit": a.logit,
        "calibration": None if a.calibration is None else a.calibration.label, "verdict": a.verdict,
        "model_verdict": a.model_verdict, "verdict_reasons": list(a.verdict_reasons),
        "applicability": [c.record() for c in a.applicability],
        "crop_box": list(a.crop_box), "coverage": a.coverage,
        "patch_scores": a.patch_scores.ravel().astype(np.float32),
        "rollout_scores": a.rollout_scores.ravel().astype(np.float32) if compared else None,
        "method_agreement": a.method_agreement,
        "top_patches": [{"rank": p["rank"], "row": p["row"], "col": p["col"], "score": p["score"],
                         "box_original": list(p["box_original"])} for p in a.top_patches(TOP_PATCHES)],
        "notes": a.notes(),
        "generator_hints": None if meta is None else [f"{h.generator} ({h.field}: {h.text})" for h in meta.hints],
        "method": a.method, "head_fusion": a.head_fusion, "discard_ratio": a.discard_ratio,
        "preprocessing": a.preprocessing.name, "inconclusive_margin": a.inconclusive_margin,
        "model_source": m.source, "model_revision": m.revision, "model_weights_sha256": m.weights_sha256,
        "model_pinned": m.pinned, "model_demo": m.demo, "model_num_parameters": m.num_parameters,
        "forensics_version": __version__, "created_utc": a.created_utc,
    }
