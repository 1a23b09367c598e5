"""The Ray Data engine: `python -m forensics analyze INPUTS --out DIR --engine ray`.

Ray Data's documented batch-inference pattern, in three stages:

    read_binary_files  ->  map(decode)             ->  map_batches(Analyzer)     ->  driver
    files as bytes         CPU tasks: load_image,      actors, detector loaded       results.parquet
    (folder, s3://, ...)   crop_input (384x384)        once: verdict + rollout       (+ exports)

Only the 384x384 crops travel to the actors (442 KB each, not a 36 MB decoded photo), so GPU
actors do nothing but the forward pass. The driver streams the rows into one results.parquet
and, when --format asks for them, writes the same per-image files as the local engine: the
exports are drawn on the driver, from the bytes the pipeline carried and the actors' numbers.

The only module of the package that imports ray (an optional install: requirements-scale.txt).
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray

from . import __version__
from .analysis import Analysis, Detector
from .inputs import ACCEPTED_EXTENSIONS, InputError, load_image
from .model import DEMO_WARNING, ENV_MODEL, ModelInfo, ModelUnavailableError, resolve_source
from .preprocess import GRID, INPUT_SIZE, TRAINING, Transform, crop_input, hub_transform
from .verdict import DEFAULT_INCONCLUSIVE_MARGIN

RESULTS_FILE = "results.parquet"
TOP_PATCHES = 10
# An actor below half a CPU gets too little time to finish its forward passes in a sensible
# time; measured on 2 CPUs: two actors at 0.5 CPU each finish, two at 1 CPU each hang.
MIN_WORKER_CPUS = 0.5
# Memory asked for per read/decode task: the largest image load_image accepts (89 MP) decodes to
# ~270 MB of RGB beside its source. Asking for it also keeps these tasks apart from the actors:
# Ray fuses a map into the next one when their resource requests are equal, and decoding would
# then run inside the (GPU) actors instead of beside them.
DECODE_MEMORY = 1024**3


class ClusterTooSmall(InputError):
    """The workers asked for cannot be placed on the cluster; the message says what fits."""


# -- resources ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """How the cluster is shared between the decode tasks and the analysis actors."""

    workers: int              # actors, each holding one detector
    cpus_per_worker: float    # Ray's logical CPUs per actor (torch threads: its whole part, >= 1)
    gpus_per_worker: float
    decode_cpus: float        # per read/decode task; at least this much is never given to actors

    @property
    def torch_threads(self) -> int:
        return max(1, int(self.cpus_per_worker))


def plan_resources(cluster: dict, workers: int | None = None, gpus_per_worker: float = 0.0) -> Plan:
    """Size the actors so that the read/decode stage always has CPU left, or raise ClusterTooSmall.

    Ray schedules by logical resources: actors that ask for every CPU leave none for the read
    tasks, and the job waits forever without an error (measured here: 2 actors x 1 CPU on 2 CPUs).
    So CPU for decoding is set aside first: on CPU workers an eighth of the cluster's CPUs, at
    least 1 (decoding a photo costs ~30 ms against ~700 ms for a forward pass on one core); on
    GPU workers everything but one CPU per actor, since there decoding is the bottleneck.
    """
    cpus = float(cluster.get("CPU", 0))
    gpus = float(cluster.get("GPU", 0))
    if workers is not None and workers < 1:
        raise ClusterTooSmall(f"--workers must be 1 or more, got {workers}.")
    if cpus < 1:
        raise ClusterTooSmall(f"The Ray cluster reports {cpus:g} CPUs; it needs at least 1 to read and "
                              "decode images. Check the cluster with `ray status`.")
    if gpus_per_worker < 0:
        raise ClusterTooSmall(f"--gpus-per-worker must be 0 or more, got {gpus_per_worker:g}.")
    if gpus_per_worker > 0:
        if gpus < gpus_per_worker:
            raise ClusterTooSmall(f"--gpus-per-worker {gpus_per_worker:g} asks for GPUs, but the Ray cluster "
                                  f"has {gpus:g}. Add GPU nodes, or leave out --gpus-per-worker to run on CPUs.")
        fit = int(gpus // gpus_per_worker + 1e-9)
        spare = cpus - 1.0  # one CPU's worth for decoding at the least
        if workers is None:  # as many as the GPUs hold and the CPUs can feed
            workers = max(1, min(fit, int(spare // MIN_WORKER_CPUS)))
        if workers > fit:
            raise ClusterTooSmall(f"{workers} workers x {gpus_per_worker:g} GPU need {workers * gpus_per_worker:g} "
                                  f"GPUs; the Ray cluster has {gpus:g}. Use --workers {fit} or fewer.")
        cpu_each = min(1.0, spare / workers) if spare > 0 else 0.0
        if cpu_each < MIN_WORKER_CPUS:
            most = max(0, int(spare // MIN_WORKER_CPUS))
            raise ClusterTooSmall(f"{workers} GPU workers need {MIN_WORKER_CPUS:g} CPU each beside 1 CPU for "
                                  f"decoding; the Ray cluster has {cpus:g} CPUs. Use --workers {most} or fewer.")
        return Plan(workers, cpu_each, gpus_per_worker, min(1.0, cpus - workers * cpu_each))
    reserve = max(1.0, math.ceil(cpus / 8)) if cpus >= 2 else cpus / 2
    spare = cpus - reserve
    most = int(spare // MIN_WORKER_CPUS)
    workers = max(1, int(spare)) if workers is None else workers
    if workers > most:
        hint = f"Use --workers {most} or fewer" if most else "Use a cluster with 2 CPUs or more"
        raise ClusterTooSmall(f"{workers} CPU workers do not fit: the Ray cluster has {cpus:g} CPUs, {reserve:g} of "
                              f"them kept for reading and decoding, and each worker needs at least "
                              f"{MIN_WORKER_CPUS:g}. {hint}, or add nodes.")
    share = spare / workers
    cpu_each = float(int(share)) if share >= 1 else share  # whole CPUs where possible: torch threads
    return Plan(workers, cpu_each, 0.0, min(1.0, reserve))


# -- stage 1: decode and crop, in CPU tasks ----------------------------------------------------

def decode(row: dict, transform: Transform, keep_bytes: bool, c2pa_trust: str | None = None) -> dict:
    """One file's bytes -> the 384x384 crop and where it came from, or the reason it is unreadable."""
    data = row["bytes"]
    # "" not None for no error: a block where every value is None reaches the actors as NaNs
    out = {"path": row["path"], "sha256": hashlib.sha256(data).hexdigest(), "num_bytes": len(data),
           "error": "", "crop": np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.uint8), "input": None,
           "geometry": None, "bytes": data if keep_bytes else b""}
    try:
        rgb, info = load_image(data, name=os.path.basename(row["path"]), c2pa_trust=c2pa_trust)
    except InputError as exc:
        out["error"] = str(exc)
        return out
    crop, geometry = crop_input(rgb, transform)
    out.update(crop=np.asarray(crop, dtype=np.uint8), input=info, geometry=geometry)
    return out


