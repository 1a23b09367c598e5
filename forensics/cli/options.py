"""Options and argument types that several commands and the app share."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import report
from ..analysis.detector import DEFAULT_INCONCLUSIVE_MARGIN, Detector
from ..core import calibration
from ..model.loading import ENV_MODEL, PINNED_REPO


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """Which weights and how to read them: shared by every command and by the app (app.py)."""
    source = p.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="SOURCE",
                        help="local folder with config.json and model.safetensors, or a hub id "
                             f"(default: ${ENV_MODEL}, else the pinned {PINNED_REPO})")
    source.add_argument("--demo", action="store_true",
                        help="untrained demo weights of the real architecture, to try the tool: "
                             "results are meaningless and marked so")
    p.add_argument("--revision", metavar="REV", help="hub commit of --model (default: the pinned one)")
    p.add_argument("--preprocessing", choices=("training", "hub"), default="training",
                   help="'training': the authors' transform (default); 'hub': the hub's "
                        "preprocessor_config.json as published")
    p.add_argument("--inconclusive-margin", type=_fraction(0.0, 0.5), default=DEFAULT_INCONCLUSIVE_MARGIN,
                   metavar="M", help="P(AI-generated) within 0.5 +/- M is reported as inconclusive "
                                     f"(default: {DEFAULT_INCONCLUSIVE_MARGIN})")
    p.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--calibration", metavar="FILE", default=os.environ.get(calibration.ENV_CALIBRATION) or None,
                   help="calibration.json from `python -m forensics evaluate`: P(AI-generated) and the verdict "
                        "become calibrated, the raw P is kept beside it, and every export names the file "
                        f"(default: ${calibration.ENV_CALIBRATION}, else none)")


def add_probe_argument(p: argparse.ArgumentParser) -> None:
    """--probe FILE: the analyst's probe (`forensics adapt`), shown beside the model's P (analyze, the app)."""
    p.add_argument("--probe", metavar="FILE",
                   help="probe.json from `forensics adapt`: the analyst's probe, a second opinion fitted on their "
                        "own marked items; its P is shown beside the model's P, never instead of it, and never "
                        "changes the call")


def load_probe(args, detector):
    """The probe --probe names, checked against the detector's extractor (InputError), or None."""
    from ..evaluation.probe import Probe
    return Probe.load(args.probe, detector) if getattr(args, "probe", None) else None


def _fraction(low: float, high: float):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low <= value < high:
            raise argparse.ArgumentTypeError(f"must be in [{low:g}, {high:g}), got {text}")
        return value
    return parse


def _pem_file(text: str) -> Path:
    path = Path(text)
    try:
        pem = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {exc.strerror or exc}") from None
    if "BEGIN CERTIFICATE" not in pem:
        raise argparse.ArgumentTypeError(f"{text} holds no PEM certificate") from None
    return path


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return int(text)


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """--engine ray and its cluster options (forensics/scale.py; docs/SCALE.md)."""
    g = p.add_argument_group("scale-out on Ray Data (--engine ray: pip install -r requirements-scale.txt; "
                             "see docs/SCALE.md)")
    g.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="'local': analyse in this process (default); 'ray': on a Ray cluster with Ray Data, "
                        "writing results.parquet (per-image files only with --format); PATHs may then also "
                        "be URIs Ray reads, e.g. s3://bucket/folder")
    g.add_argument("--address", metavar="ADDR",
                   help="the Ray cluster to join, e.g. auto or ray://head:10001 (default: $RAY_ADDRESS, else "
                        "a Ray instance started on this machine for the run)")
    g.add_argument("--workers", type=_positive, metavar="N",
                   help="analysis workers (Ray actors), each loading the model once (default: as many as fit, "
                        "leaving CPU for reading and decoding)")
    g.add_argument("--gpus-per-worker", type=_gpu_share, default=0.0, metavar="G",
                   help="GPUs per worker; a fraction such as 0.5 puts two workers on one GPU (default: 0, CPUs)")


def _gpu_share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 64:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"must be between 0 and 64, got {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}")
    return value


def _region(text: str) -> tuple[float, float, float, float]:
    """`--region l,t,r,b`: four numbers (whether they fit the image is checked per image)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"give left,top,right,bottom in pixels, e.g. 100,80,420,400; got {text!r}")
    return values


def _formats(text: str) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(t.strip().lower() for t in text.split(",") if t.strip()))
    bad = [t for t in items if t not in report.FORMATS]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"choose from {','.join(report.FORMATS)}, got {text!r}")
    return items


def load_detector(args) -> Detector:
    """The detector the arguments name; InputError for an unusable --calibration file."""
    cal = calibration.load(args.calibration) if getattr(args, "calibration", None) else None
    det = Detector.load(args.model, demo=args.demo, revision=args.revision, device=args.device,
                        preprocessing=args.preprocessing, inconclusive_margin=args.inconclusive_margin,
                        calibration=cal)
    if cal is not None:
        for warning in calibration.mismatch(cal, det.model_info):
            print(f"warning: {warning}", file=sys.stderr)
    return det
