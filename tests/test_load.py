"""Many analysts at once: concurrent gradio_client sessions with distinct images and garbage.

Every good request must come back with the result of its own image (checked by SHA-256),
garbage must be refused cleanly, the server must keep serving, and nothing may be written
outside Gradio's cache. Latencies (p50/p95) are printed and, when FORENSICS_LOAD_REPORT names a
file, written there as JSON.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from conftest import encode, make_photo  # noqa: E402
from test_app import serve  # noqa: E402

CLIENTS = 12
REQUESTS_PER_CLIENT = 3
ROOT = Path(__file__).resolve().parents[1]


def _good_file(folder: Path, client: int, request: int) -> Path:
    path = folder / f"c{client}-r{request}.jpg"
    path.write_bytes(encode(make_photo(320 + 16 * client, 240 + 8 * request, seed=100 * client + request), "JPEG"))
    return path


def _garbage_file(folder: Path, client: int) -> Path:
    path = folder / f"c{client}-garbage.png"
    path.write_bytes(b"" if client % 2 else b"<html>not an image</html>" * 50)
    return path


def _session(url: str, folder: Path, client: int) -> dict:
    c = Client(url, verbose=False, analytics_enabled=False, download_files=str(folder / f"dl{client}"))
    out = {"latencies": [], "mismatches": [], "garbage_refused": 0, "garbage_accepted": 0}
    for request in range(REQUESTS_PER_CLIENT):
        if client % 3 == 0 and request == 1:  # every third analyst also sends garbage, mid-stream
            try:
                c.predict(handle_file(str(_garbage_file(folder, client))), api_name="/analyze")
                out["garbage_accepted"] += 1
            except AppError as exc:
                out["garbage_refused"] += int("image" in str(exc).lower() or "empty" in str(exc).lower())
        path = _good_file(folder, client, request)
        start = time.perf_counter()
        result, _, _ = c.predict(handle_file(str(path)), api_name="/analyze")
        out["latencies"].append(time.perf_counter() - start)
        expected = hashlib.sha256(path.read_bytes()).hexdigest()
        if result["input_sha256"] != expected:
            out["mismatches"].append((path.name, result["input_sha256"], expected))
    return out


def _repo_files() -> set[str]:
    skip = ("__pycache__", ".pytest_cache", ".hypothesis", ".git")
    return {str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
            if not any(part in skip for part in p.parts) and p.suffix != ".pyi"}


@pytest.mark.slow
def test_concurrent_analysts(tiny_detector, tmp_path):
    before = _repo_files()
    with serve(tiny_detector) as url:
        with ThreadPoolExecutor(CLIENTS) as pool:
            sessions = list(pool.map(lambda i: _session(url, tmp_path, i), range(CLIENTS)))
        # Still serving after the storm.
        probe = _good_file(tmp_path, 99, 0)
        result, _, _ = Client(url, verbose=False, analytics_enabled=False).predict(
            handle_file(str(probe)), api_name="/analyze")
        assert result["input_sha256"] == hashlib.sha256(probe.read_bytes()).hexdigest()

    latencies = sorted(t for s in sessions for t in s["latencies"])
    assert len(latencies) == CLIENTS * REQUESTS_PER_CLIENT
    assert [m for s in sessions for m in s["mismatches"]] == []
    garbage = sum(1 for i in range(CLIENTS) if i % 3 == 0)
    assert sum(s["garbage_refused"] for s in sessions) == garbage
    assert sum(s["garbage_accepted"] for s in sessions) == 0
    assert _repo_files() == before, "the app wrote files into the repository"

    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    stats = {"clients": CLIENTS, "good_requests": len(latencies), "garbage_requests": garbage,
             "p50_s": round(p50, 3), "p95_s": round(p95, 3), "max_s": round(latencies[-1], 3)}
    print(f"\nload: {json.dumps(stats)}")
    if os.environ.get("FORENSICS_LOAD_REPORT"):
        Path(os.environ["FORENSICS_LOAD_REPORT"]).write_text(json.dumps(stats, indent=2))


def test_oversized_upload_refused_and_server_keeps_serving(tiny_detector, tmp_path):
    big = tmp_path / "huge.png"
    big.write_bytes(b"\x89PNG" + os.urandom(26 * 1024 * 1024))  # over the 25 MB limit
    with serve(tiny_detector) as url:
        c = Client(url, verbose=False, analytics_enabled=False)
        with pytest.raises(Exception) as err:
            c.predict(handle_file(str(big)), api_name="/analyze")
        assert "large" in str(err.value).lower() or "size" in str(err.value).lower() or "413" in str(err.value)
        ok = _good_file(tmp_path, 1, 1)
        result, _, _ = c.predict(handle_file(str(ok)), api_name="/analyze")
        assert result["input_sha256"] == hashlib.sha256(ok.read_bytes()).hexdigest()


def _build_app(detector, delete_cache=None):
    """The real page, with its own cache clean-up or, when given, `delete_cache`."""
    from webui import build_app
    return build_app(detector) if delete_cache is None else build_app(detector, delete_cache=delete_cache)


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow  # ~3.5 s: waits for Gradio's clean-up schedule
def test_uploads_and_results_are_deleted_from_the_cache(tiny_detector, tmp_path, monkeypatch):
    cache = tmp_path / "gradio-cache"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))  # Gradio's cache for this app only
    configured = _build_app(tiny_detector)
    assert configured.delete_cache is not None, "the app never deletes uploads and reports"
    frequency, age = configured.delete_cache
    assert 0 < frequency <= 3600 and 0 < age <= 3600  # SECURITY.md: emptied periodically (hourly)

    # The same page on a two-second schedule: what an analyst sends, and what the page makes
    # of it, is in the cache while fresh and gone a few seconds later, with the server still up.
    blocks = _build_app(tiny_detector, (1, 2))
    blocks.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True)
    try:
        own = _files(cache)  # what the page itself keeps there (its examples)
        photo = tmp_path / "seized photo.jpg"
        photo.write_bytes(encode(make_photo(320, 240, seed=8), "JPEG"))
        client = Client(blocks.local_url, verbose=False, analytics_enabled=False,
                        download_files=str(tmp_path / "downloads"))
        result, on_input, _ = client.predict(handle_file(str(photo)), api_name="/analyze")
        assert result["input_sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
        # gr.File(type="filepath") also leaves an empty NamedTemporaryFile in the cache root per
        # call, which Gradio 6.31 never tracks nor deletes: empty, so no analyst's data; not counted.
        fresh = {p for p in _files(cache) - own if p.stat().st_size > 0}
        assert any(p.name == photo.name and p.read_bytes() == photo.read_bytes() for p in fresh), fresh
        assert len(fresh) >= 3  # the upload and the two heatmap images returned
        deadline = time.monotonic() + 20
        while fresh & _files(cache) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert fresh & _files(cache) == set(), "files outlived delete_cache"
        assert all(p.stat().st_size == 0 for p in _files(cache) - own)
        assert Path(on_input).exists()  # the client's own download is not the server's to delete
    finally:
        blocks.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_exports_are_written_inside_the_cleaned_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio-cache"))
    from webui.handlers import export_dir
    folder = export_dir()
    assert folder.is_dir() and (tmp_path / "gradio-cache") in folder.parents
    assert export_dir() != folder  # a fresh folder per export
