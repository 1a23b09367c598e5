"""`forensics adapt`: from the analyst's marked truth, (a) a recalibration of the model's logit and
(b) the analyst's probe on its embeddings, each validated by cross-validation grouped so that a
copy never validates itself.

    labelled items (a folder like `evaluate` takes, or cases' marked items)
      -> `embed`: one plain forward per batch -> logit and embedding (the final CLS) per item, plus
         the perceptual hashes the folds need; or `from_stored`: a case item's embedding and logit as
         the store kept them (same extractor), no forward pass; `join` puts the two together
      -> `folds.plan`: folds keeping the same file, near-duplicates and, where each class has two or
         more, groups (sub-folders; cases) whole
      -> `validate`: out of fold, the model's own P, the recalibrated P (core.calibration, Platt) and the
         probe's P (scikit-learn: standardised embedding, L2-regularised logistic regression,
         balanced class weights): ROC AUC, accuracy at the cut-off 0.5, counts per class
      -> `adapt`: the same two fitted on every item -> Probe (probe.json) and Calibration (calibration.json)

Below `MIN_ITEMS_PER_CLASS` marked items of either class nothing is fitted: `adapt` refuses.
"""
from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from ..core import calibration
from ..core.errors import InputError
from ..core.likelihood import MIN_IMAGES_PER_CLASS
from ..core.preprocess import crop_input
from ..core.untrusted import printable
from ..inputs.images import load_image
from ..model import capture
from . import folds as _folds
from .metrics import at_cut_off
from .probe import CUT_OFF, Probe, extractor_identity, now_utc

# The same floor as the likelihood ratios (core/likelihood.py): with 20 per class and five folds each
# fold's fit still sees 16 per class, and an AUC on fewer items is too uncertain to tell the analyst
# anything (its 95% interval is about +/-0.15 at 20 per class).
MIN_ITEMS_PER_CLASS = MIN_IMAGES_PER_CLASS
EMBEDDINGS_READ = ("stored: the embedding and logit kept with a case item by the same extractor (no forward "
                   "pass); analysed: its file run through the model now")
DEFAULT_C = 1.0       # inverse L2 strength on the standardised embedding (scikit-learn's default)
MAX_ITER = 5000


@dataclass
class Material:
    """What the probe learns from: one row per readable labelled item."""

    embeddings: np.ndarray          # (n, hidden) float32: the final layer-normed CLS
    logits: np.ndarray              # (n,) float64: the model's one logit
    labels: np.ndarray              # (n,) int: 1 AI-generated, 0 real
    groups: list[str]               # sub-folder, or case: kept whole in the folds where possible
    sha256s: list[str]
    phashes: list[int]
    dhashes: list[int]
    names: list[str]
    extractor: dict                 # `probe.extractor_identity` of the detector that embedded them
    source: str                     # "folder X" / "cases a, b": what it was trained on
    unreadable: list[dict] = field(default_factory=list)   # {"path", "error"}
    origins: dict = field(default_factory=dict)            # {"stored": n, "analysed": n}: where the rows came from


