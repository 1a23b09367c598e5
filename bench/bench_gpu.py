"""Analyses per second on a CUDA GPU (fp16 autocast, as `model.forward` runs there), against
plain classification of the same decoded images on the same card, interleaved, medians.

    python bench/bench_gpu.py [--rounds 7] [--images 64]

Demo weights: the real ViT-S/16-384 architecture, so real timings. Both sides start from
decoded RGB images and include the training transform (resize, centre crop, normalise):
plain = transform + SDPA forward + sigmoid; analysis = `Detector.analyze_decoded` (transform,
attention-capturing forward, rollout, the Analysis objects).
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from forensics import Detector  # noqa: E402
from forensics.inputs.images import load_image  # noqa: E402
from forensics.explain.rollout import attention_rollout, head_fuser  # noqa: E402
from forensics.model.capture import forward  # noqa: E402
from forensics.core.preprocess import crop_input  # noqa: E402


def photos(n: int, size=(1600, 1200)) -> list:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        y, x = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
        img = np.stack([x / size[0], y / size[1], 0.5 + 0.5 * np.sin(x / (9 + i) + y / 23)], -1)
        img += rng.normal(0, 0.02, img.shape).astype(np.float32)
        buf = io.BytesIO()
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
        out.append(load_image(buf.getvalue(), name=f"photo{i}.jpg"))
    return out


def timed(fn) -> float:
    torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - start


HEADER = f"{'batch':>5} {'plain img/s':>12} {'analysis img/s':>15} {'ratio':>6}"


def compare(batch: int, count: int, plain, analysis, rounds: int) -> None:
    """Warm both up, time them interleaved `rounds` times, print the rates of the medians."""
    plain(), analysis()  # warm-up: kernels, autotuning, allocator
    p_times, a_times = [], []
    for _ in range(rounds):
        p_times.append(timed(plain))
        a_times.append(timed(analysis))
    p_rate, a_rate = count / statistics.median(p_times), count / statistics.median(a_times)
    print(f"{batch:>5} {p_rate:12.1f} {a_rate:15.1f} {a_rate / p_rate:6.3f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--images", type=int, default=64)
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: this benchmark is for a GPU machine", file=sys.stderr)
        return 2
    det = Detector.demo(device="cuda")
    decoded = photos(args.images)
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}, {args.images} decoded 1600x1200 "
          f"images, fp16 autocast, {args.rounds} interleaved rounds (medians)")
    print(HEADER)
    for batch in (1, 8, 32, 64):
        chunks = [decoded[i:i + batch] for i in range(0, len(decoded), batch)]

        def plain():
            for chunk in chunks:
                det.probabilities(det.pixels([crop_input(rgb, det.transform)[0] for rgb, _ in chunk]))

        def analysis():
            for chunk in chunks:
                det.analyze_decoded(chunk)

        compare(batch, len(decoded), plain, analysis, args.rounds)

    # The model alone: normalised tensors already on the card, so the CPU transform drops out.
    print("model only (pixels on the GPU): plain SDPA forward vs capture forward + rollout")
    print(HEADER)
    crops = [crop_input(rgb, det.transform)[0] for rgb, _ in decoded]
    for batch in (1, 8, 32, 64):
        tensors = [det.pixels(crops[i:i + batch]).cuda() for i in range(0, len(crops), batch)]

        def plain_model():
            for t in tensors:
                det.probabilities(t)

        def analysis_model():
            for t in tensors:
                attention_rollout(forward(det.model, t, fuse=head_fuser(("mean",))).attention["mean"])

        compare(batch, len(crops), plain_model, analysis_model, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
