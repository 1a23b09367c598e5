"""How often is the model wrong on *my* material? A labelled folder -> scores -> metrics.

    DIR/real/phone/*.jpg, DIR/ai/midjourney-v7/*.png, ...   (or a CSV: path,label[,group])
      -> `collect_folder` / `read_labels`: items (path, label, group)
      -> `score`: batched verdict-only forward passes (no explanation), unreadable files kept as rows;
         each row also keeps the raw logit (for the likelihood ratios) and perceptual hashes (folds)
      -> `compute_metrics`: scikit-learn metrics, bootstrap intervals, per-group table, base rates
      -> `write_scores_csv`, `write_metrics_json`

Every number is computed from the scores alone, so `compute_metrics` on scores.csv re-creates
metrics.json. The PDF and the command line live in `evaluation_report` (they draw pictures).
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.stats import binomtest
from sklearn.calibration import calibration_curve
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score, brier_score_loss,
                             confusion_matrix, log_loss, recall_score, roc_auc_score, roc_curve)
from tqdm import tqdm

from ..inputs.images import ACCEPTED_EXTENSIONS, load_image
from ..core.errors import InputError
from ..model import capture
from ..model.loading import sha256_or_blank
from ..core.preprocess import crop_input
from ..core.untrusted import printable, spreadsheet_safe
from ..core.verdict import THRESHOLD, verdict_for

# Folder names (any case) -> label. 1 = AI-generated, the positive class throughout.
CLASS_FOLDERS = {"real": 0, "ai": 1, "fake": 1, "generated": 1}
LABEL_WORDS = {"real": 0, "0": 0, "ai": 1, "fake": 1, "generated": 1, "ai-generated": 1, "1": 1}
LABEL_NAMES = {0: "real", 1: "ai"}
SCORES_FIELDS = ("path", "sha256", "label", "group", "fake_probability", "verdict", "error",
                 "logit", "fold", "log10_lr", "lr_verbal")  # the last three: out-of-fold likelihood ratios
NO_GROUP = "(no group)"        # CSV rows without a group column
MIN_PER_CLASS = 10             # below this per class, intervals are flagged unreliable
ECE_BINS = 10
N_BOOTSTRAP = 1000


@dataclass(frozen=True)
class Item:
    path: Path          # where to read it
    name: str           # how to show it: relative to DIR (or as written in the CSV)
    label: int          # 1 AI-generated, 0 real
    group: str


@dataclass
class Collected:
    items: list[Item]
    skipped: list[dict] = field(default_factory=list)       # {"path", "reason"}: not images, not scored
    empty_groups: list[str] = field(default_factory=list)   # folders under a class folder with no images


# -- finding the labelled images ---------------------------------------------------------------

def collect_folder(root: str | os.PathLike) -> Collected:
    """DIR with real/ and ai/ (or fake/, generated/); sub-folders below them are groups.

    A file directly inside a class folder belongs to the group named like that folder
    ("real", "fake"); `ai/midjourney/v7/x.png` belongs to "midjourney/v7". Hidden entries are skipped.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"No folder at {root}. Give a folder holding real/ and ai/ sub-folders, "
                         "or --labels FILE.csv.")
    out = Collected([])
    classes = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and entry.name.lower() in CLASS_FOLDERS:
            classes.append(entry)
        else:
            out.skipped.append({"path": entry.name, "reason": "not a class folder (real/, ai/, fake/ or generated/)"
                                if entry.is_dir() else "outside the class folders"})
    if not classes:
        raise InputError(f"{root} has no real/ or ai/ folder (fake/ and generated/ also count as AI). "
                         "Put real images in real/ and AI-generated ones in ai/, with optional sub-folders "
                         "as groups, or give --labels FILE.csv with path,label[,group] rows.")
    for folder in classes:
        label = CLASS_FOLDERS[folder.name.lower()]
        for here, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            relative = Path(here).relative_to(folder).as_posix()
            group = folder.name if relative == "." else relative
            images = 0
            for name in sorted(f for f in files if not f.startswith(".")):
                path = Path(here, name)
                shown = path.relative_to(root).as_posix()
                if name.lower().endswith(ACCEPTED_EXTENSIONS):
                    out.items.append(Item(path, shown, label, group))
                    images += 1
                else:
                    out.skipped.append({"path": shown, "reason": "not an image type this tool reads "
                                        f"({', '.join(ACCEPTED_EXTENSIONS)})"})
            if not images and not dirs:
                out.empty_groups.append(Path(here).relative_to(root).as_posix())
    return out