def embed(detector, items, source: str, batch_size: int = 8, progress: bool = True) -> Material:
    """Labelled items (evaluation.metrics.Item) -> Material: one plain forward per batch, nothing
    else (no explanation). Unreadable files are listed, not fitted."""
    rows, forwards, unreadable = [], [], []
    with tqdm(total=len(items), unit="img", desc="embedding", file=sys.stderr, dynamic_ncols=True,
              disable=not progress) as bar:
        for start in range(0, len(items), batch_size):
            crops = []
            for item in items[start:start + batch_size]:
                try:
                    rgb, info = load_image(item.path, name=item.name)
                except InputError as exc:
                    unreadable.append({"path": item.name, "error": str(exc)})
                    tqdm.write(f"skipped {printable(item.name)}: {printable(exc)}", file=sys.stderr)
                    continue
                crops.append(crop_input(rgb, detector.transform)[0])
                rgb.thumbnail((512, 512))
                rows.append((item, info.sha256, *_folds.perceptual_hashes(rgb)))
            if crops:
                result = capture.forward(detector.model, detector.pixels(crops))
                forwards.append((result.logits.float().cpu().numpy().astype(np.float64),
                                     result.final_cls.cpu().numpy().astype(np.float32)))  # (B,), (B, hidden)
            bar.update(len(items[start:start + batch_size]))
    hidden = detector.model.config.hidden_size
    logits = np.concatenate([c[0] for c in forwards]) if forwards else np.empty(0)
    embeddings = np.concatenate([c[1] for c in forwards]) if forwards else np.empty((0, hidden), np.float32)
    return Material(embeddings, logits, np.array([r[0].label for r in rows], dtype=int),
                    [r[0].group for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
                    [r[0].name for r in rows], extractor_identity(detector.model_info, detector.transform),
                    source, unreadable, {"stored": 0, "analysed": len(rows)})


@dataclass(frozen=True)
class Stored:
    """A marked case item whose store kept the embedding and logit of this detector's forward."""

    label: int                  # 1 AI-generated, 0 real
    group: str                  # its case
    sha256: str
    near_key: str               # its near-duplicate group ("case/dup_group"); unique when in none
    name: str
    logit: float
    embedding: np.ndarray       # (hidden,) float32, as stored


def _stand_in_hashes(key: str) -> tuple[int, int]:
    """Two 64-bit values equal for one near-duplicate group's key and, for different keys, as far
    apart as random bits (within 12 bits of each other both at once with odds ~1e-13): `folds.plan`
    links by hashes, and the store has already decided the groups (duplicates.py, the same rule)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:16], "big")


def from_stored(rows: list[Stored], detector, source: str) -> Material:
    """Stored case items -> Material, without a forward pass; near-duplicates are linked by the
    store's groups (`_stand_in_hashes`), not by hashes of pixels."""
    hidden = detector.model.config.hidden_size
    hashes = [_stand_in_hashes(r.near_key) for r in rows]
    matrix = np.stack([r.embedding for r in rows]).astype(np.float32) if rows else np.empty((0, hidden), np.float32)
    return Material(matrix, np.array([r.logit for r in rows], dtype=np.float64),
                    np.array([r.label for r in rows], dtype=int), [r.group for r in rows], [r.sha256 for r in rows],
                    [h[0] for h in hashes], [h[1] for h in hashes], [r.name for r in rows],
                    extractor_identity(detector.model_info, detector.transform), source, [],
                    {"stored": len(rows), "analysed": 0})


def join(a: Material, b: Material) -> Material:
    """Two Materials of one extractor and source -> one (a's rows first)."""
    if a.extractor != b.extractor:
        raise ValueError("materials of different extractors cannot be joined")
    return Material(np.concatenate([a.embeddings, b.embeddings]), np.concatenate([a.logits, b.logits]),
                    np.concatenate([a.labels, b.labels]).astype(int), a.groups + b.groups, a.sha256s + b.sha256s,
                    a.phashes + b.phashes, a.dhashes + b.dhashes, a.names + b.names, a.extractor, a.source,
                    a.unreadable + b.unreadable,
                    {k: a.origins.get(k, 0) + b.origins.get(k, 0) for k in ("stored", "analysed")})


def check_floor(labels: np.ndarray) -> tuple[int, int]:
    """(n_real, n_ai); InputError below MIN_ITEMS_PER_CLASS of either."""
    n_ai, n_real = int((labels == 1).sum()), int((labels == 0).sum())
    if min(n_ai, n_real) < MIN_ITEMS_PER_CLASS:
        raise InputError(f"adapt needs at least {MIN_ITEMS_PER_CLASS} marked items of each class to fit and "
                         f"validate a probe; it has {n_real} real and {n_ai} AI-generated. Mark more items "
                         "(forensics case mark --truth real|ai) or add images to the labelled folder.")
    return n_real, n_ai


def fit_probe(x: np.ndarray, y: np.ndarray, c: float = DEFAULT_C) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression on standardised embeddings -> (coefficients, intercept) on the
    raw embedding (the scaling folded in). Balanced class weights: P does not lean to the larger class."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=c, l1_ratio=0.0, class_weight="balanced", max_iter=MAX_ITER)
    model.fit(scaler.transform(x), y)
    w = model.coef_[0] / scaler.scale_                                  # (hidden,)
    return w.astype(np.float64), float(model.intercept_[0] - scaler.mean_ @ w)


def fit_recalibration(logits: np.ndarray, y: np.ndarray, fitted_on: dict | None = None) -> calibration.Calibration:
    """Platt scaling of the model's logit (core.calibration): monotone, so it moves P, never the ranking."""
    return calibration.fit(_sigmoid(logits), y, "platt", fitted_on=fitted_on)


def figures(y: np.ndarray, p: np.ndarray, method: str) -> dict:
    """ROC AUC, and the decisions at the cut-off with counts per class."""
    from sklearn.metrics import roc_auc_score
    at = at_cut_off(y, p, CUT_OFF)
    return {"method": method, "auc": float(roc_auc_score(y, p)), "accuracy": at["accuracy"],
            "balanced_accuracy": at["balanced_accuracy"], "tpr": at["tpr"], "fpr": at["fpr"],
            "cut_off": CUT_OFF, "confusion": at["confusion"],
            "n_real": int((y == 0).sum()), "n_ai": int((y == 1).sum())}


def validate(m: Material, plan: _folds.FoldPlan, c: float = DEFAULT_C) -> dict:
    """Out of fold (`plan.folds`): the model's P, the recalibrated P and the probe's P -> figures each."""
    y = m.labels
    recalibrated, probed = np.empty(len(y)), np.empty(len(y))
    for f in range(1, plan.n_folds + 1):
        test = plan.folds == f
        train = ~test
        w, b = fit_probe(m.embeddings[train], y[train], c)
        probed[test] = _sigmoid(m.embeddings[test].astype(np.float64) @ w + b)
        recalibrated[test] = fit_recalibration(m.logits[train], y[train]).apply(_sigmoid(m.logits[test]))
    return {"model": figures(y, _sigmoid(m.logits), "the model's P (no fitting)"),
            "recalibration": figures(y, recalibrated, "Platt recalibration of the model's logit, out of fold"),
            "probe": figures(y, probed, "the analyst's probe on the embeddings, out of fold"),
            "out_of_fold": {"probe": probed, "recalibration": recalibrated}}


@dataclass(frozen=True)
class Adapted:
    probe: Probe
    recalibration: calibration.Calibration
    summary: dict          # adapt.json: figures, fold plan, counts, settings
    folds: np.ndarray      # (n,) the fold each item was held out in (1..k), in the Material's order


def adapt(m: Material, *, c: float = DEFAULT_C, seed: int = 0) -> Adapted:
    """Validate both by grouped cross-validation, then fit both on every item. InputError below the
    floor, or when no grouped folds can be made (too few separate groups of a class)."""
    if not c > 0 or not np.isfinite(c):
        raise InputError(f"--C must be a positive number, got {c}")
    n_real, n_ai = check_floor(m.labels)
    plan = _folds.plan(m.labels, m.groups, m.sha256s, m.phashes, m.dhashes, seed=seed)
    if plan.n_folds < 2:
        raise InputError("the items cannot be split into two or more folds that keep near-duplicates together "
                         f"and leave both classes on each side ({plan.units} separate unit(s)); add items of "
                         "other scenes.")
    checked = validate(m, plan, c)
    created = now_utc()
    trained_on = {"source": m.source, "n_items": int(len(m.labels)), "n_real": n_real, "n_ai": n_ai,
                  "groups": sorted(set(m.groups)), "unreadable": len(m.unreadable)}
    fold_plan = plan.describe()
    validated = {**{k: checked["probe"][k] for k in ("method", "auc", "accuracy", "balanced_accuracy", "tpr",
                                                     "fpr", "cut_off", "n_real", "n_ai")},
                 "folds": plan.n_folds, "grouped_by": fold_plan["kept_together"],
                 "model_auc": checked["model"]["auc"], "recalibration_auc": checked["recalibration"]["auc"]}
    w, b = fit_probe(m.embeddings, m.labels, c)
    settings = {"C": c, "penalty": "L2 (l1_ratio 0)", "class_weight": "balanced",
                "standardised": "features standardised during fitting; folded into the coefficients",
                "seed": seed, "cut_off": CUT_OFF, "min_items_per_class": MIN_ITEMS_PER_CLASS}
    probe = Probe(w, b, m.extractor, trained_on, validated, settings, created)
    recal = fit_recalibration(m.logits, m.labels, fitted_on={
        "source": m.source, "created_utc": created, "preprocessing": m.extractor["transform"],
        "model": {"source": m.extractor["model_source"], "revision": m.extractor["model_revision"],
                  "weights_sha256": m.extractor["weights_sha256"], "demo": m.extractor["demo"]},
        "validated_out_of_fold": {k: checked["recalibration"][k] for k in ("auc", "accuracy", "n_real", "n_ai")}})
    summary = {
        "title": "The analyst's probe and recalibration, validated by grouped cross-validation",
        "what_it_is": probe.describe()["what_it_is"],
        "counts": {"items": int(len(m.labels)), "real": n_real, "ai_generated": n_ai,
                   "unreadable": m.unreadable, "min_items_per_class": MIN_ITEMS_PER_CLASS,
                   "embeddings": {**m.origins, "read": EMBEDDINGS_READ}},
        "validation": {"model": checked["model"], "recalibration": checked["recalibration"],
                       "probe": checked["probe"], "fold_plan": fold_plan,
                       "read": "out of fold: each item's P comes from a fit on the other folds; the folds keep "
                               "the same file, near-duplicates and (where possible) groups together"},
        "settings": settings, "extractor": m.extractor, "trained_on": trained_on, "created_utc": created,
    }
    return Adapted(probe, recal, summary, plan.folds)


def _sigmoid(z) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=np.float64)))

