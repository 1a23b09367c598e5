"""A calibration map for P(AI-generated), fitted on an analyst's labelled images.

The model's raw P is what its training data taught it; on another stream of images the same P
can mean a different rate of AI images. `fit` learns a monotone map raw P -> calibrated P from
labelled scores (Platt scaling or isotonic regression, with scikit-learn), `save` writes it as
plain numbers in JSON (never pickle: a calibration file is something people pass around), and
`load` reads it back with the file's sha256 so every result can say which map it went through.
A map cannot add ranking the model does not have: it moves P, it never reorders images.

The same file may carry a likelihood-ratio calibrator (`likelihood_ratio`, see core/likelihood.py),
fitted by `evaluate` on the raw logits with its out-of-fold validation; `likelihood` holds it, or
None (older files, or too few images: `likelihood_absent` then says why).
"""
from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import InputError
from .jsonfile import JsonFile
from .likelihood import LRCalibrator

METHODS = ("platt", "isotonic")
FORMAT = "forensics-calibration/1"
ENV_CALIBRATION = "FORENSICS_CALIBRATION"  # the app reads the file named here
CALIBRATION_FILE = JsonFile("calibration", "Give the calibration.json written by `python -m forensics evaluate`.")
EPS = 1e-7  # P is clipped to [EPS, 1-EPS] before the logit: a float32 sigmoid reaches 0 and 1


def logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class Calibration:
    """A monotone map raw P -> calibrated P, and the data it was fitted on."""

    method: str                      # "platt" | "isotonic"
    parameters: dict                 # platt: slope, intercept; isotonic: x, y (breakpoints)
    fitted_on: dict = field(default_factory=dict)   # counts, scores.csv sha256, model, date, ...
    sha256: str | None = None        # of the JSON file it was loaded from (None: not saved yet)
    path: str | None = None          # the file name it was loaded from
    likelihood: LRCalibrator | None = None   # logit -> likelihood ratio, validated; None: no LR can be given
    likelihood_absent: str = ""      # why there is no LR calibrator, when the file says

    def apply(self, raw_probability):
        """Calibrated P for a raw P (float or array; same shape back)."""
        raw = np.asarray(raw_probability, dtype=np.float64)
        if self.method == "platt":
            z = self.parameters["slope"] * logit(raw) + self.parameters["intercept"]
            out = 1.0 / (1.0 + np.exp(-z))
        else:  # isotonic: linear between breakpoints, flat beyond them (= IsotonicRegression.predict)
            out = np.interp(raw, self.parameters["x"], self.parameters["y"])
        return float(out) if out.ndim == 0 else out

    @property
    def label(self) -> str:
        """One line for any page or export: what was applied, fitted on what."""
        f = self.fitted_on
        counts = f"{f.get('n_real', '?')} real + {f.get('n_ai', '?')} AI-generated images"
        where = f" from {f['source']}" if f.get("source") else ""
        date = f", {f['created_utc'][:10]}" if f.get("created_utc") else ""
        sha = f"; file sha256 {self.sha256[:12]}" if self.sha256 else ""
        return f"Calibrated ({self.method}) on {counts}{where}{date}{sha}"

    def applies_to(self, model_info) -> bool:
        """Fitted for this model's scores (see `mismatch`)."""
        return not mismatch(self, model_info)

    def describe(self) -> dict:
        """The JSON section every export carries about the map used."""
        lr = self.likelihood
        return {"method": self.method, "file": self.path, "file_sha256": self.sha256,
                "fitted_on": self.fitted_on, "label": self.label,
                "likelihood_ratio": None if lr is None else {"log10_bounds": list(lr.log10_bounds),
                                                             "validated_on": lr.validated_on()},
                **({"likelihood_ratio_absent": self.likelihood_absent} if lr is None and self.likelihood_absent
                   else {})}