def pass_through(transform: Transform) -> Transform:
    """The same normalisation with a 384 -> 384 resize, so `analyze_decoded` leaves a crop as it is.

    (Pillow returns a copy for a same-size resize, and the centre crop of a 384 square is all of
    it.) The actors get crops the decode tasks already made; this runs the detector's own
    batched analysis on them unchanged instead of a second copy of it here.
    """
    return dataclasses.replace(transform, size=INPUT_SIZE, crop_size=INPUT_SIZE, resize="exact")


# -- stage 2: the analysis actors --------------------------------------------------------------

@dataclass(frozen=True)
class ModelSpec:
    """What every actor loads. `source` None: the worker's $FORENSICS_MODEL, else the pinned model."""

    source: str | None = None
    revision: str | None = None
    demo: bool = False
    preprocessing: str = "training"
    inconclusive_margin: float = DEFAULT_INCONCLUSIVE_MARGIN
    device: str = "auto"
    calibration: object = None  # a calibration.Calibration, read on the driver (--calibration)

    def load(self) -> Detector:
        if self.demo:
            det = Detector.demo(device=self.device, inconclusive_margin=self.inconclusive_margin)
        else:
            det = Detector.from_pretrained(self.source, revision=self.revision, device=self.device,
                                           preprocessing=self.preprocessing,
                                           inconclusive_margin=self.inconclusive_margin)
        return det if self.calibration is None else det.with_calibration(self.calibration)

    def transform(self) -> Transform:
        """The input transform, known on the driver so the decode tasks crop as the actors expect."""
        if self.demo or self.preprocessing == "training":
            return TRAINING
        folder, _, _ = resolve_source(self.source, self.revision)  # the config sits beside the weights
        try:
            return hub_transform(folder / "preprocessor_config.json")
        except (FileNotFoundError, ValueError) as exc:
            raise ModelUnavailableError(f"preprocessing='hub': {exc}") from None


