"""The local batch engine behind `python -m forensics analyze`: find the files, analyse them a
batch at a time, write each one's evidence and one summary.csv (clips through
`Detector.analyze_video`; `--engine ray` hands over to forensics/scale.py).

A file that cannot be read is listed in the summary with its reason and the run goes on;
nothing in a folder is skipped without a word.
"""
from __future__ import annotations

import csv
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import torch
from tqdm import tqdm

from ..analysis.detector import Detector
from ..core.errors import InputError, ModelUnavailableError
from ..evaluation.probe import Probe
from ..explain import checks
from .. import report
from ..analysis.faces import find_faces
from ..inputs.images import ACCEPTED_EXTENSIONS, load_image
from ..model.loading import DEMO_WARNING, sha256_or_blank
from ..core.preprocess import check_region
from ..report.provenance import hints_cell
from ..analysis.video import VIDEO_EXTENSIONS, is_video_path
from ..report import clip as video_report  # a clip's exports

SUMMARY_FIELDS = ("file", "status", "verdict", "fake_probability", "sha256", "error", "outputs",
                  "generator_hints",  # metadata hints: independent evidence, never part of P
                  "model_verdict", "verdict_reasons",  # what P alone says; why the final call differs
                  "conditions")  # applicability conditions (name, ! when it blocks a call)
DEEP_FIELDS = ("faithful", "fragile", "coverage_probability")  # added with --deep-check
REGION_FIELDS = ("region", "region_mode", "region_scale")  # added with --region or --faces
FACE_FIELDS = ("faces_found", "face", "whole_image_share")  # added with --faces
VIDEO_FIELDS = ("frames_sampled", "median_probability")  # added when videos are analysed
ROBUSTNESS_FIELDS = ("robustness",)  # added with --robustness: the sweep's one-line judgement
LOCAL_SCAN_FIELDS = ("local_scan",)  # added with --local-scan: the scan's summary, or why it was not run
PROBE_FIELDS = ("probe_p",)  # added with --probe: the analyst's probe's P, beside (never instead of) P


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


def decode_file(path: Path, region=None, c2pa_trust=None):
    """A file's decoded (RGB, InputInfo), or the message saying why it cannot be analysed.

    region: the same box for every file (--region), checked against each image before the pass.
    c2pa_trust: PEM trust anchors for the metadata reader's C2PA check (--c2pa-trust).
    """
    try:
        decoded = load_image(path, c2pa_trust=c2pa_trust)
        if region is not None:
            check_region(region, decoded[0].size)
        return decoded
    except InputError as exc:  # a broken file is set aside with its reason
        return str(exc)


def analyze_chunk(det: Detector, files: list[Path], decoded: dict, region=None, **settings) -> list:
    """One batched analysis of the readable files of a chunk -> per file an Analysis or an error message.
    decoded: path -> `decode_file`'s result for these files (the `ChunkDecoder` decodes ahead)."""
    results = dict(decoded)
    good = {path: d for path, d in results.items() if not isinstance(d, str)}
    if good:
        results.update(zip(good, det.analyze_decoded(list(good.values()), regions=[region] * len(good),
                                                      **settings)))
    return [results[path] for path in files]


class ChunkDecoder:
    """Decodes the files of a run a chunk ahead, each file on one of `workers` threads (one per
    torch thread by default): the first chunk while the detector loads, each next one while the
    model analyses the one before. Decoding and the metadata read (hashing, C2PA, EXIF, the
    double-JPEG check) are mostly single-threaded and release the GIL in their heavy parts, so
    they fill the gaps of the forward pass and of the model load. At most two chunks are held
    decoded at once."""

    def __init__(self, files: list, batch_size: int, region=None, c2pa_trust=None, workers: int | None = None):
        self.chunks = [files[start:start + batch_size] for start in range(0, len(files), batch_size)]
        self._decode = lambda path: decode_file(path, region, c2pa_trust)
        self._pool = ThreadPoolExecutor(workers or torch.get_num_threads(), thread_name_prefix="decode")
        self._next = self._submit(0)

    def _submit(self, n: int):
        """Chunk n's files put to the decoding threads -> [(path, future)] (None past the end)."""
        if n >= len(self.chunks):
            return None
        return [(path, self._pool.submit(self._decode, path)) for _, path in self.chunks[n]]

    def __iter__(self):
        """-> (chunk, {path: decode_file result}) in order."""
        try:
            for n, chunk in enumerate(self.chunks):
                decoded = {path: future.result() for path, future in self._next}
                self._next = self._submit(n + 1)
                yield chunk, decoded
        finally:
            self.close()

    def close(self) -> None:
        for _, future in self._next or ():
            future.cancel()
        self._next = None
        self._pool.shutdown(wait=True)


