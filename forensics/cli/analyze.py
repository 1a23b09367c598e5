"""`forensics analyze`: the options, and which engine runs them (local, or Ray Data)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..analysis.video import DEFAULT_FRAMES, VIDEO_EXTENSIONS
from ..batch import engine
from ..explain import checks, registry
from ..explain.rollout import HEAD_FUSIONS
from ..inputs.images import ACCEPTED_EXTENSIONS
from ..report import render
from .options import (_formats, _fraction, _pem_file, _positive, _region, _seconds, add_engine_arguments,
                      add_model_arguments, add_probe_argument, load_detector)

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
                 (P(AI) of the most suspicious full-coverage tile; blank if not tiled); with
                 --robustness also robustness (the delivery-path sweep's one-line judgement); with
                 --local-scan also local_scan (the scan's summary, or why it was not run); always
                 model_verdict (what P alone says), verdict_reasons (why the final call differs)
                 and conditions (applicability; ! when it blocks a call); with --probe also
                 probe_p (the analyst's probe's P, a second opinion beside P; images only)
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
  python -m forensics analyze a.jpg --out out --deep-check --method {registry.names()[-1]} --color-scale absolute
  python -m forensics analyze clip.mp4 stills/ --out out --every 2   # a frame each 2 s of the clip
"""



def add_parser(commands) -> argparse.ArgumentParser:
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
    add_probe_argument(p)
    p.add_argument("--method", choices=registry.names(), default=registry.BASELINE,
                   help="explanation: " + "; ".join(f"'{m.name}': {m.help}" for m in registry.methods())
                        + f" (default: {registry.BASELINE})")
    p.add_argument("--deep-check", action="store_true",
                   help="also check each explanation: deletion faithfulness, stability under re-saving, "
                        "rescaling and shifting, full-image tile coverage, and the reliability mask; "
                        "adds a PDF page, a JSON section and summary.csv columns (slower: see below)")
    p.add_argument("--robustness", action="store_true",
                   help="also sweep the delivery path of each image: re-sized to 2048/1080/720/512 px and "
                        "re-encoded as JPEG q95-q30 (up to 34 copies, one batched forward pass), to see "
                        "whether the verdict survives; adds a JSON section and a summary.csv column")
    p.add_argument("--local-scan", action="store_true",
                   help="also scan each image at native resolution in 384x384 windows (stride 192, at most "
                        f"{checks.LOCAL_SCAN_MAX_WINDOWS} windows) for one AI-edited region; a whole-image call "
                        "'real' with a region called AI-generated becomes inconclusive; adds a JSON section, a PDF "
                        "map and a summary.csv column (about one forward pass per window)")
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
    p.set_defaults(handler=run)
    return p


def run(args, parser) -> int:
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} exists and is not a folder")
    if args.demo and (args.revision or args.preprocessing != "training"):
        parser.error("--revision and --preprocessing hub need real weights, not --demo")
    if args.engine == "ray":
        return run_ray(args, parser)
    return engine.run_analyze(args, parser, load_detector)


def run_ray(args, parser) -> int:
    """--engine ray: the same paths and settings, analysed on a Ray cluster by forensics/scale.py."""
    for flag, given in (("--deep-check", args.deep_check), ("--faces", args.faces),
                        ("--robustness", args.robustness), ("--local-scan", args.local_scan),
                        ("--region", args.region is not None), ("--probe", bool(args.probe))):
        if given:
            parser.error(f"{flag} runs on the local engine only; leave out --engine ray")
    try:
        from ..scale import ray_engine as scale  # the one module that imports ray
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("ray", "pyarrow"):
            raise
        print("error: --engine ray needs Ray Data, which the default install leaves out: "
              "pip install -r requirements-scale.txt", file=sys.stderr)
        return 1
    skipped: list[tuple[str, str]] = []
    found, missing = engine.collect([p for p in args.paths if not scale.is_uri(p)], args.out, skipped)
    listed = ([(label, "error", message) for label, message in missing]
              + [(label, "skipped", reason) for label, reason in skipped]
              + [(label, "skipped", "not analysed: a video; the local engine (--engine local) analyses videos")
                 for label, path in found if engine.is_video_path(path)])
    sources = [str(path) for _, path in found if not engine.is_video_path(path)]
    return scale.main(args, sources + [p for p in args.paths if scale.is_uri(p)], listed)