@dataclass(frozen=True)
class MethodSpec:
    method: str = "attention-rollout"
    head_fusion: str = "mean"
    discard_ratio: float = 0.0


class Analyzer:
    """A Ray Data actor: loads the detector once, then analyses batches of crops."""

    def __init__(self, spec: ModelSpec, method: MethodSpec, transform: Transform, torch_threads: int):
        import torch
        torch.set_num_threads(torch_threads)  # what Ray granted this actor, not the node's core count
        det = spec.load()
        if det.transform != transform:
            raise ModelUnavailableError(
                f"this worker's weights use the {det.transform.name} transform {det.transform.describe()}, "
                f"the driver cropped with {transform.describe()}: give every node the same --model files.")
        self.feed = copy.copy(det)  # the same network and settings, fed the decode tasks' crops as they are
        self.feed.transform = pass_through(det.transform)
        self.transform, self.method = transform, method

    def __call__(self, batch: dict) -> pa.Table:
        ok = [i for i, error in enumerate(batch["error"]) if not error]
        decoded = [(_image(batch["crop"][i]), batch["input"][i]) for i in ok]
        found = self.feed.analyze_decoded(decoded, self.method.head_fusion, self.method.discard_ratio,
                                          method=self.method.method) if decoded else []
        analyses = dict(zip(ok, found))
        rows = []
        for i, path in enumerate(batch["path"]):
            row = {"path": str(path), "name": os.path.basename(str(path)), "sha256": batch["sha256"][i],
                   "num_bytes": int(batch["num_bytes"][i]), "bytes": batch["bytes"][i] or None}
            if i in analyses:
                # the crop's analysis, placed back in the original: geometry and input facts
                a = dataclasses.replace(analyses[i], geometry=batch["geometry"][i], input=batch["input"][i],
                                        preprocessing=self.transform)
                row.update(result_fields(a))
            else:
                row.update(status="error", error=batch["error"][i], preprocessing=self.transform.name,
                           **provenance(self.feed, self.method))
            rows.append(row)
        return pa.Table.from_pylist(rows, schema=WIRE_SCHEMA)


def _image(array):
    from PIL import Image
    return Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8), "RGB")


# -- the table ---------------------------------------------------------------------------------

_BOX = pa.list_(pa.int32(), 4)
_SCORES = pa.list_(pa.float32(), GRID * GRID)
_PATCH = pa.struct([("rank", pa.int16()), ("row", pa.int8()), ("col", pa.int8()), ("score", pa.float32()),
                    ("box_original", _BOX)])