def analysed_chunks(det: Detector, files: list, args, decoder: ChunkDecoder | None = None):
    """-> (chunk, results) per --batch-size chunk of (label, path), decoded ahead by `decoder`
    (a `ChunkDecoder` of the same files). While the caller writes one chunk's PNG and PDF, the
    next chunk is analysed on a worker thread (torch releases the GIL), unless the caller needs
    the detector itself meanwhile (--deep-check, --faces, --robustness), or has nothing to
    overlap (JSON and CSV take ~9 ms an image; measured on 2 cores: all four formats
    1.32 -> 1.53 images/s with the worker; json,csv 4.88 without, 4.67 with it, and with the
    batch analysed in parts 1.026 without, 1.035 with it: no gain)."""
    decoder = decoder or ChunkDecoder(files, args.batch_size, args.region, args.c2pa_trust)

    def analyse(chunk, decoded):
        # embeddings: the reliability check reads the patch embeddings of this forward pass
        return analyze_chunk(det, [p for _, p in chunk], decoded, region=args.region,
                             method=args.method, head_fusion=args.head_fusion,
                             discard_ratio=args.discard_ratio, embeddings=args.deep_check)

    drawn = {"png", "pdf"} & set(args.format or ())
    if args.deep_check or args.faces or args.robustness or len(decoder.chunks) < 2 or not drawn:
        for chunk, decoded in decoder:
            yield chunk, analyse(chunk, decoded)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="analyse") as pool:
        ahead = iter(decoder)
        chunk = next(ahead)
        pending = pool.submit(analyse, *chunk)
        for following in ahead:
            results = pending.result()
            pending = pool.submit(analyse, *following)
            yield chunk[0], results
            chunk = following
        yield chunk[0], pending.result()


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
            row(file=label, status="ok", fake_probability=f"{face.fake_probability:.6f}",
                sha256=face.input_sha256, outputs=";".join(p.name for p in written.values()),
                generator_hints=hints_cell(face), **call_fields(face),
                face=i, whole_image_share=share, **region_fields(face))
            done += 1
    return done


def deep_check(det: Detector, analysis, bar: tqdm, label: str):
    """`checks.deep_check` with its steps shown on the progress bar."""
    name = report.display_name(Path(label).name, 30)

    def progress(fraction: float, text: str) -> None:
        bar.set_postfix_str(f"{name}: {text}")

    return checks.deep_check(det, analysis, progress=progress)


def robustness(det: Detector, analysis, bar: tqdm, label: str):
    """--robustness: `checks.robustness` (the delivery-path sweep), named on the progress bar."""
    bar.set_postfix_str(f"{report.display_name(Path(label).name, 30)}: re-encoding sweep")
    return checks.robustness(det, analysis)


def local_scan(det: Detector, analysis, bar: tqdm, label: str):
    """--local-scan: `checks.local_scan` with progress on the bar; the reason when an image cannot be
    scanned (too small), said in summary.csv instead of failing the run."""
    name = report.display_name(Path(label).name, 30)

    def progress(done: int, total: int) -> None:
        bar.set_postfix_str(f"{name}: local scan {done}/{total} windows")

    try:
        return checks.local_scan(det, analysis, progress=progress)
    except InputError as exc:
        tqdm.write(report.printable(f"{label}: no local scan: {exc}"), file=sys.stderr)
        return f"not scanned: {exc}"


