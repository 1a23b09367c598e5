"""`python -m forensics analyze PATH... --out DIR`: batch analysis with evidence exports.

Thin by design: it finds files, feeds them to `Detector.analyze_decoded` a batch at a time and
hands each `Analysis` to `report.export`; clips go through `Detector.analyze_video` and
`video_report.export`. A file that cannot be read is listed in the summary and the run goes on.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import cv2
from tqdm import tqdm

from . import Detector, InputError, ModelUnavailableError, __version__, checks, render, report
from .analysis import DEFAULT_INCONCLUSIVE_MARGIN, METHODS
from .explain import HEAD_FUSIONS
from .inputs import ACCEPTED_EXTENSIONS, load_image
from .faces import find_faces
from .preprocess import check_region
from .video import DEFAULT_FRAMES, VIDEO_EXTENSIONS, is_video_path
from . import video_report  # a clip's exports
from .model import DEMO_WARNING, ENV_MODEL, PINNED_REPO, sha256_file
from .report.provenance import hints_cell
from . import calibration, evaluation_report  # noqa: E402 - --calibration; the `evaluate` sub-command

SUMMARY_FIELDS = ("file", "status", "verdict", "fake_probability", "sha256", "error", "outputs",
                  "generator_hints")  # metadata hints: independent evidence, never part of P
DEEP_FIELDS = ("faithful", "fragile", "coverage_probability")  # added with --deep-check
REGION_FIELDS = ("region", "region_mode", "region_scale")  # added with --region or --faces
FACE_FIELDS = ("faces_found", "face", "whole_image_share")  # added with --faces
VIDEO_FIELDS = ("frames_sampled", "median_probability")  # added when videos are analysed

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


def collect(paths, out_dir: Path, skipped: list | None = None
            ) -> tuple[list[tuple[str, Path]], list[tuple[str, str]]]:
    """-> ([(label, file)], [(label, error)]): files named explicitly, plus images under folders.

    Folders are walked in sorted order without following links; each file is taken once. Nothing
    in a folder is passed over silently: hidden entries, files of other types, links to folders
    and the output folder itself (a re-run into the same tree) are appended to `skipped` as
    (label, reason), for summary.csv.
    """
    found, missing, seen = [], [], set()
    skip = out_dir.resolve()
    skipped = [] if skipped is None else skipped

    def take(label, path):
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append((label, path))

    for given in map(Path, paths):
        if given.is_file():
            take(str(given), given)
        elif given.is_dir():
            for root, dirs, files in os.walk(given):
                searched = []
                for d in sorted(dirs):
                    reason = _skip_folder_reason(Path(root, d), skip)
                    if reason:
                        skipped.append((os.path.join(root, d), reason))
                    else:
                        searched.append(d)
                dirs[:] = searched
                for name in sorted(files):
                    reason = _skip_file_reason(name)
                    if reason:
                        skipped.append((os.path.join(root, name), reason))
                    else:
                        take(os.path.join(root, name), Path(root, name))
        else:
            missing.append((str(given), f"No file or folder at {given}."))
    return found, missing


def _skip_folder_reason(path: Path, out_dir: Path) -> str | None:
    if path.name.startswith("."):
        return "not analysed: hidden folder, not searched"
    if path.is_symlink():
        return "not analysed: link to a folder, not followed (give the folder itself)"
    if path.resolve() == out_dir:
        return "not analysed: the output folder of this run, not searched"
    return None


def _skip_file_reason(name: str) -> str | None:
    if name.startswith("."):
        return "not analysed: hidden file"
    if not name.lower().endswith(ACCEPTED_EXTENSIONS + VIDEO_EXTENSIONS):
        ext = os.path.splitext(name)[1] or "(none)"
        return (f"not analysed: extension {ext} is not an image or video type this tool reads "
                f"({' '.join(ACCEPTED_EXTENSIONS + VIDEO_EXTENSIONS)}); rename it if it is one")
    return None


def analyze_chunk(det: Detector, files: list[Path], region=None, c2pa_trust=None, **settings) -> list:
    """One forward pass for the readable files of a chunk -> per file an Analysis or an error message.

    region: the same box for every file (--region), checked against each image before the pass.
    c2pa_trust: PEM trust anchors for the metadata reader's C2PA check (--c2pa-trust).
    """
    results, good = {}, {}
    for path in files:  # each file is decoded once; a broken one is set aside with its reason
        try:
            decoded = load_image(path, c2pa_trust=c2pa_trust)
            if region is not None:
                check_region(region, decoded[0].size)
            good[path] = decoded
        except InputError as exc:
            results[path] = str(exc)
    if good:
        results.update(zip(good, det.analyze_decoded(list(good.values()), regions=[region] * len(good),
                                                      **settings)))
    return [results[path] for path in files]


def region_fields(analysis) -> dict:
    """The summary.csv region columns of a region or face analysis (blank for a whole image)."""
    if analysis.region is None:
        return {}
    return {"region": ",".join(str(v) for v in analysis.region), "region_mode": analysis.region_mode,
            "region_scale": f"{analysis.region_scale:.4f}"}


def analyze_faces(det: Detector, whole, boxes, args, label: str, row, batch) -> int:
    """--faces: each face box (from `find_faces`) of an analysed image, analysed as a region and
    exported as <stem>_faceN.* with a summary row each -> the number analysed. Face analyses get
    no deep check: its re-runs analyse the whole image."""
    # share of the whole-image heatmap on each face; blank for a face the centre crop never saw
    cl, ct, cr, cb = whole.crop_box
    shares = [f"{share:.4f}" if min(r, cr) > max(l, cl) and min(b, cb) > max(t, ct) else ""
              for share, (l, t, r, b) in zip(whole.region_shares(boxes), boxes)] if boxes else []
    stem = Path(whole.input.name or "image").stem
    done = 0
    for start in range(0, len(boxes), args.batch_size):
        chunk = boxes[start:start + args.batch_size]
        try:  # the decoded image of the whole-image analysis, once per face
            faces = det.analyze_decoded([(whole.image, whole.input)] * len(chunk), regions=chunk,
                                        method=args.method, head_fusion=args.head_fusion,
                                        discard_ratio=args.discard_ratio)
        except InputError as exc:  # a face box the region rules refuse (too small once clipped)
            for i, box in enumerate(chunk, start=start + 1):
                row(file=label, status="error", face=i, region=",".join(map(str, box)), error=str(exc))
            continue
        for i, (face, share) in enumerate(zip(faces, shares[start:]), start=start + 1):
            written = report.export(face, args.out, args.format, args.notes, stem=f"{stem}_face{i}",
                                    batch=batch, label=f"{label} (face {i})", color_scale=args.color_scale,
                                    redact_location=args.redact_location)
            row(file=label, status="ok", verdict=face.verdict, fake_probability=f"{face.fake_probability:.6f}",
                sha256=face.input_sha256, outputs=";".join(p.name for p in written.values()),
                generator_hints=hints_cell(face),
                face=i, whole_image_share=share, **region_fields(face))
            done += 1
    return done


def deep_check(det: Detector, analysis, bar: tqdm, label: str):
    """`checks.deep_check` with its steps shown on the progress bar."""
    name = report.display_name(Path(label).name, 30)

    def progress(fraction: float, text: str) -> None:
        bar.set_postfix_str(f"{name}: {text}")

    return checks.deep_check(det, analysis, progress=progress)


def deep_fields(deep) -> dict:
    """The summary.csv columns of a deep check (none without one)."""
    if deep is None:
        return {}
    return {"faithful": "yes" if deep.faithfulness.faithful else "no",
            "fragile": "yes" if deep.stability.fragile else "no",
            "coverage_probability": "" if deep.coverage is None else f"{deep.coverage.probability:.6f}"}


def analyze_videos(det: Detector, videos: list[tuple[str, Path]], args, row, batch) -> int:
    """Each clip: its sampled frames through the detector, then `video_report.export`. A clip that
    cannot be used is listed with its reason and the run goes on. Returns how many were analysed."""
    if videos:
        # FFmpeg's own log lines ("moov atom not found") would break the progress bars; the
        # InputError of each clip says the same in words. OPENCV_FFMPEG_LOGLEVEL=24 shows them.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    analysed = 0
    for label, path in videos:
        name = report.display_name(Path(label).name, 30)
        with tqdm(unit="frame", desc=f"video {name}", file=sys.stderr, dynamic_ncols=True) as bar:
            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            try:
                clip = det.analyze_video(path, frames=args.frames, every=args.every, head_fusion=args.head_fusion,
                                         discard_ratio=args.discard_ratio, method=args.method,
                                         batch_size=args.batch_size, name=Path(label).name, progress=progress)
            except InputError as exc:
                tqdm.write(report.printable(f"skipped {label}: {exc}"), file=sys.stderr)
                row(file=label, status="error", error=str(exc), sha256=_sha256_or_blank(path))
                if batch:
                    batch.add_error(label, str(exc))
                continue
            written = video_report.export(clip, args.out, args.format, args.notes)
        row(file=label, status="ok", verdict=clip.verdict,
            fake_probability=f"{clip.timeline.max_probability:.6f}", sha256=clip.info.sha256,
            outputs=";".join(p.name for p in written.values()), frames_sampled=len(clip.frames),
            median_probability=f"{clip.timeline.median_probability:.6f}")
        analysed += 1
    return analysed


def _sha256_or_blank(path: Path) -> str:
    # Unreadable images are evidence too: record what the file was, when it can be read at all.
    try:
        return sha256_file(path)
    except OSError:
        return ""


def load_detector(args) -> Detector:
    """The detector the arguments name; InputError for an unusable --calibration file."""
    cal = calibration.load(args.calibration) if getattr(args, "calibration", None) else None
    if args.demo:
        det = Detector.demo(device=args.device, inconclusive_margin=args.inconclusive_margin)
    else:
        det = Detector.from_pretrained(args.model, revision=args.revision, device=args.device,
                                       preprocessing=args.preprocessing,
                                       inconclusive_margin=args.inconclusive_margin)
    if cal is not None:
        for warning in calibration.mismatch(cal, det.model_info):
            print(f"warning: {warning}", file=sys.stderr)
    return det.with_calibration(cal)


def run_ray(args, parser) -> int:
    """--engine ray: the same paths and settings, analysed on a Ray cluster by forensics/scale.py."""
    for flag, given in (("--deep-check", args.deep_check), ("--faces", args.faces),
                        ("--region", args.region is not None)):
        if given:
            parser.error(f"{flag} runs on the local engine only; leave out --engine ray")
    try:
        from . import scale  # the one module that imports ray
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("ray", "pyarrow"):
            raise
        print("error: --engine ray needs Ray Data, which the default install leaves out: "
              "pip install -r requirements-scale.txt", file=sys.stderr)
        return 1
    skipped: list[tuple[str, str]] = []
    found, missing = collect([p for p in args.paths if not scale.is_uri(p)], args.out, skipped)
    listed = ([(label, "error", message) for label, message in missing]
              + [(label, "skipped", reason) for label, reason in skipped]
              + [(label, "skipped", "not analysed: a video; the local engine (--engine local) analyses videos")
                 for label, path in found if is_video_path(path)])
    sources = [str(path) for _, path in found if not is_video_path(path)]
    return scale.main(args, sources + [p for p in args.paths if scale.is_uri(p)], listed)


def run_analyze(args, parser) -> int:
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} exists and is not a folder")
    if args.demo and (args.revision or args.preprocessing != "training"):
        parser.error("--revision and --preprocessing hub need real weights, not --demo")
    if args.engine == "ray":
        return run_ray(args, parser)
    if args.address or args.workers or args.gpus_per_worker:
        parser.error("--address, --workers and --gpus-per-worker go with --engine ray")
    args.format = args.format or report.FORMATS
    skipped: list[tuple[str, str]] = []
    files, missing = collect(args.paths, args.out, skipped)
    for label, message in missing:
        print(f"error: {report.printable(message)}", file=sys.stderr)
    if not files:
        print("error: no image or video files found in the given paths "
              f"(looked for {', '.join(ACCEPTED_EXTENSIONS + VIDEO_EXTENSIONS)}).", file=sys.stderr)
        for label, reason in skipped:
            print(report.printable(f"skipped {label}: {reason}"), file=sys.stderr)
        return 1
    videos = [(label, path) for label, path in files if is_video_path(path)]
    files = [(label, path) for label, path in files if not is_video_path(path)]
    if args.region is not None and (len(files) != 1 or videos or missing):
        parser.error(f"--region is for one image file; {len(files) + len(videos) + len(missing)} paths were "
                     "found: run once per image")
    if args.region is not None and args.deep_check:
        parser.error("--deep-check cannot check a --region analysis yet (its re-runs analyse the whole image)")
    try:
        det = load_detector(args)
    except (ModelUnavailableError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if det.model_info.demo:
        print(f"warning: {DEMO_WARNING.lower()}", file=sys.stderr)

    args.out.mkdir(parents=True, exist_ok=True)
    summary_path = args.out / f"{report.claim_stem(args.out, 'summary', ['csv'])}.csv"
    batch = None
    if "pdf" in args.format:
        report_path = args.out / f"{report.claim_stem(args.out, 'report', ['pdf'])}.pdf"
        batch = report.BatchReport(report_path, args.notes)
    analysed, started = 0, time.perf_counter()
    fields = SUMMARY_FIELDS + (DEEP_FIELDS if args.deep_check else ())
    fields += (REGION_FIELDS if args.region is not None or args.faces else ()) + (FACE_FIELDS if args.faces else ())
    fields += VIDEO_FIELDS if videos else ()
    with open(summary_path, "w", newline="", encoding="utf-8") as f:
        summary = csv.DictWriter(f, fields)
        summary.writeheader()

        def row(**fields):
            summary.writerow({k: report.spreadsheet_safe(v) for k, v in fields.items()})
            f.flush()  # a run cut short still leaves a usable summary

        try:
            for label, message in missing:
                row(file=label, status="error", error=message)
                if batch:
                    batch.add_error(label, message)
            for label, reason in skipped:  # listed, never dropped silently
                row(file=label, status="skipped", error=reason)
            desc = "analysing + deep check" if args.deep_check else "analysing"
            with tqdm(total=len(files), unit="img", desc=desc, file=sys.stderr, dynamic_ncols=True) as bar:
                for start in range(0, len(files), args.batch_size):
                    chunk = files[start:start + args.batch_size]
                    # embeddings: the reliability check reads the patch embeddings of this forward pass
                    results = analyze_chunk(det, [p for _, p in chunk], region=args.region,
                                            c2pa_trust=args.c2pa_trust, method=args.method,
                                            head_fusion=args.head_fusion, discard_ratio=args.discard_ratio,
                                            embeddings=args.deep_check)
                    for (label, path), result in zip(chunk, results):
                        if isinstance(result, str):
                            tqdm.write(report.printable(f"skipped {label}: {result}"), file=sys.stderr)
                            row(file=label, status="error", error=result, sha256=_sha256_or_blank(path))
                            if batch:
                                batch.add_error(label, result)
                        else:
                            deep = deep_check(det, result, bar, label) if args.deep_check else None
                            if deep is not None:
                                bar.set_postfix_str(f"{report.display_name(Path(label).name, 30)}: writing")
                            faces = find_faces(result.image) if args.faces else []
                            face_count = {"faces_found": len(faces)} if args.faces else {}
                            # label: the path tells same-named files apart on the cover page
                            written = report.export(result, args.out, args.format, args.notes,
                                                    batch=batch, label=label, deep=deep,
                                                    color_scale=args.color_scale,
                                                    redact_location=args.redact_location)
                            row(file=label, status="ok", verdict=result.verdict,
                                fake_probability=f"{result.fake_probability:.6f}",
                                sha256=result.input_sha256, outputs=";".join(p.name for p in written.values()),
                                generator_hints=hints_cell(result),
                                **deep_fields(deep), **region_fields(result), **face_count)
                            analysed += 1
                            if faces:
                                bar.set_postfix_str(f"{report.display_name(Path(label).name, 30)}: faces")
                                analyze_faces(det, result, faces, args, label, row, batch)
                        bar.set_postfix_str("")
                        bar.update(1)
            analysed += analyze_videos(det, videos, args, row, batch)
        finally:
            if batch:
                batch.close()

    seconds = time.perf_counter() - started
    total = len(files) + len(videos) + len(missing)
    print(f"Analysed {analysed} of {total} file(s) in {seconds:.1f} s ({analysed / seconds:.2f} images/s); "
          f"{total - analysed} could not be read.")
    if skipped:
        print(f"Skipped {len(skipped)} other file(s) or folder(s) (hidden, not images, or the output "
              "folder): listed with the reason in summary.csv.")
    print(f"Summary: {summary_path}")
    if batch:
        print(f"Report:  {batch.path}")
    if det.model_info.demo:
        print(f"Note: {DEMO_WARNING.lower()}.")
    return 0 if analysed else 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "evaluate":
        return evaluation_report.run(args)
    return run_analyze(args, parser)
