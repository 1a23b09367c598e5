"""`forensics evaluate`: the options; the run is `evaluation.run.run`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..cases import acting_user
from ..core import calibration
from ..core.errors import InputError
from ..core.verdict import DEFAULT_INCONCLUSIVE_MARGIN
from ..evaluation import run as evaluation_run
from ..evaluation.run import BOOTSTRAP_RESAMPLES
from ..model.loading import ENV_MODEL, PINNED_REPO
from .options import _positive
from .case import open_store, store_arguments

EPILOG = """\
DIR layout:
  DIR/real/...        real (camera or non-AI) images; sub-folders are groups, e.g. real/phone/
  DIR/ai/...          AI-generated images (fake/ and generated/ also count), e.g. ai/midjourney-v7/
  or --labels FILE.csv with rows path,label[,group] (paths relative to DIR; label real or ai)

outputs in --out (a new folder, or one without these files):
  scores.csv         path, sha256, label, group, fake_probability, verdict, error, logit, and the
                     out-of-fold likelihood ratio: fold, log10_lr, lr_verbal (ENFSI words): one row per file
  metrics.json       every number with its counts and 95% intervals, Cllr and the ELUB bounds of the
                     likelihood ratios, the model and the command
  report.pdf         curves, reliability diagram, likelihood ratios (Tippett, PAV, ECE), confusion
                     matrices, groups, worst misses
  calibration.json   a map raw P -> calibrated P fitted on these scores and, with at least 20 images
                     per class, a likelihood-ratio calibrator with its validation, for analyze --calibration

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
    p.add_argument("dir", type=Path, metavar="DIR", nargs="?",
                   help="folder with real/ and ai/ (or the base of --labels paths); not with --case")
    p.add_argument("--case", metavar="NAME",
                   help="evaluate on the items of a case whose truth is marked (forensics case mark --truth); "
                        "--store, --db and --user say which store and who asks")
    store_arguments(p)
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
    p.set_defaults(handler=run)
    return p


def run(args, parser) -> int:
    if (args.dir is None) == (args.case is None):
        parser.error("give DIR or --case NAME (one of them)")
    if args.case is None:
        return evaluation_run.run(args)
    if args.labels:
        parser.error("--labels goes with DIR, not with --case")
    try:  # the join of the two layers: the case gives the labelled evidence, evaluation scores it
        with open_store(args) as store:
            labelled = store.labelled(args.case, acting_user(args.user))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return evaluation_run.run(args, labelled)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


