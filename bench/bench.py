"""Benchmark: what the explanation costs over plain classification, on this machine.

    python bench/bench.py [--repeats 15] [--model DIR] [--skip-app]

Measures in one process, interleaved (plain, analysis, plain, analysis, ...), and reports
medians and ratios; writes bench/RESULTS.md. Without --model it uses the demo weights: the
real ViT-S/16-384 architecture, so timings are those of the real model.
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forensics import Detector
from forensics import render  # noqa: E402
from forensics.analysis.cpu_parts import CpuParts  # noqa: E402
from forensics.inputs.images import load_image  # noqa: E402
from forensics.explain.rollout import HEAD_FUSIONS, head_fuser  # noqa: E402
from forensics.model.capture import ATTENTION_IMPLEMENTATION, forward  # noqa: E402
from forensics.core.preprocess import crop_input, to_tensor  # noqa: E402


def photo(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([x / width, y / height, 0.5 + 0.5 * np.sin(x / 13 + y / 31)], -1)
    img += rng.normal(0, 0.03, img.shape).astype(np.float32)
    return Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(fns: dict, repeats: int, warmup: int = 2) -> dict[str, list[float]]:
    """Run each function in turn, `repeats` rounds; returns the seconds of each run per name."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return times


def med(xs) -> float:
    return statistics.median(xs)


def plain_classifier(det: Detector):
    """What a user of the bare model pays: training transform + SDPA forward."""
    plain = copy.deepcopy(det.model)  # its own config: the attention setting is per config
    plain.set_attn_implementation("sdpa")
    plain.eval().requires_grad_(False)
    return plain


def bench_core(det, repeats, rows, notes):
    plain = plain_classifier(det)
    img = photo(1600, 1200, 0)

    def classify():
        rgb, _ = load_image(img)
        crop, _ = crop_input(rgb, det.transform)
        with torch.inference_mode():
            return torch.sigmoid(plain(to_tensor([crop], det.transform)).logits)

    def analyze():
        return det.analyze(img)

    t = interleaved({"plain": classify, "analysis": analyze}, repeats)
    ratios = [a / p for a, p in zip(t["analysis"], t["plain"])]
    rows.append(("plain classification, batch 1 (ms)", med(t["plain"]) * 1e3, "1.00"))
    rows.append(("analysis: verdict + rollout, batch 1 (ms)", med(t["analysis"]) * 1e3,
                 f"{med(t['analysis']) / med(t['plain']):.3f} (median of pairs {med(ratios):.3f})"))
    notes["analysis_ratio"] = med(t["analysis"]) / med(t["plain"])

    # Where the analysis time goes: forward with capture vs rollout maths.
    crop, _ = crop_input(img, det.transform)
    pixels = to_tensor([crop], det.transform)
    res = forward(det.model, pixels, fuse=head_fuser(("mean",)))
    from forensics.explain.rollout import attention_rollout
    t2 = interleaved({"prep": lambda: crop_input(img, det.transform),
                      "rollout": lambda: attention_rollout(res.attention["mean"])}, repeats)
    rows.append(("  of which preprocessing (ms)", med(t2["prep"]) * 1e3, ""))
    rows.append(("  of which rollout maths (ms)", med(t2["rollout"]) * 1e3, ""))
    kept = sum(m.element_size() * m.nelement() for m in res.attention.values())
    rows.append(("attention kept per analysis (MB)", kept / 1e6, "goal <= 16"))
    kept_all = sum(m.element_size() * m.nelement() for m in forward(det.model, pixels, fuse=head_fuser(HEAD_FUSIONS)).attention.values())
    rows.append(("  with all 3 fusions kept for re-rendering (MB)", kept_all / 1e6, "app only"))
    return plain


