"""`forensics adapt DIR | --case NAME [--case NAME ...] --out OUT`: the analyst's probe and a
recalibration, fitted on marked truth and validated by grouped cross-validation
(evaluation/adapt.py); writes probe.json, calibration.json and adapt.json."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from ..analysis.detector import Detector
from ..cases import acting_user, memory
from ..core.calibration import save as save_calibration
from ..core.errors import InputError, ModelUnavailableError
from ..core.untrusted import printable
from ..evaluation import adapt as _adapt
from ..evaluation import metrics
from ..model.loading import DEMO_WARNING, ENV_MODEL, PINNED_REPO
from .case import open_store, store_arguments
from .options import _positive

OUTPUTS = ("probe.json", "calibration.json", "adapt.json")

EPILOG = f"""\
what it fits, from items whose truth is known:
  probe.json        the analyst's probe: an L2-regularised logistic regression on the model's embedding
                    (the final CLS token), with the extractor it reads, what it was trained on and its
                    grouped cross-validation; `analyze --probe` and `python app.py --probe` show its P
                    BESIDE the model's P, never instead of it, and never change the call
  calibration.json  a Platt recalibration of the model's logit (for analyze --calibration)
  adapt.json        out-of-fold ROC AUC, accuracy at 0.5 and counts of the model's P, the recalibrated P
                    and the probe's P; the fold plan (same file, near-duplicates and groups kept together)

It refuses with fewer than {_adapt.MIN_ITEMS_PER_CLASS} marked items of either class.

examples:
  forensics adapt my-labelled/ --out adapted            # real/ and ai/ sub-folders, as `evaluate` takes
  forensics adapt --case exhibit-7 --case exhibit-9 --out adapted   # the cases' marked items
  forensics analyze new/ --out results --probe adapted/probe.json
