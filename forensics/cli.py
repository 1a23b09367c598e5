"""`python -m forensics analyze PATH... --out DIR`: batch analysis with evidence exports.

Thin by design: it finds files, feeds them to `Detector.analyze_decoded` a batch at a time and
hands each `Analysis` to `report.export`. A file that cannot be read is listed in the summary
and the run goes on.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

from . import Detector, InputError, ModelUnavailableError, __version__, checks, render, report
from .analysis import DEFAULT_INCONCLUSIVE_MARGIN, METHODS
from .explain import HEAD_FUSIONS
from .inputs import ACCEPTED_EXTENSIONS, load_image
from .model import ENV_MODEL, PINNED_REPO, sha256_file

SUMMARY_FIELDS = ("file", "status", "verdict", "fake_probability", "sha256", "error", "outputs")
DEEP_FIELDS = ("faithful", "fragile", "coverage_probability")  # added with --deep-check

EPILOG = f"""\
outputs (in --out; existing files are never overwritten, clashing names get -1, -2, ...):
  <stem>.png     the original with the heatmap, crop outline, verdict and provenance burned in
  <stem>.pdf     a report page: images, patch grid, top 10 patches, limits, provenance, notes;
                 with --deep-check a second page: badges, deletion curve, stability table,
                 full-coverage tiles and the reliability mask
  <stem>.json    the full record (result, 24x24 scores, provenance, the command that re-creates it;
                 with --deep-check a "deep_check" section with every number of that page)
  <stem>.csv     all 576 patches: rank, row, col, box in the 384 input, box in the original, score
  summary.csv    one row per file: status ok/error, verdict, probability, sha256, error, outputs;
                 with --deep-check also faithful (yes/no), fragile (yes/no), coverage_probability
                 (P(AI) of the most suspicious full-coverage tile; blank if not tiled)
  report.pdf     a cover page with the summary table, then every image's pages (with pdf format)

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
                        f"{', '.join(ACCEPTED_EXTENSIONS)} files (hidden files are skipped)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help="folder for the results (created if missing)")
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
    p.add_argument("--method", choices=METHODS, default="attention-rollout",
                   help="explanation: 'attention-rollout' (where attention flowed, nearly free) or "
                        "'grad-rollout' (what pushed the AI-generated score; adds a backward pass and "
                        "reports how far the two methods agree) (default: attention-rollout)")
    p.add_argument("--deep-check", action="store_true",
                   help="also check each explanation: deletion faithfulness, stability under re-saving, "
                        "rescaling and shifting, full-image tile coverage, and the reliability mask; "
                        "adds a PDF page, a JSON section and summary.csv columns (slower: see below)")
    p.add_argument("--color-scale", choices=report.COLOR_SCALES, default="image",
                   help="heatmap colours in the PNG and PDF: 'image' scales each image to its own "
                        "strongest patch (every image shows a hot spot); 'absolute' puts full colour at "
                        f"{100 * render.ABSOLUTE_VMAX:g}%% of the flow per patch (uniform is "
                        f"{100 * report.UNIFORM_SHARE:.2f}%%), so images can be compared by colour (default: image)")
    p.add_argument("--head-fusion", choices=HEAD_FUSIONS, default="mean",
                   help="how the attention heads of a block are combined for rollout (default: mean)")
    p.add_argument("--discard-ratio", type=_fraction(0.0, 1.0), default=0.0, metavar="R",
                   help="zero the weakest R of each block's attention before rollout, 0 <= R < 1 "
                        "(default: 0)")
    p.add_argument("--inconclusive-margin", type=_fraction(0.0, 0.5), default=DEFAULT_INCONCLUSIVE_MARGIN,
                   metavar="M", help="P(AI-generated) within 0.5 +/- M is reported as inconclusive "
                                     f"(default: {DEFAULT_INCONCLUSIVE_MARGIN})")
    p.add_argument("--format", type=_formats, default=report.FORMATS, metavar="LIST",
                   help="comma-separated subset of png,pdf,json,csv to write per image (default: all)")
    p.add_argument("--notes", default="", metavar="TEXT",
                   help="analyst notes printed in every PDF and stored in every JSON record")
    p.add_argument("--batch-size", type=_positive, default=8, metavar="N",
                   help="images per forward pass (default: 8)")
    p.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:1, ... (default: auto)")
    return parser


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


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return int(text)


def _formats(text: str) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(t.strip().lower() for t in text.split(",") if t.strip()))
    bad = [t for t in items if t not in report.FORMATS]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"choose from {','.join(report.FORMATS)}, got {text!r}")
    return items


