"""How a Ray job shares the cluster between decode tasks and analysis actors (forensics/scale.py).

Pure arithmetic on `ray.cluster_resources()`: checked before any work starts, so a job that
cannot fit fails at once with a message that says what would fit, instead of hanging.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..core.errors import InputError

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
