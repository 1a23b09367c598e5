"""`python -m forensics analyze|evaluate ...`: the arguments, and the commands they start.

Thin by design: the arguments are parsed and checked here; `batch.run_analyze` (local engine),
`scale` (Ray Data) and `evaluation_report.run` do the work with the package's functions.
`add_model_arguments` and `load_detector` are shared with the app (app.py).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..analysis.detector import Detector
from .._version import __version__
from ..batch import engine as batch
from ..explain import checks
from ..report import render
from .. import report
from ..analysis.detector import DEFAULT_INCONCLUSIVE_MARGIN, METHODS
from ..explain.rollout import HEAD_FUSIONS
from ..inputs.images import ACCEPTED_EXTENSIONS
from ..analysis.video import DEFAULT_FRAMES, VIDEO_EXTENSIONS
from ..model.loading import ENV_MODEL, PINNED_REPO
from ..core import calibration
from ..evaluation import run as evaluation_report  # noqa: E402 - --calibration; the `evaluate` sub-command

EPILOG = f"""\
outputs (in --out; existing files are never overwritten, clashing names get -1, -2, ...):
  <stem>.png     the original with the heatmap, crop outline, verdict and provenance burned in
  <stem>.pdf     a report page: images, patch grid, top 10 patches, limits, provenance, notes;
                 with --deep-check a second page: badges, deletion curve, stability table,
                 full-coverage tiles and the reliability mask
  <stem>.json    the full record (result, 24x24 scores, provenance, the command that re-creates it;
                 with --deep-check a "deep_check" section with every number of that page)
  <stem>.csv     all 576 patches: rank, row, col, box in the 384 input, box in the original, score
  summary.csv    one row per file: status ok/error/skipped, verdict, probability, sha256, error
                 (or why a file in a folder was skipped), outputs, generator_hints (metadata
                 signatures of AI generators: independent evidence that never changes P);
                 with --deep-check also faithful (yes/no), fragile (yes/no), coverage_probability
                 (P(AI) of the most suspicious full-coverage tile; blank if not tiled)
  report.pdf     a cover page with the summary table, then every image's pages (with pdf format)
  <stem>_faceN.* with --faces: the same files for each face found, analysed as a region at full
                 resolution; summary.csv gets a row per face (its box, mode, scale and the share of
                 the whole image's heatmap on it) and faces_found on the image's row

videos ({' '.join(VIDEO_EXTENSIONS)}; H.264, HEVC, VP8/VP9, MPEG-4, MJPEG; not AV1):
  --frames N frames evenly from first to last (default {DEFAULT_FRAMES}), or one each --every SECONDS;
  each frame is analysed as an image would be. Per clip, in --format:
  <stem>.png     contact sheet: every sampled frame, bordered in its verdict's colour, time, frame, P
  <stem>.pdf     the clip verdict and its rule, the P(AI-generated) timeline with the inconclusive
                 band, timeline numbers, provenance (sha256, container, codec, fps, duration), and
                 the heatmaps of the 3 frames with the highest P
  <stem>.json    the record: clip verdict, per frame timestamp, index, P, verdict; the strongest
                 frames' top patches; provenance and the command that re-creates it
  <stem>.csv     the timeline: index, timestamp_s, fake_probability, logit, verdict per frame
  In summary.csv a clip's verdict is the clip verdict, fake_probability the highest frame P,
  plus frames_sampled and median_probability. --deep-check applies to images only.

deep check (--deep-check; see docs/METHODS.md), per image after the batched analysis:
  faithfulness   mean-fill the strongest 5-50% of patches vs as many random ones; "faithful"
                 when the strongest move P(AI-generated) at least {checks.FAITHFUL_RATIO:g}x as much, and by
                 {checks.FAITHFUL_MIN_AUC:g} or more on average
  stability      re-run as JPEG q90, at 0.9x scale and shifted 8 px; "FRAGILE" when the verdict
                 flips or the heatmaps correlate below {checks.FRAGILE_CORRELATION:g}
  coverage       tile the whole image with overlapping 384 px crops (up to {checks.MAX_TILES}); P(AI) per
                 tile, the most suspicious tile decides
  reliability    flat or clipped patches (weak evidence) and high-norm outlier tokens
  It adds 19-40 forward passes per image (12 deletions, 3 re-runs, 4-24 tiles): about
  3.5 s for a 1920x1080 photo on a 2-core CPU, some 20 times the analysis itself.

exit status:
  0  at least one image was analysed (unreadable files are listed in summary.csv)
  1  nothing was analysed: no readable images, or the model could not be loaded
  2  the command line is wrong

examples:
  python -m forensics analyze case42/ --out case42-results
  python -m forensics analyze a.jpg b.png --out out --format json,csv --head-fusion max
  python -m forensics analyze photos/ --out out --demo     # untrained weights, not evidence
  python -m forensics analyze a.jpg --out out --deep-check --method grad-rollout --color-scale absolute
  python -m forensics analyze clip.mp4 stills/ --out out --every 2   # a frame each 2 s of the clip
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m forensics",
        description="Forensic explanations for the Community Forensics AI-image detector.")
    parser.add_argument("--version", action="version", version=f"forensics {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = commands.add_parser(
        "analyze", help="analyse images and write evidence files",
        description="Analyse image files and folders; write a PNG, PDF, JSON and CSV per image,\n"
                    "a summary.csv and a batch report.pdf.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="image files, or folders searched recursively for "
                        f"{', '.join(ACCEPTED_EXTENSIONS)} files (hidden and other files are listed in "
                        "summary.csv as skipped, with the reason)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help="folder for the results (created if missing)")
    add_model_arguments(p)
    p.add_argument("--method", choices=METHODS, default="attention-rollout",
                   help="explanation: 'attention-rollout' (where attention flowed, nearly free) or "
                        "'grad-rollout' (what pushed the AI-generated score; adds a backward pass and "
                        "reports how far the two methods agree) (default: attention-rollout)")
    p.add_argument("--deep-check", action="store_true",
                   help="also check each explanation: deletion faithfulness, stability under re-saving, "
                        "rescaling and shifting, full-image tile coverage, and the reliability mask; "
                        "adds a PDF page, a JSON section and summary.csv columns (slower: see below)")
    p.add_argument("--color-scale", choices=render.COLOR_SCALES, default="image",
                   help="heatmap colours in the PNG and PDF: 'image' scales each image to its own "
                        "strongest patch (every image shows a hot spot); 'absolute' puts full colour at "
                        f"{100 * render.ABSOLUTE_VMAX:g}%% of the flow per patch (uniform is "
                        f"{100 * render.UNIFORM_SHARE:.2f}%%), so images can be compared by colour (default: image)")
    p.add_argument("--head-fusion", choices=HEAD_FUSIONS, default="mean",
                   help="how the attention heads of a block are combined for rollout (default: mean)")
    p.add_argument("--discard-ratio", type=_fraction(0.0, 1.0), default=0.0, metavar="R",
                   help="zero the weakest R of each block's attention before rollout, 0 <= R < 1 "
                        "(default: 0)")
    p.add_argument("--format", type=_formats, default=None, metavar="LIST",
                   help="comma-separated subset of png,pdf,json,csv to write per image (default: all; "
                        "with --engine ray: none, results.parquet only)")
    p.add_argument("--notes", default="", metavar="TEXT",
                   help="analyst notes printed in every PDF and stored in every JSON record")
    p.add_argument("--redact-location", action="store_true",
                   help="leave GPS coordinates out of the JSON and PDF metadata sections")
    p.add_argument("--c2pa-trust", type=_pem_file, metavar="FILE.pem",
                   help="PEM trust anchors for C2PA content credentials: say whether each signer chains "
                        "to them (default: $FORENSICS_C2PA_TRUST; without either, a valid signature is "
                        "reported as 'signer not checked against a trust list')")
    p.add_argument("--batch-size", type=_positive, default=8, metavar="N",
                   help="images (or video frames) per forward pass (default: 8)")
    p.add_argument("--faces", action="store_true",
                   help="also find the faces in each image and analyse every face as a region at full "
                        "resolution: its own P, verdict, heatmap and exports (<stem>_face1.*, ...), a "
                        "summary.csv row each, pages in report.pdf")
    p.add_argument("--region", type=_region, metavar="L,T,R,B",
                   help="analyse this box of a single image (left,top,right,bottom in pixels of the "
                        "upright image) instead of the centre crop: at native resolution when it fits "
                        "384x384, else brought down to 384 on its short side")
    sampling = p.add_mutually_exclusive_group()
    sampling.add_argument("--frames", type=_positive, default=DEFAULT_FRAMES, metavar="N",
                          help=f"video: analyse N frames spread evenly over the clip (default: {DEFAULT_FRAMES})")
    sampling.add_argument("--every", type=_seconds, metavar="SECONDS",
                          help="video: analyse one frame every SECONDS instead of --frames")
    add_engine_arguments(p)
    evaluation_report.add_parser(commands)  # `evaluate`: its options and handler live in that module
    return parser


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "evaluate":
        return evaluation_report.run(args)
    return batch.run_analyze(args, parser, load_detector)