def read_labels(csv_path: str | os.PathLike, base: str | os.PathLike | None = None) -> Collected:
    """A CSV of path,label[,group] rows (a header row is optional); relative paths are read from `base`
    (default: the CSV's folder). Labels: real/0, ai/fake/generated/ai-generated/1."""
    csv_path = Path(csv_path)
    base = Path(base) if base is not None else csv_path.parent
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Could not read the labels file {csv_path} ({exc}). Give a UTF-8 CSV "
                         "with path,label[,group] rows.") from None
    out = Collected([])
    rows = [r for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["path", "label"]:
        rows = rows[1:]
        start = 2
    else:
        start = 1
    for number, row in enumerate(rows, start=start):
        cells = [c.strip() for c in row]
        if len(cells) < 2 or not cells[0]:
            raise InputError(f"{csv_path.name} row {number}: expected path,label[,group], got {row!r}.")
        label = LABEL_WORDS.get(cells[1].lower())
        if label is None:
            raise InputError(f"{csv_path.name} row {number}: label {cells[1]!r} is not one of "
                             f"{', '.join(LABEL_WORDS)}. Use 'real' or 'ai'.")
        group = cells[2] if len(cells) > 2 and cells[2] else NO_GROUP
        path = Path(cells[0]).expanduser()
        out.items.append(Item(path if path.is_absolute() else base / path, cells[0], label, group))
    if not out.items:
        raise InputError(f"{csv_path.name} lists no images. Give one path,label[,group] row per image.")
    return out


def from_labelled(pairs, source: str = "the list") -> Collected:
    """(path, label[, name[, group]]) tuples -> Collected, the same labels as a CSV (a case's
    marked items, for example)."""
    out = Collected([])
    for n, pair in enumerate(pairs, 1):
        path, word = Path(pair[0]), str(pair[1])
        label = LABEL_WORDS.get(word.lower())
        if label is None:
            raise InputError(f"{source} entry {n}: label {word!r} is not one of {', '.join(LABEL_WORDS)}.")
        name = pair[2] if len(pair) > 2 else str(path)
        group = pair[3] if len(pair) > 3 else NO_GROUP
        out.items.append(Item(path, name, label, group))
    if not out.items:
        raise InputError(f"{source} has no items with a known truth: mark some first (real or ai).")
    return out


# -- scores ------------------------------------------------------------------------------------

def score(detector, items: list[Item], batch_size: int = 8, progress: bool = True) -> list[dict]:
    """One scores.csv row per item: P(AI-generated) and verdict, or the reason it could not be read.

    Only the verdict: each file is decoded once, centre-cropped as the detector does, and a batch
    goes through one plain forward pass (no attention kept, no explanation). Each row also keeps the
    raw logit and, not written to scores.csv, the picture's perceptual hashes (for `folds.plan`).
    """
    from .folds import perceptual_hashes
    rows = []
    with tqdm(total=len(items), unit="img", desc="scoring", file=sys.stderr, dynamic_ncols=True,
              disable=not progress) as bar:
        for start in range(0, len(items), batch_size):
            crops, scored = [], []
            for item in items[start:start + batch_size]:
                row = {"path": item.name, "sha256": "", "label": LABEL_NAMES[item.label], "group": item.group,
                       "fake_probability": None, "verdict": "", "error": "", "logit": None, "fold": None,
                       "log10_lr": None, "lr_verbal": ""}
                try:
                    rgb, info = load_image(item.path, name=item.name)
                    row["sha256"] = info.sha256
                    crops.append(crop_input(rgb, detector.transform)[0])
                    rgb.thumbnail((512, 512))  # not needed whole any more: shrunk in place, no 12 MP copy to hash
                    row["phash"], row["dhash"] = perceptual_hashes(rgb)
                    scored.append(row)
                except InputError as exc:
                    row["error"] = str(exc)
                    row["sha256"] = sha256_or_blank(item.path)
                    tqdm.write(f"skipped {printable(item.name)}: {printable(exc)}", file=sys.stderr)
                rows.append(row)
            if crops:
                # the logit itself for the LRs (logit(P) is lost where a float32 sigmoid saturates, |logit| > 17);
                # P exactly as `detector.probabilities` gives it
                logits = capture.forward(detector.model, detector.pixels(crops)).logits.float().cpu()  # (B,)
                probabilities = torch.sigmoid(logits).numpy().astype(np.float64)
                if detector.calibration is not None:
                    probabilities = detector.calibration.apply(probabilities)
                for row, logit, p in zip(scored, logits.numpy().astype(np.float64), probabilities):
                    row["logit"], row["fake_probability"] = float(logit), float(p)
                    row["verdict"] = verdict_for(float(p), detector.inconclusive_margin)
            bar.update(len(items[start:start + batch_size]))
    return rows


def apply_calibration(rows: list[dict], calibration, margin: float) -> list[dict]:
    """Rows scored through a calibration map: fake_probability and verdict calibrated, the model's
    own P kept as raw_fake_probability (to check a map on images it was not fitted on)."""
    out = []
    for row in rows:
        raw = row["fake_probability"]
        if raw is None:
            out.append({**row, "raw_fake_probability": None})
        else:
            p = float(calibration.apply(raw))
            out.append({**row, "fake_probability": p, "verdict": verdict_for(p, margin), "raw_fake_probability": raw})
    return out


def write_scores_csv(rows: list[dict], path: Path) -> Path:
    """Probabilities written with repr(): exact, so metrics recomputed from this file match."""
    fields = SCORES_FIELDS + (("raw_fake_probability",) if rows and "raw_fake_probability" in rows[0] else ())
    exact = lambda v: "" if v is None else repr(v)  # noqa: E731
    numbers = ("fake_probability", "raw_fake_probability", "logit", "log10_lr")
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, fields)
        out.writeheader()
        for row in rows:
            cells = {k: spreadsheet_safe(row.get(k)) for k in fields}
            cells.update({k: exact(row.get(k)) for k in numbers if k in fields})
            cells["fold"] = "" if row.get("fold") is None else str(row["fold"])
            out.writerow(cells)
    return path


