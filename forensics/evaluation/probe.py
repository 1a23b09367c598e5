"""The analyst's probe: a second opinion learnt from their own marked truth, never the model's P.

A probe is a logistic regression on the detector's embedding (`Analysis.embedding`, the final
layer-normed CLS token the classifier itself reads), fitted by `forensics adapt` (evaluation/adapt.py)
and kept as plain numbers in JSON (never pickle: a probe file is something people pass around):

    probe = Probe.load("adapted/probe.json", detector)   # InputError for another extractor
    probe.probability(analysis)                          # P(AI-generated) by the probe, beside the model's
    probe.record(analysis)                               # the JSON section `analyze --probe` writes

An embedding means something only for the extractor that made it: the same weights, the same layer
and the same input transform. The file names its extractor and every use checks it.
"""
from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..core.jsonfile import JsonFile

FORMAT = "forensics-probe/1"
PROBE_FILE = JsonFile("probe", "Give the probe.json written by `forensics adapt`.")
LAYER = "final-cls"        # the embedding the probe reads: the final layer-normed CLS token
LABEL = "the analyst's probe"
CUT_OFF = 0.5              # the probe's P >= this is "AI-generated" in its validation figures
WHAT_IT_IS = ("a second opinion learnt from the analyst's own marked items; it never replaces the model's "
              "P(AI-generated) or the call")


def extractor_identity(model_info, transform) -> dict:
    """What made the embeddings: weights, layer and input transform (`Detector.model_info`,
    `Detector.transform`, or an Analysis's `.model` and `.preprocessing`)."""
    return {"model_source": model_info.source, "model_revision": model_info.revision,
            "weights_sha256": model_info.weights_sha256, "demo": bool(model_info.demo),
            "layer": LAYER, "transform": transform.name, "transform_settings": transform.describe()}


def extractor_mismatch(stored: dict, current: dict) -> list[str]:
    """Why embeddings from `current` cannot be read by a probe fitted on `stored` (empty: they can).
    Weights are told apart by their sha256; demo weights, which have none, by their seed (source)."""
    problems = []
    if stored.get("demo") or current.get("demo") or not stored.get("weights_sha256"):
        if (bool(stored.get("demo")), stored.get("model_source")) != (bool(current.get("demo")),
                                                                      current.get("model_source")):
            problems.append(f"model {stored.get('model_source')} (demo: {bool(stored.get('demo'))}), not "
                            f"{current.get('model_source')} (demo: {bool(current.get('demo'))})")
    elif stored.get("weights_sha256") != current.get("weights_sha256"):
        problems.append(f"weights sha256 {str(stored.get('weights_sha256'))[:12]}, not "
                        f"{str(current.get('weights_sha256'))[:12]} ({current.get('model_source')})")
    if stored.get("layer") != current.get("layer"):
        problems.append(f"layer {stored.get('layer')}, not {current.get('layer')}")
    if (stored.get("transform"), stored.get("transform_settings")) != (current.get("transform"),
                                                                       current.get("transform_settings")):
        problems.append(f"input transform {stored.get('transform')!r}, not {current.get('transform')!r}")
    return problems


