"""Benchmark: video frames analysed per second, decoding included, against plain classification.

    python bench/bench_video.py [--repeats 7] [--model DIR] [--clip FILE] [--frames 32]

The baseline is plain classification (training transform + SDPA forward, batch 8) of the very
frames `analyze_video` samples, already decoded; the measured path is `det.analyze_video` from
the file: probe, hash, straight-through decode, batched analysis (batch 8). Runs are interleaved,
medians reported; the ratio is frames/s analysed over frames/s classified (goal >= 0.7). Without
--clip a 720p, 10 s, 30 fps clip is written with OpenCV's VideoWriter (MPEG-4 Part 2, the codec
every opencv-python-headless wheel can write); --clip takes any file (an H.264 camera clip, say).
Appends a table to bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import interleaved, med, plain_classifier  # noqa: E402  (bench/bench.py, beside this file)
from forensics import Detector
from forensics.analysis import video  # noqa: E402
from forensics.core.preprocess import crop_input, to_tensor  # noqa: E402


def write_clip(path: Path, size=(1280, 720), seconds: float = 10.0, fps: float = 30.0) -> Path:
    """Moving structured content (gradients, a sliding disc and bars): a fair load for the decoder."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([x / w, y / h, 0.5 + 0.5 * np.sin(x / 23 + y / 37)], -1) * 255
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    n = int(seconds * fps)
    for i in range(n):
        img = np.roll(base, 4 * i, axis=1).astype(np.uint8)
        cv2.circle(img, (int(w * i / n), h // 2), h // 6, (255, 255, 255), -1)
        cv2.rectangle(img, (0, 0), (int(w * i / n), 24), (0, 0, 255), -1)
        writer.write(img)
    writer.release()
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--model", help="local model folder (default: demo weights, the real architecture)")
    ap.add_argument("--clip", help="a video file to use instead of the generated 720p clip")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"))
    args = ap.parse_args(argv)

    det = Detector.from_pretrained(args.model, device="cpu") if args.model else Detector.demo(device="cpu")
    plain = plain_classifier(det)
    clip = Path(args.clip) if args.clip else write_clip(Path(tempfile.mkdtemp()) / "bench720p.mp4")
    info = video.probe(clip)
    indices = video.plan(info, args.frames)
    frames = [img for _, _, img, _ in video.decode(clip, info, indices)]  # decoded once, for the baseline
    n, bs = len(frames), args.batch_size

    def classify():
        for start in range(0, n, bs):
            crops = [crop_input(img, det.transform)[0] for img in frames[start:start + bs]]
            with torch.inference_mode():
                torch.sigmoid(plain(to_tensor(crops, det.transform)).logits)

    def decode_only():
        i = video.probe(clip)
        for _ in video.decode(clip, i, video.plan(i, args.frames)):
            pass

    decoded = [(img, fi) for _, _, img, fi in video.decode(clip, info, indices)]

    def analyse_decoded():
        for start in range(0, n, bs):
            det.analyze_decoded(decoded[start:start + bs])

    runs = {"plain": classify, "video": lambda: det.analyze_video(clip, args.frames, batch_size=bs),
            "decode": decode_only, "analysis": analyse_decoded}
    t = interleaved(runs, args.repeats, warmup=1)
    fps = {k: n / med(v) for k, v in t.items()}
    pairs = [p / v for p, v in zip(t["plain"], t["video"])]
    ratio = fps["video"] / fps["plain"]

    rows = [
        (f"plain classification of the {n} decoded frames, batch {bs} (frames/s)", fps["plain"], "1.00"),
        (f"analyze_video, decode included, batch {bs} (frames/s)", fps["video"],
         f"{ratio:.3f} (median of pairs {med(pairs):.3f}; goal >= 0.7)"),
        (f"  of which probe + hash + decode of {info.frames_read or info.frame_count} stream frames (s)",
         med(t["decode"]), f"{med(t['decode']) / med(t['video']):.0%} of analyze_video"),
        (f"  analysis of the decoded frames alone (frames/s)", fps["analysis"],
         f"{fps['analysis'] / fps['plain']:.3f}"),
    ]
    header = (f"Video: {clip.name if args.clip else 'generated clip'} ({info.container}, {info.codec}, "
              f"{info.width}x{info.height}, {info.fps:g} fps, {info.frame_count} frames), {n} frames sampled\n"
              f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
              f"{torch.__version__} ({torch.get_num_threads()} threads), OpenCV {cv2.__version__}; weights: "
              f"{det.model_info.label}; {args.repeats} interleaved rounds, medians")
    table = ["| measurement | median | ratio / note |", "|---|---:|---|"]
    table += [f"| {name} | {value:.2f} | {note} |" for name, value, note in rows]
    text = header + "\n\n" + "\n".join(table) + "\n"
    print(text)
    results = Path(args.results)
    previous = results.read_text() if results.exists() else "# Benchmark results\n"
    results.write_text(previous.rstrip() + f"\n\n## Video run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M}\n\n"
                       + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