def read_scores_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key in ("fake_probability", "raw_fake_probability", "logit", "log10_lr"):
            if key in row:
                row[key] = float(row[key]) if row[key] else None
        if "fold" in row:
            row["fold"] = int(row["fold"]) if row["fold"] else None
    return rows


def scored_arrays(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """-> labels (n,) int, P(AI-generated) (n,) float64, groups: the rows that have a score."""
    ok = [r for r in rows if r["fake_probability"] is not None]
    y = np.array([LABEL_WORDS[r["label"]] for r in ok], dtype=int)
    p = np.array([r["fake_probability"] for r in ok], dtype=np.float64)
    return y, p, [r["group"] for r in ok]


# -- metrics -----------------------------------------------------------------------------------

def _num(x) -> float | None:
    return None if x is None else float(x)


def _rate_ci(k: int, n: int) -> list[float] | None:
    """Exact (Clopper-Pearson) 95% interval of a rate k/n."""
    if n == 0:
        return None
    ci = binomtest(int(k), int(n)).proportion_ci(0.95, method="exact")
    return [float(ci.low), float(ci.high)]


def at_cut_off(y: np.ndarray, p: np.ndarray, cut_off: float) -> dict:
    """Decisions with P >= cut_off called AI-generated: the confusion counts and rates, with counts."""
    pred = (p >= cut_off).astype(int)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, pred, labels=[0, 1]).ravel())
    n_real, n_ai = tn + fp, fn + tp
    tnr = recall_score(y, pred, pos_label=0, zero_division=np.nan) if n_real else None
    return {
        "cut_off": float(cut_off), "rule": f"P(AI-generated) >= {cut_off:.6g} is called AI-generated",
        "n": int(len(y)),
        "accuracy": _num(accuracy_score(y, pred)) if len(y) else None,
        "balanced_accuracy": _num(balanced_accuracy_score(y, pred)) if n_real and n_ai else None,
        "tpr": _num(recall_score(y, pred, pos_label=1, zero_division=np.nan)) if n_ai else None,
        "tpr_ci95": _rate_ci(tp, n_ai),
        "tnr": _num(tnr),
        "fpr": fp / n_real if n_real else None,  # not 1 - TNR: that is off by float rounding (0.05 -> 0.0500...04)
        "fpr_ci95": _rate_ci(fp, n_real),
        "confusion": {"real_called_real": tn, "real_called_ai": fp, "ai_called_real": fn, "ai_called_ai": tp},
    }