# One row per file. Scores are float32: what the float32 forward pass resolves (7 digits).
SCHEMA = pa.schema([
    ("path", pa.string()),               # as Ray lists it: absolute local path, or bucket/key
    ("name", pa.string()),
    ("status", pa.string()),             # ok | error | skipped
    ("error", pa.string()),              # why the file was not analysed (status error/skipped)
    ("sha256", pa.string()),             # of the file's bytes, also for unreadable files
    ("num_bytes", pa.int64()),
    ("format", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
    ("fake_probability", pa.float64()),  # P(AI-generated) the verdict uses (calibrated with --calibration)
    ("raw_probability", pa.float64()),   # sigmoid(logit), the model's own
    ("logit", pa.float64()),
    ("calibration", pa.string()),        # what calibrated fake_probability; null: none
    ("verdict", pa.string()),            # ai-generated | real | inconclusive
    ("crop_box", _BOX),                  # (left, top, right, bottom) analysed, original pixels
    ("coverage", pa.float64()),          # share of the image area the model saw
    ("patch_scores", _SCORES),           # 24x24 row-major, sum 1: scores of `method`
    ("rollout_scores", _SCORES),         # attention rollout, when `method` is grad-rollout
    ("method_agreement", pa.float64()),  # top-10% IoU of the two methods (grad-rollout only)
    ("top_patches", pa.list_(_PATCH)),   # the 10 strongest, rank 1 first
    ("notes", pa.list_(pa.string())),    # the caveats every export prints
    ("generator_hints", pa.list_(pa.string())),  # from the file's metadata, never mixed into P
    ("method", pa.string()), ("head_fusion", pa.string()), ("discard_ratio", pa.float64()),
    ("preprocessing", pa.string()), ("inconclusive_margin", pa.float64()),
    ("model_source", pa.string()), ("model_revision", pa.string()), ("model_weights_sha256", pa.string()),
    ("model_pinned", pa.bool_()), ("model_demo", pa.bool_()), ("model_num_parameters", pa.int64()),
    ("forensics_version", pa.string()), ("created_utc", pa.string()),
])
# What the actors hand the driver: the table plus the file's bytes when exports were asked for.
WIRE_SCHEMA = SCHEMA.append(pa.field("bytes", pa.binary()))


def provenance(det: Detector, method: MethodSpec) -> dict:
    """The columns that say how a row was made: model and method (error rows carry them too)."""
    m = det.model_info
    return {"method": method.method, "head_fusion": method.head_fusion, "discard_ratio": method.discard_ratio,
            "inconclusive_margin": det.inconclusive_margin,
            "model_source": m.source, "model_revision": m.revision, "model_weights_sha256": m.weights_sha256,
            "model_pinned": m.pinned, "model_demo": m.demo, "model_num_parameters": m.num_parameters,
            "forensics_version": __version__}


def result_fields(a: Analysis) -> dict:
    """One analysis -> its columns of SCHEMA."""
    m, meta = a.model, a.input.metadata
    grad = a.method == "grad-rollout"
    return {
        "status": "ok", "error": None, "format": a.input.format, "width": a.input.width, "height": a.input.height,
        "fake_probability": a.fake_probability, "raw_probability": a.raw_probability, "logit": a.logit,
        "calibration": None if a.calibration is None else a.calibration.label, "verdict": a.verdict,
        "crop_box": list(a.crop_box), "coverage": a.coverage,
        "patch_scores": a.patch_scores.ravel().astype(np.float32),
        "rollout_scores": a.rollout_scores.ravel().astype(np.float32) if grad else None,
        "method_agreement": a.method_agreement,
        "top_patches": [{"rank": p["rank"], "row": p["row"], "col": p["col"], "score": p["score"],
                         "box_original": list(p["box_original"])} for p in a.top_patches(TOP_PATCHES)],
        "notes": a.notes(),
        "generator_hints": None if meta is None else [f"{h.generator} ({h.field}: {h.text})" for h in meta.hints],
        "method": a.method, "head_fusion": a.head_fusion, "discard_ratio": a.discard_ratio,
        "preprocessing": a.preprocessing.name, "inconclusive_margin": a.inconclusive_margin,
        "model_source": m.source, "model_revision": m.revision, "model_weights_sha256": m.weights_sha256,
        "model_pinned": m.pinned, "model_demo": m.demo, "model_num_parameters": m.num_parameters,
        "forensics_version": __version__, "created_utc": a.created_utc,
    }


# -- the driver --------------------------------------------------------------------------------

@dataclass
class Outcome:
    path: Path                 # results.parquet (or results-1.parquet, ...: nothing is overwritten)
    analysed: int = 0
    unreadable: int = 0
    seconds: float = 0.0       # from submitting the job to the last row
    first_seconds: float = 0.0  # to the first rows: mostly starting the workers and loading the model
    plan: Plan | None = None
    report: Path | None = None  # the batch report.pdf, when pdf was among the formats
    exported: int = 0


def is_uri(text: str) -> bool:
    """s3://, gs://, local://, ...: handed to Ray as given (a local path is collected first)."""
    return "://" in text


def connect(address: str | None) -> bool:
    """Join the cluster at `address` (or reuse a connection already made, or start a local one).

    -> whether this call started Ray (and must shut it down). The package travels with the job
    (`py_modules`), so worker nodes need its dependencies, not a copy of this folder.
    """
    if ray.is_initialized():
        return False
    env = {"py_modules": [str(Path(__file__).parent)]}
    if os.environ.get(ENV_MODEL):  # the driver's choice of weights holds on every worker
        env["env_vars"] = {ENV_MODEL: os.environ[ENV_MODEL]}
    ray.init(address=address, runtime_env=env, include_dashboard=False, logging_level="WARNING",
             configure_logging=True)
    return True


def build_dataset(sources: list[str], transform: Transform, spec: ModelSpec, method: MethodSpec,
                  plan: Plan, batch_size: int, keep_bytes: bool, c2pa_trust: str | None = None):
    """read -> decode (CPU tasks) -> analyse (actor pool): Ray Data's batch-inference pattern."""
    local = [os.path.abspath(s) for s in sources if not is_uri(s)]  # workers need not share our cwd
    remote = [s for s in sources if is_uri(s)]
    reads = []
    if local:  # collected like the local engine does: explicitly named files are read whatever their name
        reads.append(ray.data.read_binary_files(local, include_paths=True, num_cpus=plan.decode_cpus,
                                                memory=DECODE_MEMORY))
    for uri in remote:  # Ray lists these itself (recursively; it skips names starting with . or _)
        reads.append(ray.data.read_binary_files(
            uri, include_paths=True, num_cpus=plan.decode_cpus, memory=DECODE_MEMORY,
            file_extensions=[e.lstrip(".") for e in ACCEPTED_EXTENSIONS]))
    ds = reads[0].union(*reads[1:]) if len(reads) > 1 else reads[0]
    # InputInfo and Geometry ride along as Python objects (Ray serialises them); saying so
    # explicitly is also what stops Ray warning about it on every block
    ds.context.enable_fallback_to_arrow_object_ext_type = True
    ds = ds.map(decode, fn_kwargs={"transform": transform, "keep_bytes": keep_bytes, "c2pa_trust": c2pa_trust},
                num_cpus=plan.decode_cpus, memory=DECODE_MEMORY)  # fused with the read, not the actors
    return ds.map_batches(
        Analyzer, fn_constructor_kwargs={"spec": spec, "method": method, "transform": transform,
                                         "torch_threads": plan.torch_threads},
        batch_size=batch_size, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=plan.workers),
        num_cpus=plan.cpus_per_worker, num_gpus=plan.gpus_per_worker or None)