def fit(raw_probabilities, labels, method: str = "platt", fitted_on: dict | None = None) -> Calibration:
    """Fit a map on raw P and labels (1 = AI-generated, 0 = real); both classes are needed.

    platt: logistic regression on logit(P) with Platt's (1999) target smoothing, so perfectly
      separated data still gives a finite slope. Two numbers; right for small samples.
    isotonic: a non-decreasing step-wise map; needs hundreds of images per class, else it
      memorises the sample.
    """
    from sklearn.isotonic import IsotonicRegression  # here, not at the top: `analyze` needs only `apply`
    from sklearn.linear_model import LogisticRegression

    if method not in METHODS:
        raise InputError(f"calibration method must be one of {', '.join(METHODS)}, got {method!r}")
    p = np.asarray(raw_probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=int)
    n_ai, n_real = int(y.sum()), int((y == 0).sum())
    if n_ai == 0 or n_real == 0:
        raise InputError(f"a calibration needs both real and AI-generated images; got {n_real} real "
                         f"and {n_ai} AI-generated. Add images of the missing class.")
    info = {"n_real": n_real, "n_ai": n_ai, **(fitted_on or {})}
    info.setdefault("created_utc", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    if method == "platt":
        # Soft targets (N+ + 1)/(N+ + 2) and 1/(N- + 2), as sample weights on a doubled data set.
        t = np.where(y == 1, (n_ai + 1) / (n_ai + 2), 1 / (n_real + 2))
        x = np.concatenate([logit(p), logit(p)])[:, None]
        target = np.concatenate([np.ones_like(y), np.zeros_like(y)])
        model = LogisticRegression(C=np.inf, max_iter=1000).fit(x, target, sample_weight=np.concatenate([t, 1 - t]))
        slope, intercept = float(model.coef_[0, 0]), float(model.intercept_[0])
        if slope <= 0:
            # The model ranks these AI images no higher than these real ones; a decreasing map would
            # invert verdicts, so the honest map is constant: the AI share of the data, for every image.
            info["degenerate"] = ("the fitted slope was not positive (the model does not rank these AI "
                                  "images above these real ones): calibrated P is the AI share of the data")
            slope, intercept = 0.0, float(logit(t.mean()))
        params = {"slope": slope, "intercept": intercept}
    else:
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(p, y)
        params = {"x": [float(v) for v in iso.X_thresholds_], "y": [float(v) for v in iso.y_thresholds_]}
    return Calibration(method, params, info)


def save(calibration: Calibration, path: str | os.PathLike) -> Calibration:
    """Write the map as JSON; returns it with the file's sha256 and name set."""
    body = {"format": FORMAT, "method": calibration.method, "parameters": calibration.parameters,
            "fitted_on": calibration.fitted_on,
            **({"likelihood_ratio": calibration.likelihood.to_record()} if calibration.likelihood is not None
               else {"likelihood_ratio_absent": calibration.likelihood_absent} if calibration.likelihood_absent
               else {}),
            "how_to_use": "python -m forensics analyze FILES --out DIR --calibration THIS_FILE; "
                          f"or set {ENV_CALIBRATION}=THIS_FILE before starting the app"}
    return replace(calibration, sha256=CALIBRATION_FILE.write(path, body), path=Path(path).name)


def load(path: str | os.PathLike) -> Calibration:
    """Read a calibration.json written by `python -m forensics evaluate`; InputError if it is not one."""
    path = Path(path)
    body, sha256 = CALIBRATION_FILE.read(path)
    try:
        method, params = body["method"], body["parameters"]
        if body.get("format") != FORMAT or method not in METHODS:
            raise ValueError(f"format {body.get('format')!r}, method {method!r}")
        if method == "platt":
            params = {"slope": float(params["slope"]), "intercept": float(params["intercept"])}
            ok = np.isfinite(list(params.values())).all() and params["slope"] >= 0
        else:
            x, y = np.asarray(params["x"], np.float64), np.asarray(params["y"], np.float64)
            ok = (x.ndim == 1 and x.size >= 1 and x.shape == y.shape and np.all(np.diff(x) >= 0)
                  and np.all(np.diff(y) >= 0) and y.min() >= 0 and y.max() <= 1)
            params = {"x": x.tolist(), "y": y.tolist()}
        if not ok:
            raise ValueError("the map is not a finite, non-decreasing map into [0, 1]")
        section = body.get("likelihood_ratio")  # absent in files from before it existed
        likelihood = None if section is None else LRCalibrator.from_record(section)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CALIBRATION_FILE.refused(path, exc) from None
    return Calibration(method, params, dict(body.get("fitted_on") or {}),
                       sha256, path.name, likelihood,
                       str(body.get("likelihood_ratio_absent") or ""))


def mismatch(calibration: Calibration, model_info) -> list[str]:
    """Warnings when the map was fitted on another model's scores (it would then mean nothing)."""
    fitted = calibration.fitted_on.get("model") or {}
    if not fitted:
        return ["the calibration file does not say which model it was fitted for"]
    if fitted.get("demo") or model_info.demo:
        same = bool(fitted.get("demo")) == bool(model_info.demo) and fitted.get("source") == model_info.source
    else:
        same = fitted.get("weights_sha256") == model_info.weights_sha256
    if same:
        return []
    return [f"the calibration was fitted on scores of {fitted.get('source')} (weights sha256 "
            f"{str(fitted.get('weights_sha256'))[:12]}), not of the model loaded now "
            f"({model_info.source}, {str(model_info.weights_sha256)[:12]}): its calibrated P does not apply"]


def from_env() -> Calibration | None:
    """The calibration named by $FORENSICS_CALIBRATION (None when unset), for the app."""
    path = os.environ.get(ENV_CALIBRATION)
    return load(path) if path else None
