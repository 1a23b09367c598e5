"""`python -m forensics evaluate DIR --out OUT`: the command, and the report.pdf it writes.

The numbers come from `evaluate` (scores -> metrics) and `calibration` (the map); this module
runs them in order, writes the four outputs and draws the PDF: a summary page, the curves
(ROC, precision-recall, reliability, score distributions), the confusion matrices and per-group
table, and the worst misses with their heatmaps (the only images that get an explanation).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import platform
import shlex
import sys
import textwrap
import time
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np
import torch
import transformers
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
# `evaluate` (and with it scikit-learn, ~0.5 s to import) is imported inside the functions that use it,
# so `analyze` and the app, which import this module for the CLI parser, do not pay for it.
from . import Detector, InputError, ModelUnavailableError, __version__, calibration, render
from .model import DEMO_WARNING, ENV_MODEL, PINNED_REPO
from .verdict import DEFAULT_INCONCLUSIVE_MARGIN, THRESHOLD

BOOTSTRAP_RESAMPLES = 1000  # evaluate.N_BOOTSTRAP, spelled out for the reason above
OUTPUTS = ("scores.csv", "metrics.json", "report.pdf", "calibration.json")
WORST_MISSES = 6

EPILOG = """\
DIR layout:
  DIR/real/...        real (camera or non-AI) images; sub-folders are groups, e.g. real/phone/
  DIR/ai/...          AI-generated images (fake/ and generated/ also count), e.g. ai/midjourney-v7/
  or --labels FILE.csv with rows path,label[,group] (paths relative to DIR; label real or ai)

outputs in --out (a new folder, or one without these files):
  scores.csv         path, sha256, label, group, fake_probability, verdict, error: one row per file
  metrics.json       every number with its counts and 95% intervals, the model and the command
  report.pdf         curves, reliability diagram, confusion matrices, groups, worst misses
  calibration.json   a map raw P -> calibrated P fitted on these scores, for analyze --calibration

examples:
  python -m forensics evaluate my-labelled/ --out eval-2026-11
  python -m forensics evaluate photos/ --labels labels.csv --out eval --target-fpr 0.01 --prevalence 0.05
  python -m forensics evaluate second-set/ --out check --calibration eval-2026-11/calibration.json
                                           # is a map fitted on one set right on another?
"""


def add_parser(commands) -> argparse.ArgumentParser:
    """The `evaluate` sub-command on the CLI's sub-parsers."""
    p = commands.add_parser(
        "evaluate", help="measure the model on your own labelled images; fit a calibration",
        description="Score a labelled folder (real/ and ai/) with the model and measure how often it is\n"
                    "wrong: ROC AUC, accuracy, error rates, calibration, per group, at your base rate.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", type=Path, metavar="DIR", help="folder with real/ and ai/ (or the base of --labels paths)")
    p.add_argument("--out", required=True, type=Path, metavar="OUT", help="folder for the four outputs")
    p.add_argument("--labels", type=Path, metavar="FILE.csv",
                   help="path,label[,group] rows instead of the real/ and ai/ folders")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="SOURCE",
                        help=f"local model folder or hub id (default: ${ENV_MODEL}, else the pinned {PINNED_REPO})")
    source.add_argument("--demo", action="store_true",
                        help="untrained demo weights, to try the command: the numbers mean nothing")
    p.add_argument("--preprocessing", choices=("training", "hub"), default="training",
                   help="input transform (default: training, the authors')")
    p.add_argument("--batch-size", type=_positive, default=8, metavar="N", help="images per forward pass (default: 8)")
    p.add_argument("--target-fpr", type=_fraction, default=0.05, metavar="F",
                   help="the false-positive rate you can accept; the report gives the cut-off that meets it "
                        "on your real images and the detection rate there (default: 0.05)")
    p.add_argument("--prevalence", type=_fraction, default=0.01, metavar="F",
                   help="the share of AI-generated images in what you receive, for the positive predictive "
                        "value (default: 0.01)")
    p.add_argument("--inconclusive-margin", type=float, default=DEFAULT_INCONCLUSIVE_MARGIN, metavar="M",
                   help=f"the verdict's inconclusive band 0.5 +/- M (default: {DEFAULT_INCONCLUSIVE_MARGIN})")
    p.add_argument("--calibration", type=Path, metavar="FILE",
                   help="score through an existing calibration.json (fitted on other images) to check it: "
                        "the metrics use the calibrated P, scores.csv keeps the raw P beside it")
    p.add_argument("--calibration-method", choices=calibration.METHODS, default="platt",
                   help="map fitted into calibration.json: platt (2 numbers, fine for small samples) or "
                        "isotonic (needs hundreds per class) (default: platt)")
    p.add_argument("--bootstrap", type=_positive, default=BOOTSTRAP_RESAMPLES, metavar="N",
                   help=f"bootstrap resamples for the 95%% intervals (default: {BOOTSTRAP_RESAMPLES})")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    p.add_argument("--device", default="auto", help="torch device (default: auto)")
    return p


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return int(text)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def reproduce_command(args) -> str:
    """The command that re-creates these outputs (output folder left as OUT)."""
    cmd = ["python", "-m", "forensics", "evaluate", str(args.dir), "--out", "OUT"]
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