def analysis_from_row(row: dict, transform: Transform, calibration=None, c2pa_trust: str | None = None) -> Analysis:
    """A parquet row plus the file's bytes -> the Analysis the local engine would export.

    The image is decoded again on the driver (the actors only saw the crop); the numbers are the
    actors' (scores at float32 precision).
    """
    rgb, info = load_image(row["bytes"], name=row["name"], c2pa_trust=c2pa_trust)
    crop, geometry = crop_input(rgb, transform)

    def grid(column):
        values = row[column]
        return None if values is None else np.asarray(values, np.float64).reshape(GRID, GRID)

    grad = row["method"] == "grad-rollout"
    primary = grid("patch_scores")
    model = ModelInfo(source=row["model_source"], revision=row["model_revision"],
                      weights_sha256=row["model_weights_sha256"], pinned=row["model_pinned"],
                      demo=row["model_demo"], num_parameters=row["model_num_parameters"])
    return Analysis(fake_probability=row["fake_probability"], logit=row["logit"], verdict=row["verdict"],
                    inconclusive_margin=row["inconclusive_margin"], patch_scores=primary,
                    head_fusion=row["head_fusion"], discard_ratio=row["discard_ratio"], geometry=geometry,
                    input=info, image=rgb, model_input=crop, model=model, preprocessing=transform,
                    method=row["method"], created_utc=row["created_utc"],
                    rollout_scores=grid("rollout_scores") if grad else primary,
                    relevance_scores=primary if grad else None, calibration=calibration)