def _target_fpr(y, p, target: float) -> dict:
    """The lowest cut-off whose false-positive rate on these real images is at most `target`."""
    n_real = int((y == 0).sum())
    out = {"target_fpr": target}
    fpr, tpr, thresholds = roc_curve(y, p, drop_intermediate=False)
    i = int(np.flatnonzero(fpr <= target).max())
    if i == 0:  # only the "flag nothing" point meets it (every real image scores at the top)
        out.update(at_cut_off(y, p, np.inf), cut_off=None, rule="nothing is called AI-generated",
                   note=f"no cut-off keeps the false-positive rate at or below {target:g}: the highest-scoring "
                        "image is real, so nothing can be flagged")
    else:
        out.update(at_cut_off(y, p, float(thresholds[i])))
    if target * n_real < 1:
        out["resolution_note"] = (f"with {n_real} real images the false-positive rate moves in steps of "
                                  f"{1 / n_real:.3g}; a target of {target:g} cannot be checked on this sample "
                                  f"(0 false positives out of {n_real} is still compatible with a true rate "
                                  f"up to {3 / n_real:.2g}, the rule of three)")
    return out


def _ece(y, p, n_bins: int = ECE_BINS) -> dict:
    """Expected calibration error over equal-width bins of P (sklearn's `calibration_curve` bins)."""
    fraction_ai, mean_p = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], p), minlength=n_bins)  # the same binning as sklearn
    nonempty = np.flatnonzero(counts)
    bins = [{"lower": float(edges[b]), "upper": float(edges[b + 1]), "n": int(counts[b]),
             "mean_fake_probability": float(mp), "fraction_ai": float(fa)}
            for b, mp, fa in zip(nonempty, mean_p, fraction_ai)]
    ece = float(np.sum(counts[nonempty] / len(p) * np.abs(fraction_ai - mean_p)))
    return {"expected_calibration_error": ece, "n_bins": n_bins, "binning": "equal width on [0, 1]",
            "bins": bins, "brier_score": float(brier_score_loss(y, p, labels=[0, 1])),
            "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]))}


def _bootstrap(y, p, n_resamples: int, seed: int) -> dict:
    """Stratified percentile bootstrap: each class resampled with replacement at its own size, so
    every resample has both classes and the class mix of the sample."""
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(y == c) for c in (0, 1)]
    aucs, accs = [], []
    both = all(len(ix) for ix in by_class)
    for _ in range(n_resamples):
        ix = np.concatenate([rng.choice(c, size=len(c), replace=True) for c in by_class if len(c)])
        accs.append(accuracy_score(y[ix], p[ix] >= THRESHOLD))
        if both:
            aucs.append(roc_auc_score(y[ix], p[ix]))
    ci = lambda v: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if v else None  # noqa: E731
    return {"roc_auc_ci95": ci(aucs), "accuracy_at_0_5_ci95": ci(accs)}