def bench_batch(det, plain, repeats, rows, notes, batch=8):
    imgs = [photo(1200, 900, i) for i in range(batch)]

    def classify():
        crops = [crop_input(load_image(i)[0], det.transform)[0] for i in imgs]
        with torch.inference_mode():
            return torch.sigmoid(plain(to_tensor(crops, det.transform)).logits)

    t = interleaved({"plain": classify, "analysis": lambda: det.analyze_batch(imgs)}, max(3, repeats // 3), warmup=1)
    plain_ips, ana_ips = batch / med(t["plain"]), batch / med(t["analysis"])
    rows.append((f"plain classification, batch {batch} (images/s)", plain_ips, "1.00"))
    rows.append((f"analysis, batch {batch} (images/s)", ana_ips, f"{ana_ips / plain_ips:.3f} (goal >= 0.8)"))
    notes["batch_ratio"] = ana_ips / plain_ips


def bench_cli(det, plain, rows, notes, model_args, n=16, batch=8, rounds=3):
    """The CLI end to end on n images (decode, batched analysis, exports), vs plain classification."""
    from forensics import cli  # cli.main: the `forensics` command's entry point
    folder = Path(tempfile.mkdtemp())
    for i in range(n):
        photo(1200, 900, 100 + i).save(folder / f"img{i:02d}.jpg", quality=92)
    paths = sorted(folder.glob("*.jpg"))

    def classify(decode):
        for start in range(0, n, batch):
            crops = [crop_input(decode(p), det.transform)[0] for p in paths[start:start + batch]]
            with torch.inference_mode():
                torch.sigmoid(plain(to_tensor(crops, det.transform)).logits)

    # The bare model's user decodes the file (EXIF-upright RGB) and nothing more; the tool's own
    # load_image also hashes the bytes and reads the metadata (C2PA, EXIF, XMP, double JPEG), which
    # is the CLI's work, not plain classification's. Both are timed, the first is the baseline.
    parts = CpuParts()

    def classify_in_parts():  # the tool's scheduling of a CPU batch applied to plain classification
        def part(chunk, _):
            crops = [crop_input(load_image(Image.open(p))[0], det.transform)[0] for p in chunk]
            with torch.inference_mode():
                return torch.sigmoid(plain(to_tensor(crops, det.transform)).logits).tolist()
        for start in range(0, n, batch):
            chunk = paths[start:start + batch]
            parts.map(part, chunk, [None] * len(chunk))

    runs = {"plain": lambda: classify(lambda p: load_image(Image.open(p))[0]),
            "plain + metadata": lambda: classify(lambda p: load_image(p)[0]),
            "plain in parts": classify_in_parts}
    for formats in ("json,csv", "png,pdf,json,csv"):
        runs[formats] = (lambda f=formats: cli.main(["analyze", str(folder), "--out", tempfile.mkdtemp(),
                                                      "--format", f, "--batch-size", str(batch), *model_args]))
    t = interleaved(runs, rounds, warmup=1)
    plain_ips = n / med(t["plain"])
    rows.append((f"CLI-equivalent plain classification of {n} files, batch {batch} (images/s)", plain_ips, "1.00"))
    meta_ips = n / med(t["plain + metadata"])
    rows.append(("  the same, decoded by the tool's load_image with its metadata read (images/s)", meta_ips,
                 f"{meta_ips / plain_ips:.3f}"))
    parts_ips = n / med(t["plain in parts"])
    rows.append((f"  the same in {len(parts.split(batch))} parts side by side, as the tool schedules a CPU batch "
                 "(images/s)", parts_ips, f"{parts_ips / plain_ips:.3f}"))
    for formats, goal in (("json,csv", 0.9), ("png,pdf,json,csv", 0.6)):
        ips = n / med(t[formats])
        pairs = med([p / f for p, f in zip(t["plain"], t[formats])])
        rows.append((f"CLI --format {formats} (images/s)", ips,
                     f"{ips / plain_ips:.3f} (median of pairs {pairs:.3f}; goal >= {goal})"))
        notes[f"cli {formats}"] = ips / plain_ips
        notes[f"cli {formats} / plain in parts"] = ips / parts_ips


def bench_render(det, repeats, rows):
    a = det.analyze(photo(4000, 3000, 1))
    fns = {"overlay on 384 input": lambda: render.overlay_input(a),
           "overlay on original (4000x3000 shown at 1600)": lambda: render.overlay_original(a),
           "24x24 grid figure to PNG": lambda: render.grid_figure(a).savefig(tempfile.TemporaryFile(), format="png"),
           "ledger of 576 patches": lambda: a.top_patches()}
    try:
        from forensics import report
        out = Path(tempfile.mkdtemp())
        fns["report: annotated PNG"] = lambda: report.write_png(a, out / "a.png")
        fns["report: PDF page"] = lambda: report.write_pdf(a, out / "a.pdf")
        fns["report: JSON + CSV"] = lambda: (report.write_json(a, out / "a.json"), report.write_csv(a, out / "a.csv"))
    except (ImportError, AttributeError):
        pass
    t = interleaved(fns, max(3, repeats // 3), warmup=1)
    for name, xs in t.items():
        rows.append((f"render: {name} (ms)" if not name.startswith("report") else f"{name} (ms)", med(xs) * 1e3,
                     "goal <= 60 (issue 24)" if name == "report: PDF page" else ""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def bench_app(det, rows, notes, model_args, repeats=7, browser=True):
    """The app as an analyst meets it: time to ready, `/analyze` through gradio_client, and in
    Debian's Chromium the drop of a 1600x1200 JPEG until its verdict shows; each interleaved with
    one in-process analysis of the same file, so the ratios are side by side."""
    if not (ROOT / "app.py").exists():
        rows.append(("app: time to ready", float("nan"), "app.py missing"))
        return
    port = free_port()
    start = time.perf_counter()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), *model_args, "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        while time.perf_counter() - start < 180:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        ready = time.perf_counter() - start
        from gradio_client import Client, handle_file
        folder = Path(tempfile.mkdtemp())
        jpegs = []
        for i in range(repeats + 2):  # a different file each round: the page analyses every new one
            jpegs.append(folder / f"drop{i:02d}.jpg")
            photo(1600, 1200, 300 + i).save(jpegs[-1], quality=90)
        client = Client(url, verbose=False)
        client.predict(handle_file(str(jpegs[0])), api_name="/analyze")
        first = time.perf_counter() - start
        t = interleaved({"api": lambda: client.predict(handle_file(str(jpegs[0])), api_name="/analyze"),
                         "analysis": lambda: det.analyze(jpegs[0])}, repeats, warmup=1)
        ratios = [a / b for a, b in zip(t["api"], t["analysis"])]
        rss_kb = int(next(l for l in open(f"/proc/{proc.pid}/status") if l.startswith("VmRSS")).split()[1])
        rows.append(("app: start to serving page (s)", ready, ""))
        rows.append(("app: start to first served analysis (s)", first, ""))
        rows.append(("app: /analyze through gradio_client, 1600x1200 JPEG (ms)", med(t["api"]) * 1e3,
                     f"{med(t['api']) / med(t['analysis']):.2f}x one analysis ({med(t['analysis']) * 1e3:.0f} ms; "
                     f"median of pairs {med(ratios):.2f}x; goal <= 3x)"))
        notes["api_ratio"] = med(t["api"]) / med(t["analysis"])
        if browser:
            bench_browser(det, url, jpegs, repeats, rows, notes)
        rss_kb = max(rss_kb, int(next(l for l in open(f"/proc/{proc.pid}/status")
                                      if l.startswith("VmRSS")).split()[1]))
        rows.append(("app: process RSS after analyses (MB)", rss_kb / 1024, ""))
    except Exception as exc:  # the benchmark reports, it does not crash
        rows.append(("app: time to ready", float("nan"), f"failed: {type(exc).__name__}: {exc}"))
    finally:
        proc.terminate()
        proc.wait(10)


# Set before each drop: when the verdict card first holds the file's SHA-256, the page notes the
# time of that change and of the next animation frame (when it is painted). Playwright's expect()
# polls at growing intervals (100, 250, 500 ms...), which added up to ~0.4 s to each reading.
WATCH_VERDICT = """sha => {
    window.__verdict_shown = null;
    const card = document.querySelector('#verdict');
    const watch = new MutationObserver(() => {
        if (window.__verdict_shown || !card.textContent.includes(sha)) return;
        watch.disconnect();
        requestAnimationFrame(() => { window.__verdict_shown = performance.now(); });
    });
    watch.observe(card, {subtree: true, childList: true, characterData: true});
    return performance.now();
}"""


def bench_browser(det, url, jpegs, repeats, rows, notes):
    """Chromium (Debian's, headless): a new 1600x1200 JPEG set on the drop zone -> the first frame
    painted with its SHA-256 in the verdict card, timed in the page's own clock. After a warm-up
    drop; interleaved with one in-process analysis of the same file."""
    import hashlib
    import shutil
    from playwright.sync_api import sync_playwright
    chromium = shutil.which("chromium")
    if not chromium:
        rows.append(("Chromium: drop -> verdict", float("nan"), "not measured: no chromium on PATH"))
        return
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url)
            page.locator("#verdict").wait_for()  # the page is laid out
            upload = page.locator("#input-image input[type=file]")
            files = iter(jpegs)

            picture = "#overlay-original img"
            shown = f"() => {{ const i = document.querySelector('{picture}'); return i ? i.src : ''; }}"

            def drop() -> float:
                """-> seconds from the file being set on the drop zone to the verdict painted."""
                path = next(files)
                start = page.evaluate(WATCH_VERDICT, hashlib.sha256(path.read_bytes()).hexdigest())
                upload.set_input_files(str(path))
                page.wait_for_function("() => window.__verdict_shown", timeout=60_000)
                return (page.evaluate("window.__verdict_shown") - start) / 1e3

            def settled(before: str):
                """Untimed: the rest of the page (heatmap decoded) is in, so the browser is idle
                again before the in-process analysis is timed."""
                page.wait_for_function(f"() => {{ const i = document.querySelector('{picture}'); "
                                       f"return i && i.src !== {before!r} && i.complete && i.naturalWidth > 0; }}",
                                       timeout=60_000)

            before = page.evaluate(shown)
            drop()  # warm-up: first render of every component
            settled(before)
            times, analysis = [], []
            for path in jpegs[1:repeats + 1]:
                before = page.evaluate(shown)
                times.append(drop())
                settled(before)
                analysis.append(timed(lambda: det.analyze(path)))
            assert upload.count() == 1
        finally:
            browser.close()
    ratios = [a / b for a, b in zip(times, analysis)]
    rows.append(("Chromium: drop 1600x1200 JPEG -> verdict painted (ms)", med(times) * 1e3,
                 f"{med(times) / med(analysis):.2f}x one analysis ({med(analysis) * 1e3:.0f} ms; "
                 f"median of pairs {med(ratios):.2f}x; goal <= 2.5x)"))
    notes["browser_ratio"] = med(times) / med(analysis)


def bench_gpu(rows):
    if not torch.cuda.is_available():
        rows.append(("GPU (fp16 autocast)", float("nan"), "not measured: no GPU on this machine"))
        return
    det = Detector.demo(device="cuda")
    plain = plain_classifier(det).cuda()
    img = photo(1600, 1200, 0)

    def classify():
        crop, _ = crop_input(img, det.transform)
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16):
            out = torch.sigmoid(plain(to_tensor([crop], det.transform).cuda()).logits).item()
        return out

    t = interleaved({"plain": classify, "analysis": lambda: det.analyze(img)}, 30)
    rows.append((f"GPU {torch.cuda.get_device_name()} plain, batch 1 (ms)", med(t["plain"]) * 1e3, "1.00"))
    rows.append(("GPU analysis, batch 1 (ms)", med(t["analysis"]) * 1e3, f"{med(t['analysis']) / med(t['plain']):.3f}"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15, help="interleaved rounds per measurement")
    ap.add_argument("--model", help="local weights folder (default: demo weights, same architecture)")
    ap.add_argument("--skip-app", action="store_true", help="do not start the app")
    ap.add_argument("--skip-cli", action="store_true", help="do not time the CLI end to end")
    ap.add_argument("--skip-browser", action="store_true", help="do not time the page in Chromium")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"), help="where to write the table")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    det = Detector.from_pretrained(args.model, device="cpu") if args.model else Detector.demo(device="cpu")
    rows, notes = [], {}
    plain = bench_core(det, args.repeats, rows, notes)
    bench_batch(det, plain, args.repeats, rows, notes)
    bench_render(det, args.repeats, rows)
    if not args.skip_cli:
        bench_cli(det, plain, rows, notes, ["--model", args.model] if args.model else ["--demo"],
                  rounds=max(3, args.repeats // 3))
    if not args.skip_app:
        bench_app(det, rows, notes, ["--model", args.model] if args.model else ["--demo"],
                  repeats=max(5, args.repeats // 2), browser=not args.skip_browser)
    bench_gpu(rows)

    header = (f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"torch {torch.__version__} ({torch.get_num_threads()} threads), Python {platform.python_version()}\n"
              f"Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; weights: "
              f"{det.model_info.label}; {args.repeats} interleaved rounds, medians")
    table = ["| measurement | median | ratio / note |", "|---|---:|---|"]
    table += [f"| {name} | {value:.2f} | {note} |" for name, value, note in rows]
    goals = [("CLI, all four formats, throughput / plain classification", "cli png,pdf,json,csv", ">= 0.5"),
             ("CLI --format json,csv / plain", "cli json,csv", ">= 0.9"),
             ("  the same / plain scheduled in parts like the tool (for comparison)", "cli json,csv / plain in parts", "none"),
             ("app /analyze through gradio_client / one analysis", "api_ratio", "<= 3"),
             ("Chromium: drop 1600x1200 JPEG -> verdict / one analysis", "browser_ratio", "<= 2.5"),
             ("analysis batch 8 / plain", "batch_ratio", ">= 0.8")]
    table += ["", "| goal (issue 16) | this run | goal | met |", "|---|---:|---|---|"]
    for name, key, goal in goals:
        value = notes.get(key, float("nan"))
        if goal == "none":
            table.append(f"| {name} | {value:.3f} | none | |")
            continue
        bound = float(goal.split()[1])
        met = "not measured" if value != value else ("yes" if (value >= bound if goal[0] == ">" else value <= bound)
                                                      else "no")
        table.append(f"| {name} | {value:.3f} | {goal} | {met} |")
    text = header + "\n\n" + "\n".join(table) + "\n"
    print(text)
    results = Path(args.results)
    previous = results.read_text() if results.exists() else "# Benchmark results\n"
    results.write_text(previous.rstrip() + "\n\n## Run " + f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M}" + "\n\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