def collect(paths, out_dir: Path) -> tuple[list[tuple[str, Path]], list[tuple[str, str]]]:
    """-> ([(label, file)], [(label, error)]): files named explicitly, plus images under folders.

    Folders are walked in sorted order without following links; hidden entries and the output
    folder itself (a re-run into the same tree) are skipped; each file is taken once.
    """
    found, missing, seen = [], [], set()
    skip = out_dir.resolve()

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
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and Path(root, d).resolve() != skip)
                for name in sorted(files):
                    if not name.startswith(".") and name.lower().endswith(ACCEPTED_EXTENSIONS):
                        take(os.path.join(root, name), Path(root, name))
        else:
            missing.append((str(given), f"No file or folder at {given}."))
    return found, missing


def analyze_chunk(det: Detector, files: list[Path], **settings) -> list:
    """One forward pass for the readable files of a chunk -> per file an Analysis or an error message."""
    results, good = {}, {}
    for path in files:  # each file is decoded once; a broken one is set aside with its reason
        try:
            good[path] = load_image(path)
        except InputError as exc:
            results[path] = str(exc)
    if good:
        results.update(zip(good, det.analyze_decoded(list(good.values()), **settings)))
    return [results[path] for path in files]


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


def _sha256_or_blank(path: Path) -> str:
    # Unreadable images are evidence too: record what the file was, when it can be read at all.
    try:
        return sha256_file(path)
    except OSError:
        return ""


def load_detector(args) -> Detector:
    if args.demo:
        return Detector.demo(device=args.device, inconclusive_margin=args.inconclusive_margin)
    return Detector.from_pretrained(args.model, revision=args.revision, device=args.device,
                                    preprocessing=args.preprocessing,
                                    inconclusive_margin=args.inconclusive_margin)


def run_analyze(args, parser) -> int:
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} exists and is not a folder")
    if args.demo and (args.revision or args.preprocessing != "training"):
        parser.error("--revision and --preprocessing hub need real weights, not --demo")
    files, missing = collect(args.paths, args.out)
    for label, message in missing:
        print(f"error: {report.printable(message)}", file=sys.stderr)
    if not files:
        print("error: no image files found in the given paths "
              f"(looked for {', '.join(ACCEPTED_EXTENSIONS)}).", file=sys.stderr)
        return 1
    try:
        det = load_detector(args)
    except ModelUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if det.model_info.demo:
        print(f"warning: {report.DEMO_WARNING.lower()}", file=sys.stderr)

    args.out.mkdir(parents=True, exist_ok=True)
    summary_path = args.out / f"{report.claim_stem(args.out, 'summary', ['csv'])}.csv"
    batch = None
    if "pdf" in args.format:
        report_path = args.out / f"{report.claim_stem(args.out, 'report', ['pdf'])}.pdf"
        batch = report.BatchReport(report_path, args.notes)
    analysed, started = 0, time.perf_counter()
    fields = SUMMARY_FIELDS + (DEEP_FIELDS if args.deep_check else ())
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
            desc = "analysing + deep check" if args.deep_check else "analysing"
            with tqdm(total=len(files), unit="img", desc=desc, file=sys.stderr, dynamic_ncols=True) as bar:
                for start in range(0, len(files), args.batch_size):
                    chunk = files[start:start + args.batch_size]
                    # embeddings: the reliability check reads the patch embeddings of this forward pass
                    results = analyze_chunk(det, [p for _, p in chunk], method=args.method,
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
                            # label: the path tells same-named files apart on the cover page
                            written = report.export(result, args.out, args.format, args.notes,
                                                    batch=batch, label=label, deep=deep,
                                                    color_scale=args.color_scale)
                            row(file=label, status="ok", verdict=result.verdict,
                                fake_probability=f"{result.fake_probability:.6f}",
                                sha256=result.input_sha256, outputs=";".join(p.name for p in written.values()),
                                **deep_fields(deep))
                            analysed += 1
                        bar.set_postfix_str("")
                        bar.update(1)
        finally:
            if batch:
                batch.close()

    seconds = time.perf_counter() - started
    total = len(files) + len(missing)
    print(f"Analysed {analysed} of {total} file(s) in {seconds:.1f} s ({analysed / seconds:.2f} images/s); "
          f"{total - analysed} could not be read.")
    print(f"Summary: {summary_path}")
    if batch:
        print(f"Report:  {batch.path}")
    if det.model_info.demo:
        print(f"Note: {report.DEMO_WARNING.lower()}.")
    return 0 if analysed else 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return run_analyze(args, parser)
