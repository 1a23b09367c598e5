"""Benchmark: the delivery-path sweep (`checks.robustness`) against one batched forward pass.

    python bench/bench_robustness.py [--repeats 3] [--size 1200x800] [--model DIR]

The baseline is one plain forward pass (`Detector.probabilities`) of as many ready-made 384x384
crops as the sweep has variants (27 for a 1200-px image): what the model alone costs. The sweep
makes every variant (LANCZOS resize, JPEG encode and decode, crop) on worker threads and runs the
model once on all crops (its default); it is also timed running the model on chunks of 9 as
they are made. Runs are interleaved, medians reported; goal: sweep / baseline <= 1.3. Demo weights
unless --model (the cost does not depend on the weights).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import interleaved, med  # noqa: E402  (bench/bench.py, beside this file)
from forensics import Detector, checks  # noqa: E402
from forensics.explain import robustness as sweep  # noqa: E402


def textured(width: int, height: int, seed: int = 0) -> Image.Image:
    """Gradients, a disc and sensor-like noise: JPEG has real work to do on it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([x / width, y / height, 0.5 + 0.5 * np.sin(x / 17 + y / 29)], -1) * 255
    img += rng.normal(0, 10, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", default="1200x800", help="WIDTHxHEIGHT of the test photo")
    ap.add_argument("--model", default=None, help="a local model folder (default: demo weights)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    det = Detector.load(args.model, demo=args.model is None)
    image = textured(w, h)
    a = det.analyze(image)
    n = len(sweep.grid(image.size)[2])
    crops = [a.model_input] * n
    swept = {}

    def baseline():
        det.probabilities(det.pixels(crops))  # (n,): one forward pass of n crops

    def default_chunks():
        swept["rob"] = checks.robustness(det, a)

    def chunks_of_9():
        checks.robustness(det, a, chunk=9)

    times = interleaved({"forward": baseline, "sweep": default_chunks, "sweep, chunks of 9": chunks_of_9},
                        args.repeats, warmup=1)
    base = med(times["forward"])
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__} ({torch.get_num_threads()} threads), device {det.device}; "
          f"{w}x{h} photo, {n} variants, medians of {args.repeats} interleaved runs")
    print(f"  one forward pass of {n} crops   {base:7.3f} s   1.00x")
    for name in ("sweep", "sweep, chunks of 9"):
        t = med(times[name])
        print(f"  {name:<29s}{t:7.3f} s   {t / base:.2f}x  (goal <= 1.3x)")
    print(f"  result: {swept['rob'].summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