def _prevalence(prevalence: float, decision: dict, name: str) -> dict:
    """Positive predictive value at the analyst's base rate, and the sentence that says it."""
    tpr, fpr = decision["tpr"], decision["fpr"]
    out = {"prevalence": prevalence, "decision": name}
    if tpr is None or fpr is None:
        return {**out, "ppv": None, "statement": "needs both real and AI-generated images to estimate"}
    per = 10_000
    n_ai = prevalence * per
    n_real = per - n_ai
    ppv = lambda t, f: (t * n_ai) / (t * n_ai + f * n_real) if t * n_ai + f * n_real > 0 else None  # noqa: E731
    value = ppv(tpr, fpr)
    worst = ppv(decision["tpr_ci95"][0], decision["fpr_ci95"][1])  # fewest hits, most false alarms
    out.update(ppv=value, ppv_pessimistic=worst, per_images=per)
    flagged_ai, flagged_real = tpr * n_ai, fpr * n_real
    text = (f"If {100 * prevalence:.3g}% of the images you check are AI-generated ({n_ai:,.0f} in {per:,}), then at "
            f"{name} this model (TPR {tpr:.1%}, FPR {fpr:.1%} on your data) flags about {flagged_ai:,.0f} of the "
            f"{n_ai:,.0f} AI-generated images and {flagged_real:,.0f} of the {n_real:,.0f} real ones: ")
    if value is None:
        text += "it flags nothing."
    else:
        text += f"{value:.0%} of the images it flags are AI-generated"
        text += (f", {1 - value:.0%} are false alarms." if value < 1 else ".")
        if worst is not None and worst < value - 0.005:
            text += (f" With the 95% intervals of TPR and FPR at their worst, that could be as low as "
                     f"{worst:.0%}.")
    out["statement"] = text
    return out


def group_table(y, p, groups, empty_groups=()) -> list[dict]:
    """Per group: n, class counts, accuracy at 0.5, mean P, ROC AUC when both classes are present."""
    groups = np.asarray(groups, dtype=object)
    out = []
    for g in sorted(set(groups.tolist())):
        m = groups == g
        yg, pg = y[m], p[m]
        both = 0 < yg.sum() < len(yg)
        out.append({"group": g, "n": int(m.sum()), "n_real": int((yg == 0).sum()), "n_ai": int(yg.sum()),
                    "accuracy_at_0_5": float(accuracy_score(yg, pg >= THRESHOLD)),
                    "mean_fake_probability": float(pg.mean()),
                    "roc_auc": float(roc_auc_score(yg, pg)) if both else None,
                    "note": "" if both else ("only AI-generated: accuracy = TPR" if yg.all()
                                             else "only real: accuracy = TNR")})
    for g in empty_groups:
        out.append({"group": g, "n": 0, "n_real": 0, "n_ai": 0, "accuracy_at_0_5": None,
                    "mean_fake_probability": None, "roc_auc": None, "note": "no images in this folder"})
    return out