def call_fields(analysis) -> dict:
    """The summary.csv columns of the call: the final verdict, P's own, why they differ, the conditions."""
    return {"verdict": analysis.verdict, "model_verdict": analysis.model_verdict,
            "verdict_reasons": "; ".join(analysis.verdict_reasons),
            "conditions": "; ".join(c.name + ("!" if c.blocks_verdict else "") for c in analysis.applicability)}


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
                row(file=label, status="error", error=str(exc), sha256=sha256_or_blank(path))
                if batch:
                    batch.add_error(label, str(exc))
                continue
            written = video_report.export(clip, args.out, args.format, args.notes, batch=batch, label=label)
        row(file=label, status="ok", verdict=clip.verdict,
            fake_probability=f"{clip.timeline.max_probability:.6f}", sha256=clip.info.sha256,
            outputs=";".join(p.name for p in written.values()), frames_sampled=len(clip.frames),
            median_probability=f"{clip.timeline.median_probability:.6f}")
        analysed += 1
    return analysed


def run_analyze(args, parser, load_detector) -> int:
    """The `analyze` command on the local engine; `load_detector(args)` gives the Detector."""
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
    # The first chunk is decoded while the model loads (both take a few hundred ms; on 2 cores
    # they run side by side).
    decoder = ChunkDecoder(files, args.batch_size, args.region, args.c2pa_trust)
    try:
        det = load_detector(args)
        probe = Probe.load(args.probe, det) if getattr(args, "probe", None) else None  # refused for another model
    except (ModelUnavailableError, InputError) as exc:
        decoder.close()
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
    fields += ROBUSTNESS_FIELDS if args.robustness else ()
    fields += LOCAL_SCAN_FIELDS if getattr(args, "local_scan", False) else ()
    fields += PROBE_FIELDS if probe is not None else ()
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
                for chunk, results in analysed_chunks(det, files, args, decoder):
                    for (label, path), result in zip(chunk, results):
                        if isinstance(result, str):
                            tqdm.write(report.printable(f"skipped {label}: {result}"), file=sys.stderr)
                            row(file=label, status="error", error=result, sha256=sha256_or_blank(path))
                            if batch:
                                batch.add_error(label, result)
                        else:
                            deep = deep_check(det, result, bar, label) if args.deep_check else None
                            if deep is not None:
                                bar.set_postfix_str(f"{report.display_name(Path(label).name, 30)}: writing")
                            rob = robustness(det, result, bar, label) if args.robustness else None
                            result = result.with_robustness(rob)  # the stability rule takes part in the call
                            scan = local_scan(det, result, bar, label) if getattr(args, "local_scan", False) else None
                            if isinstance(scan, checks.LocalScan):  # a region called AI demotes a "real" call
                                result = result.with_local_scan(scan)
                            faces = find_faces(result.image) if args.faces else []
                            face_count = {"faces_found": len(faces)} if args.faces else {}
                            # label: the path tells same-named files apart on the cover page
                            probed = probe.record(result) if probe is not None else None
                            written = report.export(result, args.out, args.format, args.notes,
                                                    batch=batch, label=label, deep=deep,
                                                    color_scale=args.color_scale,
                                                    redact_location=args.redact_location, robustness=rob,
                                                    sections=None if probed is None else {"probe": probed})
                            row(file=label, status="ok", **call_fields(result),
                                fake_probability=f"{result.fake_probability:.6f}",
                                sha256=result.input_sha256, outputs=";".join(p.name for p in written.values()),
                                generator_hints=hints_cell(result),
                                **deep_fields(deep), **region_fields(result), **face_count,
                                **({"robustness": rob.summary} if rob is not None else {}),
                                **({"local_scan": scan if isinstance(scan, str) else scan.summary} if scan else {}),
                                **({"probe_p": f"{probed['fake_probability']:.6f}"} if probed is not None else {}))
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
    if probe is not None:
        print(f"Probe: {probe.label}; its P is in summary.csv (probe_p) and each JSON record (probe), beside the "
              "model's P, which it never replaces.")
    if det.model_info.demo:
        print(f"Note: {DEMO_WARNING.lower()}.")
    return 0 if analysed else 1
