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
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray

from ..explain import registry
from ..analysis import applicability
from ..analysis.applicability import Condition
from ..analysis.detector import Detector
from ..analysis.result import Analysis
from ..inputs.images import ACCEPTED_EXTENSIONS, load_image
from ..core.errors import InputError
from ..model.loading import DEMO_WARNING, ENV_MODEL, ModelInfo, resolve_source
from ..core.errors import ModelUnavailableError
from ..core.preprocess import GRID, INPUT_SIZE, Transform, crop_input, hub_transform
from ..model.spec import TRAINING
from ..core.verdict import DEFAULT_INCONCLUSIVE_MARGIN
from .plan import DECODE_MEMORY, MIN_WORKER_CPUS, ClusterTooSmall, Plan, plan_resources  # noqa: F401
from .table import SCHEMA, TOP_PATCHES, WIRE_SCHEMA, provenance, result_fields  # noqa: F401

RESULTS_FILE = "results.parquet"
def decode(row: dict, transform: Transform, keep_bytes: bool, c2pa_trust: str | None = None) -> dict:
    """One file's bytes -> the 384x384 crop and where it came from, or the reason it is unreadable."""
    data = row["bytes"]
    # "" not None for no error: a block where every value is None reaches the actors as NaNs
    out = {"path": row["path"], "sha256": hashlib.sha256(data).hexdigest(), "num_bytes": len(data),
           "error": "", "crop": np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.uint8), "input": None,
           "geometry": None, "applicability": "[]", "bytes": data if keep_bytes else b""}
    try:
        rgb, info = load_image(data, name=os.path.basename(row["path"]), c2pa_trust=c2pa_trust)
    except InputError as exc:
        out["error"] = str(exc)
        return out
    crop, geometry = crop_input(rgb, transform)
    # read here, where the original is: the actors see only the crop
    out.update(crop=np.asarray(crop, dtype=np.uint8), input=info, geometry=geometry,
               applicability=json.dumps([c.record() for c in applicability.conditions(rgb, info, geometry)]))
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
        return Detector.load(self.source, demo=self.demo, revision=self.revision, device=self.device,
                             preprocessing=self.preprocessing, inconclusive_margin=self.inconclusive_margin,
                             calibration=self.calibration)

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
    method: str = registry.BASELINE
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
                                        preprocessing=self.transform,
                                        applicability=tuple(Condition(**c) for c in json.loads(batch["applicability"][i])))
                row.update(result_fields(a))
            else:
                row.update(status="error", error=batch["error"][i], preprocessing=self.transform.name,
                           **provenance(self.feed, self.method))
            rows.append(row)
        return pa.Table.from_pylist(rows, schema=WIRE_SCHEMA)


def _image(array):
    from PIL import Image
    return Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8), "RGB")


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

    compared = row["method"] != registry.BASELINE
    primary = grid("patch_scores")
    model = ModelInfo(source=row["model_source"], revision=row["model_revision"],
                      weights_sha256=row["model_weights_sha256"], pinned=row["model_pinned"],
                      demo=row["model_demo"], num_parameters=row["model_num_parameters"])
    return Analysis(fake_probability=row["fake_probability"], logit=row["logit"], model_verdict=row["model_verdict"],
                    inconclusive_margin=row["inconclusive_margin"], patch_scores=primary,
                    head_fusion=row["head_fusion"], discard_ratio=row["discard_ratio"], geometry=geometry,
                    input=info, image=rgb, model_input=crop, model=model, preprocessing=transform,
                    method=row["method"], created_utc=row["created_utc"],
                    rollout_scores=grid("rollout_scores") if compared else primary,
                    method_scores={row["method"]: primary} if compared else {}, calibration=calibration,
                    applicability=tuple(Condition(**c) for c in row["applicability"] or ()))


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
    from .. import report  # matplotlib and friends: only the driver draws

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
        from .. import report
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

    from ..core import calibration

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