@dataclass(frozen=True)
class Probe:
    """P(AI-generated) = sigmoid(embedding . coefficients + intercept), and what it was fitted and
    validated on. Standardisation during fitting is folded into the coefficients."""

    coefficients: np.ndarray          # (hidden,) float64, on the raw embedding
    intercept: float
    extractor: dict                   # `extractor_identity` of the embeddings it was fitted on
    trained_on: dict                  # counts per class, source (cases or folder), fold plan
    validated: dict                   # grouped cross-validation: auc, accuracy at CUT_OFF, counts, folds
    settings: dict = field(default_factory=dict)   # C, class weights, seed
    created_utc: str = ""
    sha256: str | None = None         # of the file it was loaded from (None: not saved yet)
    path: str | None = None

    # -- use ------------------------------------------------------------------------------------
    def check(self, model_info, transform) -> None:
        """InputError when embeddings of this model and transform are not what the probe reads."""
        problems = extractor_mismatch(self.extractor, extractor_identity(model_info, transform))
        if problems:
            name = f" {self.path}" if self.path else ""
            raise InputError(f"The probe{name} was fitted on another extractor's embeddings "
                             f"({'; '.join(problems)}): its P would mean nothing here. Run `forensics adapt` "
                             "again with the model you analyse with.")

    def probability(self, analysis) -> float:
        """The probe's P(AI-generated) for one analysis, from `analysis.embedding` (the model's P and
        call are untouched: this is a number beside them)."""
        if analysis.embedding is None:
            raise InputError("This analysis kept no embedding (it was built without a forward pass); "
                             "analyse the image again to read it with the probe.")
        self.check(analysis.model, analysis.preprocessing)
        x = np.asarray(analysis.embedding, dtype=np.float64).ravel()
        if x.shape != self.coefficients.shape:
            raise InputError(f"The probe reads {self.coefficients.size}-dimensional embeddings, this analysis has "
                             f"{x.size}: run `forensics adapt` again with the model you analyse with.")
        return float(probabilities(x[None, :], self.coefficients, self.intercept)[0])

    @property
    def label(self) -> str:
        """One line for any page or export: what this P is, trained and validated on what."""
        t, v = self.trained_on, self.validated
        auc = v.get("auc")
        return (f"Analyst's probe (second opinion, not the model): trained on {t.get('n_items', '?')} items "
                f"({t.get('n_real', '?')} real, {t.get('n_ai', '?')} AI-generated) from {t.get('source', '?')}; "
                f"grouped-CV AUC {'n/a' if auc is None else f'{auc:.3f}'} over {v.get('folds', '?')} folds")

    def describe(self) -> dict:
        """What every record that shows the probe's P says about it."""
        v = self.validated
        return {"label": LABEL, "what_it_is": WHAT_IT_IS, "file": self.path, "file_sha256": self.sha256,
                "trained_on": self.trained_on,
                "validated": {k: v.get(k) for k in ("method", "auc", "accuracy", "cut_off", "folds", "n_real",
                                                    "n_ai", "model_auc")},
                "extractor": {k: self.extractor.get(k) for k in ("model_source", "weights_sha256", "layer",
                                                                 "transform")},
                "created_utc": self.created_utc}

    def record(self, analysis) -> dict:
        """The `probe` section of an analysis record: the probe's P beside, never instead of, the model's."""
        return {"fake_probability": self.probability(analysis), **self.describe()}

    # -- files ----------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"format": FORMAT, "what_it_is": WHAT_IT_IS,
                "coefficients": [float(c) for c in self.coefficients], "intercept": float(self.intercept),
                "extractor": self.extractor, "trained_on": self.trained_on, "validated": self.validated,
                "settings": self.settings, "created_utc": self.created_utc,
                "how_to_use": "forensics analyze FILES --out DIR --probe THIS_FILE; or python app.py --probe THIS_FILE"}

    def save(self, path: str | os.PathLike) -> "Probe":
        """Write probe.json; -> the probe with the file's sha256 and name set."""
        return replace(self, sha256=PROBE_FILE.write(path, self.to_json()), path=Path(path).name)

    @classmethod
    def load(cls, path: str | os.PathLike, detector=None) -> "Probe":
        """Read a probe.json written by `forensics adapt`; with `detector`, also check that it reads
        this detector's embeddings (InputError otherwise)."""
        path = Path(path)
        body, sha256 = PROBE_FILE.read(path)
        try:
            if body.get("format") != FORMAT:
                raise ValueError(f"format {body.get('format')!r}")
            coefficients = np.asarray(body["coefficients"], dtype=np.float64)
            intercept = float(body["intercept"])
            if coefficients.ndim != 1 or not coefficients.size or not np.isfinite(coefficients).all() \
                    or not np.isfinite(intercept):
                raise ValueError("the coefficients are not a finite vector")
            extractor = dict(body["extractor"])
            if extractor.get("layer") != LAYER:
                raise ValueError(f"layer {extractor.get('layer')!r}")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PROBE_FILE.refused(path, exc) from None
        probe = cls(coefficients, intercept, extractor, dict(body.get("trained_on") or {}),
                    dict(body.get("validated") or {}), dict(body.get("settings") or {}),
                    str(body.get("created_utc") or ""), sha256, path.name)
        if detector is not None:
            probe.check(detector.model_info, detector.transform)
        return probe


def probabilities(x: np.ndarray, coefficients: np.ndarray, intercept: float) -> np.ndarray:
    """sigmoid(x @ w + b) for (n, d) embeddings -> (n,), without overflow."""
    z = np.asarray(x, dtype=np.float64) @ coefficients + intercept
    return np.exp(-np.logaddexp(0.0, -z))


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
