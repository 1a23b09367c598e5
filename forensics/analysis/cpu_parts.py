"""A batch analysed on the CPU in parts side by side, one part per core.

Torch spreads each operation of one forward pass over all its threads. The ViT's operations are
small (577 tokens, 64 dimensions a head), so on a few cores the threads meet at every one of the
thousands of operations of a pass and wait for each other. Split into one part per thread, each
part forwarded on its own thread with one intra-op thread, every core stays on its own images.
Measured on 2 cores (bench/RESULTS.md, 2026-12-07): a batch of 8 analyses of 1200x900 photos
ran at 1.15 of plain classification's speed split in two parts, 0.96 in one.

Each image's numbers are those of a smaller batch: equal to float rounding (tests/test_cpu_parts.py).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import torch

_thread = threading.local()  # .in_part: this thread runs a part (a batch inside it is not split again)


def _start_part_thread(threads: int) -> None:
    torch.set_num_threads(threads)
    _thread.in_part = True


class CpuParts:
    """Runs `analyse(items, regions)` for parts of a batch on `parts` threads side by side, each
    thread with `threads // parts` torch intra-op threads (torch keeps the setting per thread, so
    the caller's own thread is left as it was). One part per thread of torch's by default."""

    def __init__(self, parts: int | None = None):
        threads = torch.get_num_threads()
        self.parts = max(1, parts if parts is not None else threads)
        self.threads_each = max(1, threads // self.parts)
        self._pool: ThreadPoolExecutor | None = None

    def split(self, n: int) -> list[slice]:
        """Consecutive slices of n items, at most `parts` of them, sizes differing by one at most."""
        k = max(1, min(self.parts, n))
        bounds = [i * n // k for i in range(k + 1)]
        return [slice(a, b) for a, b in zip(bounds, bounds[1:])]

    def map(self, analyse: Callable[[Sequence, Sequence], list], items: Sequence, regions: Sequence) -> list:
        """analyse(items[s], regions[s]) for each part s, side by side, concatenated in order."""
        slices = self.split(len(items))
        if len(slices) < 2 or getattr(_thread, "in_part", False):  # a part's own batch: no pool waits on itself
            return analyse(items, regions)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.parts, thread_name_prefix="analyse-part",
                                            initializer=_start_part_thread, initargs=(self.threads_each,))
        futures = [self._pool.submit(analyse, items[s], regions[s]) for s in slices]
        return [result for future in futures for result in future.result()]
