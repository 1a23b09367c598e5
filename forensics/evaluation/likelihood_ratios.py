"""The `evaluate` step that validates likelihood ratios on the scored rows.

rows (label, group, sha256, perceptual hashes, raw logit)
  -> `folds.plan`: a fold per row that keeps copies, near-duplicates and, where possible, groups together
  -> `core.likelihood.fit_validated`: out-of-fold log10 LRs (lir), their ELUB bounds and Cllr, and the
     calibrator fitted on all rows for calibration.json
  -> each scored row gains `fold`, `log10_lr` and `lr_verbal` (scores.csv), and metrics.json the summary.
"""
from __future__ import annotations

import numpy as np

from ..core import likelihood
from . import folds as _folds
from .metrics import LABEL_WORDS


def out_of_fold(rows: list[dict], *, seed: int = 0, source: str = "") -> tuple[likelihood.Validated, dict]:
    """Fill the rows' likelihood columns in place; -> (what was fitted, metrics.json's section)."""
    ok = [r for r in rows if r["fake_probability"] is not None and r.get("logit") is not None]
    y = np.array([LABEL_WORDS[r["label"]] for r in ok], dtype=int)
    plan = _folds.plan(y, [r["group"] for r in ok], [r["sha256"] for r in ok],
                       [r["phash"] for r in ok], [r["dhash"] for r in ok], seed=seed)
    validated = likelihood.fit_validated([r["logit"] for r in ok], y, plan.folds,
                                         about={"source": source, "fold_units": plan.describe()["kept_together"]})
    for i, row in enumerate(ok):
        row["fold"] = int(plan.folds[i]) if plan.n_folds else None
        if validated.log10_lr is not None:
            row["log10_lr"] = float(validated.log10_lr[i])
            row["lr_verbal"] = likelihood.short_verbal(row["log10_lr"])
    section = {**validated.summary, "fold_plan": plan.describe(), "seed": seed,
               "scores_csv_columns": {"fold": "the fold the row was held out in",
                                      "log10_lr": "out-of-fold log10 likelihood ratio, within the ELUB bounds",
                                      "lr_verbal": "its words on the ENFSI scale"},
               "minimum_per_class": likelihood.MIN_IMAGES_PER_CLASS}
    return validated, section
