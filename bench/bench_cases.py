"""Benchmark: `case add` against `analyze --format json` on the same files, and listing a case.

    python bench/bench_cases.py [--files 24] [--repeats 1] [--model DIR] [--items 10000]

1. Throughput: a folder of --files 1024x768 JPEG photos, analysed by
   `python -m forensics analyze DIR --out O --format json` and kept by
   `python -m forensics case add NAME DIR` (fresh store each run), both in a fresh interpreter
   with the same model (--model, else the demo weights: the real architecture, so the same
   cost). Ratio = analyze seconds / case add seconds (goal >= 0.9: the store is not the bottleneck).
2. Listing: a case of --items synthesised rows (real schema, a short record each, one in ten
   in a near-duplicate pair), then
   `CaseStore.items` (median of 5; goal < 200 ms).
Prints the figures; append them to bench/RESULTS.md by hand if they are worth keeping.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def photos(folder: Path, n: int) -> None:
    from helpers import make_photo
    folder.mkdir(parents=True)
    for i in range(n):
        make_photo(1024, 768, seed=i).save(folder / f"p{i:03d}.jpg", quality=90)


def timed(cmd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def throughput(tmp: Path, n: int, repeats: int, model: list[str]) -> dict:
    folder = tmp / "photos"
    photos(folder, n)
    py = [sys.executable, "-m", "forensics"]
    analyze, add = [], []
    for r in range(repeats):  # interleaved, so drift on a shared machine hits both alike
        analyze.append(timed(py + ["analyze", str(folder), "--out", str(tmp / f"out{r}"), "--format", "json", *model]))
        store = tmp / f"store{r}"
        subprocess.run(py + ["case", "new", "b", "--store", str(store), "--user", "bench"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        add.append(timed(py + ["case", "add", "b", str(folder), "--store", str(store), "--user", "bench", *model]))
    a, c = statistics.median(analyze), statistics.median(add)
    return {"files": n, "analyze_s": round(a, 2), "case_add_s": round(c, 2), "ratio": round(a / c, 3)}


def listing(tmp: Path, n: int) -> dict:
    from sqlalchemy import insert
    from forensics.cases import CaseStore
    from forensics.cases.audit import now_utc
    from forensics.cases.schema import items
    store = CaseStore.open(tmp / "list-store")
    case = store.create_case("big", "bench")
    record = json.dumps({"fake_probability": 0.5, "verdict": "inconclusive", "patch_scores": [[0.0017] * 24] * 24})
    rows = [{"case_id": case.id, "file_name": f"img{i:05d}.jpg", "source": f"folder/img{i:05d}.jpg",
             "sha256": f"{i:064x}", "size": 100_000 + i, "record_json": record, "record_sha256": "0" * 64,
             "fake_probability": (i % 1000) / 1000, "verdict": "real", "hints": "", "c2pa": "none",
             "width": 1024, "height": 768, "quality": 90, "phash": f"{i:016x}", "dhash": f"{i:016x}",
             "dup_group": (i // 2 * 2 + 1) if i % 10 < 2 else i + 1,  # one in ten in a pair
             "status": "check", "notes": "", "removed": False, "added_utc": now_utc()}
            for i in range(n)]
    with store.engine.begin() as conn:
        conn.execute(insert(items), rows)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        got = store.items("big", "bench")
        times.append(time.perf_counter() - t)
    assert len(got) == n
    store.close()
    return {"items": n, "list_ms_median": round(1000 * statistics.median(times), 1),
            "list_ms_min": round(1000 * min(times), 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=24)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--model", help="model folder (default: the demo weights)")
    args = p.parse_args()
    model = ["--model", args.model] if args.model else ["--demo"]
    with tempfile.TemporaryDirectory(prefix="bench-cases-") as tmp:
        result = {"throughput": throughput(Path(tmp), args.files, args.repeats, model),
                  "listing": listing(Path(tmp), args.items)}
    print(json.dumps(result, indent=1))
    t, l = result["throughput"], result["listing"]
    print(f"case add / analyze --format json: {t['ratio']:.2f} (goal >= 0.9); "
          f"listing {l['items']:,} items: {l['list_ms_median']:.0f} ms (goal < 200 ms)")


if __name__ == "__main__":
    main()