def run(args) -> int:
    """The `evaluate` command: 0 when images were scored, 1 when nothing could be measured."""
    from . import evaluate
    try:
        if not 0.0 <= args.inconclusive_margin < 0.5:
            raise InputError(f"--inconclusive-margin must be in [0, 0.5), got {args.inconclusive_margin}")
        if args.out.exists() and not args.out.is_dir():
            raise InputError(f"--out {args.out} exists and is not a folder. Choose a new folder.")
        clash = [name for name in OUTPUTS if (args.out / name).exists()]
        if clash:
            raise InputError(f"{args.out} already holds {', '.join(clash)}; evaluation results are never "
                             "overwritten. Choose a new --out folder.")
        found = evaluate.read_labels(args.labels, args.dir) if args.labels else evaluate.collect_folder(args.dir)
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
        print(f"not scored: {evaluate._printable(s['path'])}: {s['reason']}", file=sys.stderr)

    started = time.perf_counter()
    rows = evaluate.score(det, found.items, args.batch_size)
    seconds = time.perf_counter() - started
    if applied is not None:  # metrics on the calibrated P; a new map is still fitted on the raw one
        rows = evaluate.apply_calibration(rows, applied, args.inconclusive_margin)
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
    source = str(args.labels or args.dir)
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

    metrics = {
        "title": "Evaluation of the detector on labelled images",
        **metrics,
        "calibration_map": cal_info,
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


def _fmt(x, spec=".3f", none="n/a") -> str:
    return none if x is None else format(x, spec)


def _ci(ci) -> str:
    return "" if not ci else f" (95% CI {ci[0]:.3f}\u2013{ci[1]:.3f})"


def _print_summary(m: dict, out: Path) -> None:
    c, r, d = m["counts"], m["ranking"], m["at_threshold_0_5"]
    print(f"Scored {c['scored']} image(s): {c['real']} real, {c['ai_generated']} AI-generated "
          f"({len(m['data']['unreadable'])} unreadable) at {m['timing']['seconds_per_image']:.3f} s/image.")
    print(f"ROC AUC {_fmt(r['roc_auc'])}{_ci(r['roc_auc_ci95'])}; accuracy at 0.5 {_fmt(d['accuracy'])}"
          f"{_ci(d['accuracy_ci95'])}; TPR {_fmt(d['tpr'])}, FPR {_fmt(d['fpr'])}.")
    t = m["at_target_fpr"]
    if t.get("cut_off") is not None:
        print(f"Cut-off for FPR <= {t['target_fpr']:g}: {t['cut_off']:.4f} (FPR {t['fpr']:.3f}, TPR {t['tpr']:.3f}).")
    print(m["prevalence"]["at_threshold_0_5"]["statement"])
    for w in m["warnings"]:
        print(f"warning: {w}")
    print(f"Outputs: {', '.join(str(out / n) for n in OUTPUTS if (out / n).exists())}")


# -- the PDF -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PageLayout:
    """A4 portrait, in inches."""
    width: float = 8.27
    height: float = 11.69
    margin: float = 0.6
    text_size: float = 8.5
    wrap: int = 118          # characters per line of body text at text_size


PAGE = PageLayout()
COLOURS = {"real": "#2b6cb0", "ai": "#c53030", "band": "#d69e2e", "cut": "#2f855a"}


def _page(title: str, demo: bool) -> Figure:
    fig = Figure(figsize=(PAGE.width, PAGE.height))
    fig.text(PAGE.margin / PAGE.width, 1 - 0.5 / PAGE.height, title, fontsize=14, fontweight="bold", va="top")
    if demo:
        fig.text(0.5, 1 - 0.85 / PAGE.height, DEMO_WARNING.upper() + ": THESE NUMBERS MEAN NOTHING",
                 ha="center", va="top", fontsize=10, fontweight="bold", color="white",
                 bbox={"facecolor": "#c53030", "edgecolor": "none", "pad": 4})
    return fig


def _paragraphs(fig: Figure, top: float, lines: list[tuple[str, dict]]) -> float:
    """Write wrapped paragraphs from `top` (inches from the page top); returns the next free top."""
    x = PAGE.margin / PAGE.width
    for text, style in lines:
        size = style.get("fontsize", PAGE.text_size)
        # Monospace glyphs are about 0.6 em wide; proportional text fits PAGE.wrap at text_size.
        chars = (int((PAGE.width - 2 * PAGE.margin) * 72 / (0.6 * size)) if style.get("family") == "monospace"
                 else int(PAGE.wrap * PAGE.text_size / size * (0.88 if style.get("fontweight") == "bold" else 1)))
        wrapped = "\n".join(textwrap.fill(t, chars, break_long_words=True) for t in text.split("\n"))
        fig.text(x, 1 - top / PAGE.height, wrapped, va="top", **{"fontsize": size, **style})
        top += (wrapped.count("\n") + 1) * size * 1.45 / 72 + 0.08
    return top


def _summary_page(m: dict) -> Figure:
    demo = m["model"]["demo"]
    fig = _page("How often is the model wrong on these images?", demo)
    c, r, d, b, t = m["counts"], m["ranking"], m["at_threshold_0_5"], m["inconclusive_band"], m["at_target_fpr"]
    cal = m["calibration"]
    lines = [
        (f"{c['scored']} images scored: {c['real']} real, {c['ai_generated']} AI-generated, "
         f"in {len([g for g in m['groups'] if g['n']])} group(s); {len(m['data']['unreadable'])} unreadable, "
         f"{len(m['data']['not_scored'])} other file(s) not scored. Source: {m['data']['source']}.", {}),
        *([(f"Every P below is CALIBRATED: {m['probabilities']['calibration_applied']['label']}. The raw model P "
            "is in scores.csv (raw_fake_probability).", {"fontweight": "bold", "color": "#975a16"})]
          if m["probabilities"]["calibration_applied"] else []),
        ("Ranking (threshold-free)", {"fontweight": "bold", "fontsize": 10}),
        (f"ROC AUC {_fmt(r['roc_auc'])}{_ci(r['roc_auc_ci95'])}: the chance that a random AI-generated image scores "
         f"above a random real one. Average precision {_fmt(r['average_precision'])} "
         f"(a random ranking scores {r['average_precision_baseline']:.3f}). {r.get('note', '')}", {}),
        ("At the authors' cut-off 0.5", {"fontweight": "bold", "fontsize": 10}),
        (f"Accuracy {_fmt(d['accuracy'])}{_ci(d['accuracy_ci95'])}; balanced accuracy {_fmt(d['balanced_accuracy'])}. "
         f"AI-generated images caught (TPR) {_fmt(d['tpr'])} "
         f"({d['confusion']['ai_called_ai']} of {c['ai_generated']}); real images cleared (TNR) {_fmt(d['tnr'])}; "
         f"real images flagged (FPR) {_fmt(d['fpr'])} ({d['confusion']['real_called_ai']} of {c['real']}).", {}),
        (f"With the inconclusive band {b['band'][0]:.2f}\u2013{b['band'][1]:.2f}: {b['n_inconclusive']} of {c['scored']} "
         f"({b['share_inconclusive']:.0%}) fall inside it; accuracy on the other {b['n_conclusive']} is "
         f"{_fmt(b['accuracy_on_conclusive'])}.", {}),
        (f"At your target false-positive rate {t['target_fpr']:g}", {"fontweight": "bold", "fontsize": 10}),
        ((f"Cut-off {t['cut_off']:.4f}: FPR {t['fpr']:.3f} ({t['confusion']['real_called_ai']} of {c['real']} real), "
          f"TPR {t['tpr']:.3f} ({t['confusion']['ai_called_ai']} of {c['ai_generated']} AI-generated). "
          if t.get("cut_off") is not None else "") + t.get("note", "") + " " + t.get("resolution_note", ""), {}),
        ("At your base rate", {"fontweight": "bold", "fontsize": 10}),
        *[(v["statement"], {}) for v in m["prevalence"].values()],
        ("Calibration", {"fontweight": "bold", "fontsize": 10}),
        (f"Expected calibration error {cal['expected_calibration_error']:.3f} over {cal['n_bins']} bins "
         f"(0 = P matches the observed share of AI images in every bin); Brier score {cal['brier_score']:.3f}. "
         + (f"calibration.json ({m['calibration_map']['method']}) brings the ECE to "
            f"{m['calibration_map']['expected_calibration_error_after_in_sample']:.3f} on these same images "
            "(optimistic: check on a second set)." if m["calibration_map"] else ""), {}),
    ]
    if m["warnings"]:
        lines.append(("Warnings", {"fontweight": "bold", "fontsize": 10, "color": "#c53030"}))
        lines += [("\u2022 " + w, {"color": "#9b2c2c"}) for w in m["warnings"]]
    lines += [
        ("Provenance", {"fontweight": "bold", "fontsize": 10}),
        (f"Model: {m['model']['label']}; weights sha256 {m['model']['weights_sha256'] or 'none'}; preprocessing "
         f"{m['preprocessing']['name']}. forensics {m['software']['forensics']}, scikit-learn "
         f"{m['software']['scikit-learn']}. Created {m['created_utc']}. scores.csv sha256 "
         f"{m['data']['scores_csv_sha256']}. Intervals: {m['bootstrap']['method']}, "
         f"{m['bootstrap']['resamples']} resamples, seed {m['bootstrap']['seed']}; rate intervals exact binomial.", {}),
        (f"Re-create: {m['reproduce']}", {"family": "monospace", "fontsize": 7}),
    ]
    _paragraphs(fig, 1.25 if demo else 0.95, lines)
    return fig


def _curves_page(m: dict, y: np.ndarray, p: np.ndarray) -> Figure:
    from sklearn.metrics import precision_recall_curve, roc_curve
    fig = _page("Curves: ranking, precision and calibration", m["model"]["demo"])
    axes = fig.subplots(2, 2, gridspec_kw={"left": 0.1, "right": 0.95, "top": 0.86, "bottom": 0.08,
                                             "hspace": 0.35, "wspace": 0.3})
    both = 0 < y.sum() < len(y)
    (roc, pr), (rel, hist) = axes
    d, t = m["at_threshold_0_5"], m["at_target_fpr"]
    if both:
        fpr, tpr, _ = roc_curve(y, p)
        roc.plot(fpr, tpr, color="black", lw=1.5, label=f"AUC {m['ranking']['roc_auc']:.3f}")
        roc.plot(d["fpr"], d["tpr"], "o", color=COLOURS["band"], label="cut-off 0.5")
        if t.get("cut_off") is not None:
            roc.plot(t["fpr"], t["tpr"], "s", color=COLOURS["cut"], label=f"cut-off {t['cut_off']:.3g} (FPR \u2264 {t['target_fpr']:g})")
        roc.plot([0, 1], [0, 1], ":", color="grey", lw=1)
        roc.legend(fontsize=7, loc="lower right")
        precision, recall, _ = precision_recall_curve(y, p)
        pr.plot(recall, precision, color="black", lw=1.5, label=f"AP {m['ranking']['average_precision']:.3f}")
        pr.axhline(m["ranking"]["average_precision_baseline"], ls=":", color="grey", lw=1, label="random")
        pr.legend(fontsize=7, loc="lower left")
    else:
        for ax in (roc, pr):
            ax.text(0.5, 0.5, "undefined:\nonly one class", ha="center", va="center", transform=ax.transAxes)
    roc.set(xlabel="false-positive rate (real flagged)", ylabel="true-positive rate (AI caught)", title="ROC",
            xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    pr.set(xlabel="recall (AI caught)", ylabel="precision (flags that are AI)",
           title="Precision-recall (at this sample's AI share)", xlim=(-0.02, 1.02), ylim=(-0.02, 1.05))

    bins = m["calibration"]["bins"]
    rel.plot([0, 1], [0, 1], ":", color="grey", lw=1, label="perfect calibration")
    rel.plot([b["mean_fake_probability"] for b in bins], [b["fraction_ai"] for b in bins], "o-", color="black",
             label=f"ECE {m['calibration']['expected_calibration_error']:.3f}")
    for b in bins:
        rel.annotate(str(b["n"]), (b["mean_fake_probability"], b["fraction_ai"]), textcoords="offset points",
                     xytext=(0, 6), ha="center", fontsize=6, color="dimgrey")
    rel.set(xlabel="mean P(AI-generated) in bin", ylabel="share of AI-generated images in bin",
            title="Reliability diagram (labels: images per bin)", xlim=(-0.02, 1.02), ylim=(-0.02, 1.08))
    rel.legend(fontsize=7, loc="upper left")

    edges = np.linspace(0, 1, 21)
    hist.hist([p[y == 0], p[y == 1]], bins=edges, color=[COLOURS["real"], COLOURS["ai"]],
              label=[f"real (n={int((y == 0).sum())})", f"AI-generated (n={int(y.sum())})"], stacked=False)
    band = m["inconclusive_band"]["band"]
    hist.axvspan(band[0], band[1], color=COLOURS["band"], alpha=0.15, label="inconclusive band")
    hist.axvline(THRESHOLD, color=COLOURS["band"], lw=1)
    if t.get("cut_off") is not None:
        hist.axvline(t["cut_off"], color=COLOURS["cut"], lw=1, ls="--", label="target-FPR cut-off")
    hist.set(xlabel="P(AI-generated)", ylabel="images", title="Scores by true class", xlim=(0, 1))
    hist.legend(fontsize=7)
    for ax in axes.ravel():
        ax.tick_params(labelsize=7)
        ax.title.set_fontsize(9)
        ax.xaxis.label.set_fontsize(8)
        ax.yaxis.label.set_fontsize(8)
    return fig


def _confusion(ax, decision: dict, title: str) -> None:
    c = decision["confusion"]
    grid = np.array([[c["real_called_real"], c["real_called_ai"]], [c["ai_called_real"], c["ai_called_ai"]]])
    ax.imshow(grid, cmap="Blues", vmin=0, vmax=max(1, grid.max()))
    for (i, j), v in np.ndenumerate(grid):
        row = grid[i].sum()
        ax.text(j, i, f"{v}\n({v / row:.0%} of row)" if row else "0", ha="center", va="center", fontsize=9,
                color="white" if v > grid.max() / 2 else "black")
    ax.set_xticks([0, 1], ["called real", "called AI"], fontsize=8)
    ax.set_yticks([0, 1], ["real", "AI-generated"], fontsize=8)
    ax.set_title(title, fontsize=9)


def _groups_page(m: dict) -> Figure:
    fig = _page("Decisions and groups", m["model"]["demo"])
    t = m["at_target_fpr"]
    left = fig.add_axes((0.1, 0.63, 0.35, 0.2))
    _confusion(left, m["at_threshold_0_5"], "at cut-off 0.5")
    right = fig.add_axes((0.58, 0.63, 0.35, 0.2))
    if t.get("cut_off") is not None or "confusion" in t:
        cut = f"{t['cut_off']:.4g}" if t.get("cut_off") is not None else "none"
        _confusion(right, t, f"at cut-off {cut} (target FPR {t['target_fpr']:g})")
    else:
        right.set_axis_off()
        right.text(0.5, 0.5, "target-FPR cut-off undefined:\nonly one class", ha="center", va="center")
    _paragraphs(fig, PAGE.height * 0.42, [("Per group (folder), at cut-off 0.5. A group with one class cannot have "
                                           "an AUC: its accuracy is that class's detection rate (TPR) or clearance "
                                           "rate (TNR).", {})])
    rows = [[g["group"][:40], str(g["n"]), str(g["n_real"]), str(g["n_ai"]), _fmt(g["accuracy_at_0_5"]),
             _fmt(g["mean_fake_probability"]), _fmt(g["roc_auc"]), g["note"][:48]] for g in m["groups"][:30]]
    ax = fig.add_axes((0.06, 0.05, 0.88, 0.5))
    ax.set_axis_off()
    if rows:
        table = ax.table(cellText=rows, colLabels=["group", "n", "real", "AI", "accuracy", "mean P", "AUC", "note"],
                         loc="upper center", colWidths=[0.3, 0.05, 0.05, 0.05, 0.08, 0.08, 0.06, 0.33],
                         cellLoc="left")
        table.auto_set_font_size(False)
        table.set_fontsize(7)
        table.scale(1, 1.3)
    if len(m["groups"]) > 30:
        ax.text(0, 0, f"{len(m['groups']) - 30} more groups in metrics.json", fontsize=7)
    return fig


def worst_misses(rows: list[dict], k: int = WORST_MISSES) -> list[dict]:
    """The k images the model got most confidently wrong at 0.5 (real with high P, AI with low P)."""
    wrong = [r for r in rows if r["fake_probability"] is not None
             and (r["fake_probability"] >= THRESHOLD) != (r["label"] == "ai")]
    return sorted(wrong, key=lambda r: -abs(r["fake_probability"] - (r["label"] == "ai")))[:k]


def _misses_page(m: dict, rows: list[dict], det: Detector, paths: dict) -> Figure:
    fig = _page("Worst misses: the most confident wrong answers at 0.5", m["model"]["demo"])
    misses = worst_misses(rows)
    if not misses:
        fig.text(0.5, 0.5, "No image is misclassified at cut-off 0.5.", ha="center", fontsize=11)
        return fig
    _paragraphs(fig, 1.2, [("Each pair: the original (white box: the centre crop the model saw) and where "
                            "attention flowed (attention rollout, brighter = more). Look for what these images "
                            "share: a source, a subject, a compression.", {})])
    cols, cell_h = 2, 0.27
    for i, r in enumerate(misses):
        row, col = divmod(i, cols)
        x0, y0 = 0.06 + col * 0.47, 0.86 - (row + 1) * cell_h
        a = det.analyze(paths[r["path"]], name=r["path"])
        img_ax = fig.add_axes((x0, y0 + 0.04, 0.21, 0.2))
        img_ax.imshow(np.asarray(a.image.convert("RGB").resize(_thumb(a.image.size))))
        l, t, rr, b = a.crop_box
        s = _thumb(a.image.size)[0] / a.image.size[0]
        img_ax.add_patch(_rect(l * s, t * s, (rr - l) * s, (b - t) * s))
        heat_ax = fig.add_axes((x0 + 0.22, y0 + 0.04, 0.21, 0.2))
        heat_ax.imshow(render.overlay_original(a, max_side=400))
        for ax in (img_ax, heat_ax):
            ax.set_axis_off()
        wrong = "real, called AI" if r["label"] == "real" else "AI-generated, called real"
        fig.text(x0, y0 + 0.035, f"{_short(r['path'], 60)}\n{wrong}: P = {r['fake_probability']:.3f}; "
                 f"group {_short(r['group'], 30)}", fontsize=7, va="top")
    return fig


def _thumb(size: tuple[int, int], side: int = 400) -> tuple[int, int]:
    s = min(1.0, side / max(size))
    return max(1, round(size[0] * s)), max(1, round(size[1] * s))


def _rect(x, y, w, h):
    from matplotlib.patches import Rectangle
    return Rectangle((x, y), w, h, fill=False, edgecolor="white", lw=1)


def _short(text: str, n: int) -> str:
    from .evaluate import _printable
    text = _printable(text)
    return text if len(text) <= n else text[: n // 2 - 1] + "\u2026" + text[-(n // 2):]


def write_pdf(path: Path, m: dict, rows: list[dict], det: Detector, found) -> Path:
    """The four pages; `found` (evaluate.Collected) maps scores.csv paths back to files for the misses."""
    from .evaluate import scored_arrays
    y, p, _ = scored_arrays(rows)
    paths = {it.name: it.path for it in found.items}
    with PdfPages(path, metadata={"Title": "Detector evaluation", "Creator": f"forensics {__version__}"}) as pdf:
        for fig in (_summary_page(m), _curves_page(m, y, p), _groups_page(m), _misses_page(m, rows, det, paths)):
            pdf.savefig(fig)
    return path
