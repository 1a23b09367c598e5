"""Benchmark: the double-JPEG indicator on a 1600x1200 JPEG, alone and within the metadata read.

    python bench/bench_double_jpeg.py [--repeats 15]

Two files: a single save at q92 (what a camera or the CLI bench writes) and a double save, q60
then q90 (what the indicator looks for). For each: `double_jpeg.check` given the decoded RGB (as
the metadata reader calls it), the whole `read_metadata`, and the textbook loop implementation kept
in the tests (`reference_check` in tests/test_laundering.py) when it is importable. Interleaved
rounds, medians in ms; the run also says whether the fast and textbook results are identical.

    python bench/bench_double_jpeg.py --cli [--rounds 5]

The CLI on 16 files (bench.py's bench_cli: 1200x900 JPEGs at q92, batch 8, demo weights), with
`--format json,csv`, timed with the fast check and with the textbook one swapped in, interleaved
with plain classification (the bare model's user: decode, transform, SDPA forward): the before and
after of the indicator in one process, on the same code otherwise.
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import interleaved, med, photo  # noqa: E402  (bench/bench.py, beside this file)
from forensics.inputs.metadata import double_jpeg, read_metadata  # noqa: E402


def jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def textbook():
    """The slow reference from the tests, or None where the tests are not beside the package."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from test_laundering import reference_check
    except ImportError:
        return None
    return reference_check


def cli_before_after(rounds: int, n: int = 16, batch: int = 8) -> None:
    """The CLI's json,csv throughput over plain classification, with the fast and the textbook check."""
    import tempfile
    from unittest import mock

    import torch

    from bench import plain_classifier
    from forensics import Detector, cli
    from forensics.core.preprocess import crop_input, to_tensor
    from forensics.inputs.images import load_image
    reference = textbook()
    if reference is None:
        raise SystemExit("--cli needs tests/test_laundering.py beside the package (the textbook check)")
    det = Detector.demo(device="cpu")
    plain = plain_classifier(det)
    folder = Path(tempfile.mkdtemp())
    for i in range(n):  # the files of bench.py's bench_cli
        photo(1200, 900, 100 + i).save(folder / f"img{i:02d}.jpg", quality=92)
    paths = sorted(folder.glob("*.jpg"))

    def classify():
        for start in range(0, n, batch):
            crops = [crop_input(load_image(Image.open(p))[0], det.transform)[0] for p in paths[start:start + batch]]
            with torch.inference_mode():
                torch.sigmoid(plain(to_tensor(crops, det.transform)).logits)

    def analyse():
        cli.main(["analyze", str(folder), "--out", tempfile.mkdtemp(), "--format", "json,csv",
                  "--batch-size", str(batch), "--demo"])

    def analyse_textbook():
        with mock.patch.object(double_jpeg, "check", reference):
            analyse()

    t = interleaved({"plain": classify, "fast": analyse, "textbook": analyse_textbook}, rounds, warmup=1)
    print(f"| CLI --format json,csv, {n} files of 1200x900, batch {batch} | images/s | / plain | median of pairs |")
    print("|---|---:|---:|---:|")
    print(f"| plain classification | {n / med(t['plain']):.2f} | 1.000 | |")
    for name, label in (("textbook", "with the textbook check (before)"), ("fast", "with the fast check (after)")):
        pairs = med([p / a for p, a in zip(t["plain"], t[name])])
        print(f"| {label} | {n / med(t[name]):.2f} | {med(t['plain']) / med(t[name]):.3f} | {pairs:.3f} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15, help="interleaved rounds")
    ap.add_argument("--cli", action="store_true", help="time the CLI's json,csv with the fast and the textbook check")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the CLI (--cli)")
    args = ap.parse_args(argv)
    if args.cli:
        cli_before_after(args.rounds)
        return 0
    image = photo(1600, 1200, 0)
    files = {"q92": jpeg(image, 92),
             "q60 then q90": jpeg(Image.open(io.BytesIO(jpeg(image, 60))).convert("RGB"), 90)}
    reference = textbook()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}; "
          f"1600x1200, {args.repeats} interleaved rounds, medians")
    print("| file | check (ms) | read_metadata (ms) | textbook reference (ms) | same result |")
    print("|---|---:|---:|---:|---|")
    for name, data in files.items():
        rgb = Image.open(io.BytesIO(data)).convert("RGB")
        table = list(Image.open(io.BytesIO(data)).quantization[0])
        runs = {"check": lambda: double_jpeg.check(data, table, rgb.size, rgb),
                "read_metadata": lambda: read_metadata(data, image=rgb)}
        if reference is not None:
            runs["reference"] = lambda: reference(data, table, rgb.size, rgb)
        t = interleaved(runs, args.repeats)
        fast = double_jpeg.check(data, table, rgb.size, rgb)
        same = "n/a" if reference is None else str(fast == reference(data, table, rgb.size, rgb))
        ref_ms = f"{med(t['reference']) * 1e3:.1f}" if reference is not None else "n/a"
        print(f"| {name} ({fast.judged} judged, {len(fast.votes)} votes) | {med(t['check']) * 1e3:.1f} | "
              f"{med(t['read_metadata']) * 1e3:.1f} | {ref_ms} | {same} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
