"""Benchmark: the native-resolution local scan (`checks.local_scan`) against one analysis.

    python bench/bench_local_scan.py [--repeats 3] [--model DIR]

1. A 12 MP photo (4000x3000): its scan at the default stride and cap against one `det.analyze`
   of the same photo (decode excluded: the photo is in memory), interleaved runs, medians; and
   the longest wait between two progress calls (what the page shows moving).
2. Windows per second, batched: the scan of a 1536x1152 photo (35 windows at stride 192) with
   batch sizes 1, 8 and 16, interleaved.
3. The window counts for 1, 12 and 48 MP images at the default stride and cap (no model run).

Demo weights (the real ViT-S/16-384 architecture; the cost does not depend on the weights) unless
--model.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import interleaved, med, photo  # noqa: E402  (bench/bench.py, beside this file)
from forensics import Detector, checks  # noqa: E402
from forensics.explain import local_scan as scan_module  # noqa: E402

SIZES = {"1 MP": (1155, 866), "12 MP": (4000, 3000), "48 MP": (8000, 6000)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None, help="a local model folder (default: demo weights)")
    args = ap.parse_args()
    det = Detector.load(args.model, demo=args.model is None)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), device {det.device}; medians of {args.repeats} interleaved runs")

    # 1. a 12 MP photo: the scan against one analysis
    big = photo(4000, 3000, 0)
    a = det.analyze(big)
    waits, last = [], [0.0]

    def progress(done, total):
        now = time.perf_counter()
        waits.append(now - last[0])
        last[0] = now

    def scan():
        last[0] = time.perf_counter()
        checks.local_scan(det, a, progress=progress)

    times = interleaved({"analysis": lambda: det.analyze(big), "scan": scan}, args.repeats, warmup=1)
    n = len(checks.local_scan(det, a).tiles)
    one, whole = med(times["analysis"]), med(times["scan"])
    print(f"  12 MP: one analysis {one:.3f} s; local scan ({n} windows, default stride and cap) {whole:.2f} s "
          f"= {whole / one:.1f}x one analysis; {n / whole:.2f} windows/s; longest wait between progress calls "
          f"{max(waits):.2f} s")

    # 2. windows per second by batch size
    mid = photo(1536, 1152, 1)
    a_mid = det.analyze(mid)
    count = len(checks.local_scan(det, a_mid).tiles)
    sizes = (1, 8, 16)
    times = interleaved({b: (lambda b=b: checks.local_scan(det, a_mid, batch_size=b)) for b in sizes},
                        args.repeats, warmup=1)
    for b in sizes:
        print(f"  batch {b:>2}: {count} windows in {med(times[b]):.2f} s = {count / med(times[b]):.2f} windows/s")

    # 3. window counts at the default stride and cap
    for label, size in SIZES.items():
        stride, xs, ys, unscanned = scan_module.plan(size)
        left = sum((r - l) * (b - t) for l, t, r, b in unscanned) / (size[0] * size[1])
        print(f"  {label} {size[0]}x{size[1]}: {len(xs) * len(ys)} windows ({len(xs)}x{len(ys)}), stride {stride}, "
              f"{left:.0%} of the area left out (cap {scan_module.MAX_WINDOWS})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