def compute_metrics(y, p, groups, *, inconclusive_margin: float, target_fpr: float = 0.05,
                    prevalence: float = 0.01, n_bootstrap: int = N_BOOTSTRAP, seed: int = 0,
                    empty_groups=()) -> dict:
    """Every number of metrics.json from labels (1 = AI), P(AI-generated) and groups of scored images."""
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=np.float64)
    n_real, n_ai = int((y == 0).sum()), int((y == 1).sum())
    both = n_real > 0 and n_ai > 0
    warnings = []
    if not len(y):
        raise InputError("No image could be scored, so there is nothing to measure. Check the errors "
                         "in scores.csv.")
    if not both:
        missing = "AI-generated" if n_ai == 0 else "real"
        warnings.append(f"Only {'real' if n_ai == 0 else 'AI-generated'} images were scored: ROC AUC, average "
                        f"precision, balanced accuracy, the target-FPR cut-off and the calibration are undefined. "
                        f"Add {missing} images to measure them.")
    small = min(n_real, n_ai) < MIN_PER_CLASS
    if small:
        warnings.append(f"Fewer than {MIN_PER_CLASS} images in a class ({n_real} real, {n_ai} AI-generated): "
                        "the 95% intervals are unreliable and every rate is coarse.")
    undefined = "undefined: needs both real and AI-generated images"

    verdicts = np.array([verdict_for(v, inconclusive_margin) for v in p])
    conclusive = verdicts != "inconclusive"
    yc, called_ai = y[conclusive], (verdicts[conclusive] == "ai-generated").astype(int)
    boot = _bootstrap(y, p, n_bootstrap, seed)
    decision = at_cut_off(y, p, THRESHOLD)
    metrics = {
        "counts": {"scored": int(len(y)), "real": n_real, "ai_generated": n_ai},
        "positive_class": "ai (AI-generated); P is the model's P(AI-generated)",
        "ranking": {
            "roc_auc": float(roc_auc_score(y, p)) if both else None,
            "roc_auc_ci95": boot["roc_auc_ci95"],
            "average_precision": float(average_precision_score(y, p)) if both else None,
            "average_precision_baseline": n_ai / len(y),
            **({} if both else {"note": undefined}),
        },
        "at_threshold_0_5": {**decision, "accuracy_ci95": boot["accuracy_at_0_5_ci95"]},
        "inconclusive_band": {
            "margin": inconclusive_margin, "band": [THRESHOLD - inconclusive_margin, THRESHOLD + inconclusive_margin],
            "n_inconclusive": int((~conclusive).sum()), "share_inconclusive": float((~conclusive).mean()),
            "n_conclusive": int(conclusive.sum()),
            "accuracy_on_conclusive": float(accuracy_score(yc, called_ai)) if conclusive.any() else None,
        },
        "at_target_fpr": _target_fpr(y, p, target_fpr) if both else {"target_fpr": target_fpr, "note": undefined},
        "calibration": _ece(y, p),
        "groups": group_table(y, p, groups, empty_groups),
        "bootstrap": {"resamples": n_bootstrap, "seed": seed, "method": "stratified percentile, 95%",
                      "intervals_reliable": not small and both,
                      **({"note": warnings[-1]} if small else {})},
    }
    metrics["prevalence"] = {"at_threshold_0_5": _prevalence(prevalence, decision, "cut-off 0.5")}
    if both and metrics["at_target_fpr"].get("cut_off") is not None:
        t = metrics["at_target_fpr"]
        metrics["prevalence"]["at_target_fpr"] = _prevalence(prevalence, t, f"cut-off {t['cut_off']:.4g}")
    if empty_groups:
        warnings.append(f"{len(empty_groups)} group folder(s) hold no images: {', '.join(empty_groups)}.")
    metrics["warnings"] = warnings
    return metrics


def duplicates(rows: list[dict]) -> dict:
    """Files with the same sha256: across classes (a labelling error, or the same file counted as
    both) and within a class (counted twice)."""
    by_hash: dict[str, list[dict]] = {}
    for r in rows:
        if r["sha256"]:
            by_hash.setdefault(r["sha256"], []).append(r)
    across, within = [], []
    for sha, rs in sorted(by_hash.items()):
        if len(rs) < 2:
            continue
        labels = {r["label"] for r in rs}
        entry = {"sha256": sha, "paths": [r["path"] for r in rs], "labels": [r["label"] for r in rs]}
        (across if len(labels) > 1 else within).append(entry)
    return {"across_classes": across, "within_class": within}


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_metrics_json(metrics: dict, path: Path) -> Path:
    path.write_text(json.dumps(metrics, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    return path