"""


def add_parser(commands) -> argparse.ArgumentParser:
    p = commands.add_parser(
        "adapt", help="fit the analyst's probe (a second opinion) on marked truth, validated by grouped CV",
        description="Fit a recalibration of the model's logit and the analyst's probe on its embeddings from\n"
                    "labelled images or cases' marked items; validate both by cross-validation grouped by case,\n"
                    "sub-folder and near-duplicate group.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", type=Path, metavar="DIR", nargs="?",
                   help="folder with real/ and ai/ (or the base of --labels paths); not with --case")
    p.add_argument("--case", metavar="NAME", action="append",
                   help="a case whose items' truth is marked (repeat for several); --store, --db and --user "
                        "say which store and who asks")
    store_arguments(p)
    p.add_argument("--out", required=True, type=Path, metavar="OUT", help="folder for probe.json, "
                   "calibration.json and adapt.json (a new folder, or one without them)")
    p.add_argument("--labels", type=Path, metavar="FILE.csv", help="path,label[,group] rows instead of real/ and ai/")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="SOURCE",
                        help=f"local model folder or hub id (default: ${ENV_MODEL}, else the pinned {PINNED_REPO})")
    source.add_argument("--demo", action="store_true", help="untrained demo weights, to try the command")
    p.add_argument("--revision", metavar="REV", help="hub commit of --model (default: the pinned one)")
    p.add_argument("--preprocessing", choices=("training", "hub"), default="training",
                   help="input transform (default: training, the authors')")
    p.add_argument("--C", dest="c", type=float, default=_adapt.DEFAULT_C, metavar="C",
                   help=f"inverse L2 strength of the probe on standardised embeddings (default: {_adapt.DEFAULT_C:g})")
    p.add_argument("--seed", type=int, default=0, help="seed of the fold plan (default: 0)")
    p.add_argument("--batch-size", type=_positive, default=8, metavar="N", help="images per forward pass (default: 8)")
    p.add_argument("--device", default="auto", help="torch device (default: auto)")
    p.set_defaults(handler=run)
    return p


def run(args, parser) -> int:
    if (args.dir is None) == (not args.case):
        parser.error("give DIR or --case NAME (one of them)")
    if args.case and args.labels:
        parser.error("--labels goes with DIR, not with --case")
    try:
        clash = [n for n in OUTPUTS if (args.out / n).exists()]
        if args.out.exists() and not args.out.is_dir():
            raise InputError(f"--out {args.out} exists and is not a folder. Choose a new folder.")
        if clash:
            raise InputError(f"{args.out} already holds {', '.join(clash)}; they are never overwritten. "
                             "Choose a new --out folder.")
        if args.case:
            material = case_material(args)
        else:
            items, source = folder_items(args)
            material = _adapt.embed(load_detector(args), items, source, args.batch_size)
        adapted = _adapt.adapt(material, c=args.c, seed=args.seed)
    except (InputError, ModelUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    probe = adapted.probe.save(args.out / "probe.json")
    recal = save_calibration(adapted.recalibration, args.out / "calibration.json")
    summary = {**adapted.summary, "files": {"probe.json": probe.sha256, "calibration.json": recal.sha256},
               "reproduce": reproduce_command(args)}
    (args.out / "adapt.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print_summary(summary, args.out)
    return 0


def reproduce_command(args) -> str:
    """The command that re-creates these outputs (output folder left as OUT)."""
    cmd = ["forensics", "adapt", *([str(args.dir)] if args.dir else [])]
    for case in args.case or ():
        cmd += ["--case", case]
    cmd += ["--labels", str(args.labels)] if args.labels else []
    cmd += ["--out", "OUT"] + (["--demo"] if args.demo else ["--model", args.model] if args.model else [])
    cmd += ["--revision", args.revision] if args.revision else []
    cmd += ["--preprocessing", args.preprocessing] if args.preprocessing != "training" else []
    return shlex.join(cmd + ["--C", repr(args.c), "--seed", str(args.seed)])


def folder_items(args) -> tuple[list, str]:
    """A labelled folder (or --labels CSV), read as `evaluate` reads it."""
    found = metrics.read_labels(args.labels, args.dir) if args.labels else metrics.collect_folder(args.dir)
    for s in found.skipped:
        print(f"not used: {printable(s['path'])}: {s['reason']}", file=sys.stderr)
    return found.items, f"folder {args.dir.name or args.dir}"


def load_detector(args) -> Detector:
    det = Detector.load(args.model, demo=args.demo, revision=args.revision, device=args.device,
                        preprocessing=args.preprocessing)
    if det.model_info.demo:
        print(f"warning: {DEMO_WARNING.lower()}", file=sys.stderr)
    return det


def case_material(args) -> _adapt.Material:
    """The marked items of each --case, grouped by case (the folds keep a case whole where they can).

    An item whose embedding the store kept, made by this detector's extractor, gives its stored
    embedding and logit (no forward pass) and its case's near-duplicate group; the others (filed before
    embeddings were kept, or by another model or transform) are analysed from their evidence files."""
    user = acting_user(args.user)
    cases = list(dict.fromkeys(args.case))
    source = f"case(s) {', '.join(cases)}"
    stored, to_analyse = [], []
    with open_store(args) as store:
        marked = {case: store.labelled_items(case, user) for case in cases}
        if not any(marked.values()):
            raise InputError(f"{source} has no items with a known truth: mark some first (real or ai).")
        det = load_detector(args)   # after the cases are found: a wrong name fails before a model load
        extractor = memory.extractor_for(det.model_info, det.transform)
        for case, found in marked.items():
            ids, matrix, _ = memory.stored_embeddings(store, case, user, extractor)
            kept = dict(zip(ids.tolist(), matrix))
            for i in found:
                record = store.record(case, i.id, user) if i.id in kept else None
                if record is None or record.get("logit") is None:
                    to_analyse.append((i.evidence_path, i.truth, f"{case}/{i.file_name}", case))
                    continue
                near = f"{case}/{i.group}" if i.group is not None else f"{case}/item {i.id}"
                stored.append(_adapt.Stored(metrics.LABEL_WORDS[i.truth], case, i.sha256, near,
                                            f"{case}/{i.file_name}", float(record["logit"]), kept[i.id]))
    material = _adapt.from_stored(stored, det, source)
    if to_analyse:
        items = metrics.from_labelled(to_analyse, source).items
        material = _adapt.join(material, _adapt.embed(det, items, source, args.batch_size))
    return material


def print_summary(summary: dict, out: Path) -> None:
    v, c = summary["validation"], summary["counts"]
    print(f"Trained on {c['items']} item(s): {c['real']} real, {c['ai_generated']} AI-generated "
          f"({len(c['unreadable'])} unreadable). Grouped cross-validation, {v['fold_plan']['n_folds']} folds "
          f"({', '.join(v['fold_plan']['kept_together'])} kept together):")
    for key, name in (("model", "model's P"), ("recalibration", "recalibrated P"), ("probe", "analyst's probe")):
        f = v[key]
        print(f"  {name:<16} ROC AUC {f['auc']:.3f}; accuracy at {f['cut_off']:g} {f['accuracy']:.3f}")
    for note in v["fold_plan"]["notes"]:
        print(f"note: {note}")
    print("The probe is a second opinion: analyze --probe shows its P beside the model's, never instead of it.")
    print(f"Outputs: {', '.join(str(out / n) for n in OUTPUTS)}")
