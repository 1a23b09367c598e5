"""`forensics evaluate DIR --out OUT`: the run that writes its four outputs (options: cli/evaluate.py).

The numbers come from `evaluate` (scores -> metrics), `likelihood_ratios` (out-of-fold LRs) and
`calibration` (the map and the LR calibrator); this module runs them in order and writes scores.csv,
metrics.json and calibration.json. The report.pdf is drawn by `evaluation_pdf` (`worst_misses` is
re-exported from there).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import platform
import shlex
import sys
import time
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np
import torch
import transformers

# `evaluate` (and with it scikit-learn, ~0.5 s to import) is imported inside the functions that use it,
# so `analyze` and the app, which import this module for the CLI parser, do not pay for it.
from ..analysis.detector import Detector
from ..core.errors import InputError, ModelUnavailableError
from .._version import __version__
from ..core import calibration
from .pdf import interval_text, number_text, worst_misses, write_pdf  # noqa: F401 - worst_misses re-exported
from ..model.loading import DEMO_WARNING
from ..core.untrusted import printable
from ..core.verdict import THRESHOLD

BOOTSTRAP_RESAMPLES = 1000  # evaluate.N_BOOTSTRAP, spelled out for the reason above
OUTPUTS = ("scores.csv", "metrics.json", "report.pdf", "calibration.json")

def reproduce_command(args) -> str:
    """The command that re-creates these outputs (output folder left as OUT)."""
    cmd = ["python", "-m", "forensics", "evaluate", *([str(args.dir)] if args.dir else []), "--out", "OUT"]
    if getattr(args, "case", None):
        cmd += ["--case", args.case]
    if args.labels:
        cmd += ["--labels", str(args.labels)]
    cmd += ["--demo"] if args.demo else (["--model", args.model] if args.model else [])
    if args.preprocessing != "training":
        cmd += ["--preprocessing", args.preprocessing]
    if args.calibration:
        cmd += ["--calibration", str(args.calibration)]
    cmd += ["--target-fpr", repr(args.target_fpr), "--prevalence", repr(args.prevalence),
            "--inconclusive-margin", repr(args.inconclusive_margin),
            "--calibration-method", args.calibration_method, "--bootstrap", str(args.bootstrap),
            "--seed", str(args.seed)]
    return shlex.join(cmd)


def provenance(det: Detector) -> dict:
    return {"model": {**dataclasses.asdict(det.model_info), "label": det.model_info.label},
            "preprocessing": det.transform.describe(),
            "software": {"forensics": __version__, "python": platform.python_version(), "torch": torch.__version__,
                         "transformers": transformers.__version__, "scikit-learn": package_version("scikit-learn"),
                         "numpy": np.__version__}}


def run(args, labelled: list | None = None) -> int:
    """The `evaluate` command: 0 when images were scored, 1 when nothing could be measured.
    `labelled`: (path, label, name) tuples to score instead of args.dir (a case's marked items)."""
    from . import metrics as evaluate
    try:
        if not 0.0 <= args.inconclusive_margin < 0.5:
            raise InputError(f"--inconclusive-margin must be in [0, 0.5), got {args.inconclusive_margin}")
        if args.out.exists() and not args.out.is_dir():
            raise InputError(f"--out {args.out} exists and is not a folder. Choose a new folder.")
        clash = [name for name in OUTPUTS if (args.out / name).exists()]
        if clash:
            raise InputError(f"{args.out} already holds {', '.join(clash)}; evaluation results are never "
                             "overwritten. Choose a new --out folder.")
        found = (evaluate.from_labelled(labelled, f"case {args.case}") if labelled is not None else
                 evaluate.read_labels(args.labels, args.dir) if args.labels else evaluate.collect_folder(args.dir))
        applied = calibration.load(args.calibration) if args.calibration else None
        det = (Detector.demo(device=args.device, inconclusive_margin=args.inconclusive_margin) if args.demo else
               Detector.from_pretrained(args.model, device=args.device, preprocessing=args.preprocessing,
                                        inconclusive_margin=args.inconclusive_margin))
    except (InputError, ModelUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if det.model_info.demo:
        print(f"warning: {DEMO_WARNING.lower()}", file=sys.stderr)
    for s in found.skipped:
        print(f"not scored: {printable(s['path'])}: {s['reason']}", file=sys.stderr)

    started = time.perf_counter()
    rows = evaluate.score(det, found.items, args.batch_size)
    seconds = time.perf_counter() - started
    if applied is not None:  # metrics on the calibrated P; a new map is still fitted on the raw one
        rows = evaluate.apply_calibration(rows, applied, args.inconclusive_margin)
    source = f"case {args.case}" if labelled is not None else str(args.labels or args.dir)
    from .likelihood_ratios import out_of_fold  # lir is imported only when LRs are fitted
    validated, lr_section = out_of_fold(rows, seed=args.seed, source=source)  # on the raw logits, always
    args.out.mkdir(parents=True, exist_ok=True)
    scores_path = evaluate.write_scores_csv(rows, args.out / "scores.csv")
    scores_sha = evaluate.file_sha256(scores_path)
    y, p, groups = evaluate.scored_arrays(rows)
    try:
        metrics = evaluate.compute_metrics(y, p, groups, inconclusive_margin=args.inconclusive_margin,
                                           target_fpr=args.target_fpr, prevalence=args.prevalence,
                                           n_bootstrap=args.bootstrap, seed=args.seed,
                                           empty_groups=found.empty_groups)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    unreadable = [{"path": r["path"], "sha256": r["sha256"], "error": r["error"]} for r in rows if r["error"]]
    dups = evaluate.duplicates(rows)
    if dups["across_classes"]:
        metrics["warnings"].append(f"{len(dups['across_classes'])} file(s) appear in both classes (same sha256): "
                                   "see data.duplicates.across_classes; fix the labels.")
    if unreadable:
        metrics["warnings"].append(f"{len(unreadable)} file(s) could not be read and are not in the metrics: "
                                   "see data.unreadable.")
    if det.model_info.demo:
        metrics["warnings"].insert(0, DEMO_WARNING + ": these numbers say nothing about the real model.")
    metrics["probabilities"] = {"scored": "raw model output, sigmoid(logit)" if applied is None else
                                "calibrated by the file in calibration_applied (raw_fake_probability in scores.csv)",
                                "calibration_applied": None if applied is None else applied.describe()}
    if applied is not None:
        metrics["warnings"] += calibration.mismatch(applied, det.model_info)
    raw = p if applied is None else np.array([r["raw_fake_probability"] for r in rows
                                              if r["fake_probability"] is not None])

    cal_info = None
    if metrics["counts"]["real"] and metrics["counts"]["ai_generated"]:
        fitted = calibration.fit(raw, y, args.calibration_method, fitted_on={
            "source": source, "scores_csv_sha256": scores_sha, "created_utc": created,
            "model": metrics_model(det), "preprocessing": det.transform.name})
        fitted = dataclasses.replace(fitted, likelihood=validated.calibrator, likelihood_absent=validated.reason)
        cal = calibration.save(fitted, args.out / "calibration.json")
        after = evaluate.compute_metrics(y, cal.apply(raw), groups, inconclusive_margin=args.inconclusive_margin,
                                         n_bootstrap=1, seed=args.seed)["calibration"]
        cal_info = {"file": "calibration.json", "file_sha256": cal.sha256, "method": cal.method,
                    "parameters": cal.parameters,
                    "expected_calibration_error_after_in_sample": after["expected_calibration_error"],
                    "note": "measured on the images it was fitted on, so optimistic; check it with a second "
                            "labelled set: analyze --calibration, or evaluate another folder"}
    else:
        metrics["warnings"].append("calibration.json was not written: a calibration needs both classes.")
    if validated.calibrator is None:
        metrics["warnings"].append(validated.reason[:1].upper() + validated.reason[1:] + ".")
    lr_section["file"] = "calibration.json" if validated.calibrator is not None and cal_info else None

    metrics = {
        "title": "Evaluation of the detector on labelled images",
        **metrics,
        "calibration_map": cal_info,
        "likelihood_ratio": lr_section,
        "settings": {"target_fpr": args.target_fpr, "prevalence": args.prevalence,
                     "inconclusive_margin": args.inconclusive_margin, "threshold": THRESHOLD,
                     "calibration_method": args.calibration_method, "batch_size": args.batch_size},
        "data": {"source": source, "files_listed": len(found.items), "unreadable": unreadable,
                 "not_scored": found.skipped, "empty_groups": found.empty_groups, "duplicates": dups,
                 "scores_csv_sha256": scores_sha},
        **provenance(det),
        "timing": {"seconds_scoring": round(seconds, 3), "images": len(found.items),
                   "seconds_per_image": round(seconds / max(1, len(found.items)), 4)},
        "created_utc": created,
        "reproduce": reproduce_command(args),
    }
    evaluate.write_metrics_json(metrics, args.out / "metrics.json")
    write_pdf(args.out / "report.pdf", metrics, rows, det, found)
    _print_summary(metrics, args.out)
    return 0


def metrics_model(det: Detector) -> dict:
    m = det.model_info
    return {"source": m.source, "revision": m.revision, "weights_sha256": m.weights_sha256, "demo": m.demo}


def _print_summary(m: dict, out: Path) -> None:
    c, r, d = m["counts"], m["ranking"], m["at_threshold_0_5"]
    print(f"Scored {c['scored']} image(s): {c['real']} real, {c['ai_generated']} AI-generated "
          f"({len(m['data']['unreadable'])} unreadable) at {m['timing']['seconds_per_image']:.3f} s/image.")
    print(f"ROC AUC {number_text(r['roc_auc'])}{interval_text(r['roc_auc_ci95'])}; accuracy at 0.5 {number_text(d['accuracy'])}"
          f"{interval_text(d['accuracy_ci95'])}; TPR {number_text(d['tpr'])}, FPR {number_text(d['fpr'])}.")
    t = m["at_target_fpr"]
    if t.get("cut_off") is not None:
        print(f"Cut-off for FPR <= {t['target_fpr']:g}: {t['cut_off']:.4f} (FPR {t['fpr']:.3f}, TPR {t['tpr']:.3f}).")
    print(m["prevalence"]["at_threshold_0_5"]["statement"])
    lr = m["likelihood_ratio"]
    if lr.get("cllr") is not None:
        low, high = lr["log10_bounds"]
        print(f"Likelihood ratios (out of fold, {lr['folds']} folds): Cllr {lr['cllr']:.3f} (cllr_min "
              f"{lr['cllr_min']:.3f}, cllr_cal {lr['cllr_cal']:.3f}); ELUB bounds log10 LR {low:+.2f} to {high:+.2f}.")
    for w in m["warnings"]:
        print(f"warning: {w}")
    print(f"Outputs: {', '.join(str(out / n) for n in OUTPUTS if (out / n).exists())}")