def run(sources: list[str], out_dir: Path, spec: ModelSpec, method: MethodSpec = MethodSpec(), *,
        batch_size: int = 8, address: str | None = None, workers: int | None = None,
        gpus_per_worker: float = 0.0, formats=(), notes: str = "", color_scale: str = "image",
        redact_location: bool = False, c2pa_trust: str | None = None, listed=(), progress=None) -> Outcome:
    """Analyse `sources` (local files, or URIs Ray lists) on a Ray cluster into out_dir/results.parquet.

    `listed`: (path, status, reason) rows written as they are (missing paths, skipped files).
    `c2pa_trust`: a PEM file every worker can read at that path (the metadata's C2PA check).
    `progress`: called with each finished block's row count. Raises ClusterTooSmall before any
    work when the workers do not fit, ModelUnavailableError when the weights cannot be had.
    Connects with `connect(address)` unless Ray is already initialised; then the caller's
    `ray.init` must ship the package too (`runtime_env={"py_modules": [<forensics folder>]}`).
    """
    from . import report  # matplotlib and friends: only the driver draws

    transform = spec.transform()
    if address is None and not os.environ.get("RAY_ADDRESS") and not spec.demo:
        # the workers run on this machine: a missing model fails now, not after they start
        resolve_source(spec.source, spec.revision)
    started_ray = connect(address)
    try:
        plan = plan_resources(ray.cluster_resources(), workers, gpus_per_worker)
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = report.claim_stem(out_dir, Path(RESULTS_FILE).stem, ["parquet"])  # never overwrites
        outcome = Outcome(out_dir / f"{stem}.parquet", plan=plan)
        batch = None
        if "pdf" in formats:
            batch = report.BatchReport(out_dir / f"{report.claim_stem(out_dir, 'report', ['pdf'])}.pdf", notes)
            outcome.report = batch.path
        ray.data.DataContext.get_current().enable_progress_bars = progress is None  # no two bars at once
        ds = build_dataset(sources, transform, spec, method, plan, batch_size, keep_bytes=bool(formats),
                           c2pa_trust=c2pa_trust)
        exports = _Exports(out_dir, formats, transform, spec.calibration, notes, color_scale, redact_location,
                           c2pa_trust, batch)
        clock = time.perf_counter()
        with pq.ParquetWriter(outcome.path, SCHEMA) as writer:
            if listed:
                writer.write_table(pa.Table.from_pylist(
                    [{"path": p, "name": os.path.basename(p), "status": s, "error": r} for p, s, r in listed],
                    schema=SCHEMA))
            try:
                for table in _batches(ds):
                    writer.write_table(table.select(SCHEMA.names).cast(SCHEMA))
                    status = table.column("status").to_pylist()
                    outcome.first_seconds = outcome.first_seconds or time.perf_counter() - clock
                    outcome.analysed += status.count("ok")
                    outcome.unreadable += len(status) - status.count("ok")
                    if formats:
                        outcome.exported += exports.write(table)
                    if progress:
                        progress(len(status))
            finally:
                if batch:
                    batch.close()
        outcome.seconds = time.perf_counter() - clock
        return outcome
    finally:
        if started_ray:
            ray.shutdown()


def _batches(ds):
    """The finished rows, a block at a time; an actor that could not load the model says why."""
    try:
        yield from ds.iter_batches(batch_size=None, batch_format="pyarrow")
    except ray.exceptions.ActorDiedError as exc:
        # Ray keeps only the text of a constructor's traceback: recover our message from it
        found = re.findall(r"ModelUnavailableError: (.+)", exc.error_msg or "")
        if found:
            raise ModelUnavailableError(f"a Ray worker could not load the model: {found[-1].strip()}") from None
        raise


@dataclass
class _Exports:
    """The local engine's per-image files, drawn on the driver from the rows as they arrive."""

    out_dir: Path
    formats: tuple
    transform: Transform
    calibration: object
    notes: str
    color_scale: str
    redact_location: bool
    c2pa_trust: str | None
    batch: object  # report.BatchReport or None

    def write(self, table: pa.Table) -> int:
        from . import report
        done = 0
        for row in table.to_pylist():
            if row["status"] != "ok":
                if self.batch:
                    self.batch.add_error(row["path"], row["error"])
                continue
            a = analysis_from_row(row, self.transform, self.calibration, self.c2pa_trust)
            report.export(a, self.out_dir, self.formats, self.notes, batch=self.batch, label=row["path"],
                          color_scale=self.color_scale, redact_location=self.redact_location)
            done += 1
        return done


# -- the command line (`analyze --engine ray`; forensics/cli.py parses and collects) ----------

def main(args, sources: list[str], listed: list[tuple[str, str, str]]) -> int:
    """Run `sources` with the parsed `analyze` arguments; print what happened -> exit status.

    `listed`: (path, status, reason) of what the local collection could not or would not take.
    """
    import sys

    from tqdm import tqdm

    from . import calibration

    if not sources:
        print("error: no image files found in the given paths.", file=sys.stderr)
        return 1
    try:
        cal = calibration.load(args.calibration) if args.calibration else None
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    spec = ModelSpec(source=args.model, revision=args.revision, demo=args.demo, preprocessing=args.preprocessing,
                     inconclusive_margin=args.inconclusive_margin, device=args.device, calibration=cal)
    method = MethodSpec(args.method, args.head_fusion, args.discard_ratio)
    total = None if any(is_uri(s) for s in sources) else len(sources)  # Ray lists URIs itself
    bars = []

    def progress(rows: int) -> None:  # the bar appears with the first results, not before a refusal
        if not bars:
            bars.append(tqdm(total=total, unit="img", desc="analysing on Ray", file=sys.stderr, dynamic_ncols=True))
        bars[0].update(rows)

    # Ray Data's progress and plan logs would interleave with the bar (its errors still show, and
    # everything goes to the session's ray-data.log); set RAY_DATA_LOG_LEVEL=INFO to see them
    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")
    try:
        outcome = run(sources, args.out, spec, method, batch_size=args.batch_size, address=args.address,
                      workers=args.workers, gpus_per_worker=args.gpus_per_worker, formats=args.format or (),
                      notes=args.notes, color_scale=args.color_scale, redact_location=args.redact_location,
                      c2pa_trust=str(args.c2pa_trust) if args.c2pa_trust else None, listed=listed,
                      progress=progress)
    except (ClusterTooSmall, ModelUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for bar in bars:
            bar.close()
    p = outcome.plan
    rate = outcome.analysed / outcome.seconds if outcome.seconds else 0.0
    gpus = f" + {p.gpus_per_worker:g} GPU" if p.gpus_per_worker else ""
    print(f"Analysed {outcome.analysed} of {outcome.analysed + outcome.unreadable} file(s) in {outcome.seconds:.1f} s "
          f"({rate:.2f} images/s, the first after {outcome.first_seconds:.1f} s: workers starting) on {p.workers} "
          f"Ray worker(s) of {p.cpus_per_worker:g} CPU{gpus}; {outcome.unreadable} could not be read.")
    if listed:
        print(f"Listed {len(listed)} path(s) not analysed (missing, hidden, not images, videos): with the reason "
              "in the results.")
    print(f"Results: {outcome.path}")
    if outcome.report:
        print(f"Report:  {outcome.report}")
    if args.demo:
        print(f"Note: {DEMO_WARNING.lower()}.")
    return 0 if outcome.analysed else 1
