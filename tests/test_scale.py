"""--engine ray (forensics/scale.py): a local 2-CPU Ray cluster gives the local engine's answers.

The cluster tests need `pip install -r requirements-scale.txt`; without Ray they are skipped and
only the message telling the user to install it is checked.
"""
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import hang_guard
from conftest import encode, make_photo
import forensics
from forensics import cli

try:
    from forensics.scale import ray_engine as scale
except ModuleNotFoundError:  # the default install has no Ray
    scale = None
needs_ray = pytest.mark.skipif(scale is None, reason="Ray Data not installed: pip install -r requirements-scale.txt")

# Wide, tall, square, small and re-rotated images; one text file named like a photo.
GOOD = [("wide.jpg", "JPEG", (640, 360)), ("tall.png", "PNG", (300, 520)), ("square.webp", "WEBP", (400, 400)),
        ("small.png", "PNG", (120, 90)), ("sub/deep.jpg", "JPEG", (500, 420))]
BROKEN = {"notes.jpg": b"minutes of the meeting, not a photo\n"}


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster of 2 CPUs, like this machine and a CI runner; shut down afterwards."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING",
             runtime_env={"py_modules": [str(Path(scale.__file__).parent)]})
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    for i, (rel, fmt, size) in enumerate(GOOD):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(encode(make_photo(*size, seed=i), fmt))
    for rel, data in BROKEN.items():
        (root / rel).write_bytes(data)
    return root


@pytest.fixture(scope="module")
def both_engines(ray_cluster, folder, tiny_model_dir, tmp_path_factory):
    """The same folder through the local engine (JSON records) and the Ray engine (parquet + JSON)."""
    import pyarrow.parquet as pq

    local = tmp_path_factory.mktemp("local")
    assert cli.main(["analyze", str(folder), "--out", str(local), "--model", str(tiny_model_dir),
                     "--format", "json"]) == 0
    distributed = tmp_path_factory.mktemp("ray")
    started = time.perf_counter()
    # two workers on two CPUs: the setting the issue saw hang when each actor asked for a whole CPU
    code = cli.main(["analyze", str(folder), "--out", str(distributed), "--model", str(tiny_model_dir),
                     "--engine", "ray", "--workers", "2", "--batch-size", "2", "--format", "json"])
    seconds = time.perf_counter() - started
    assert code == 0
    rows = pq.read_table(distributed / "results.parquet").to_pylist()
    return local, distributed, rows, seconds


def _local_records(local: Path) -> dict:
    records = [json.loads(p.read_text()) for p in local.glob("*.json")]
    return {r["input"]["name"]: r for r in records}


@needs_ray
def test_parquet_rows_equal_the_local_engine(both_engines):
    local, _, rows, _ = both_engines
    records = _local_records(local)
    ok = {r["name"]: r for r in rows if r["status"] == "ok"}
    assert sorted(ok) == sorted(Path(rel).name for rel, _, _ in GOOD) == sorted(records)
    for name, row in ok.items():
        want = records[name]
        assert row["fake_probability"] == pytest.approx(want["fake_probability"], abs=1e-5)
        assert row["verdict"] == want["verdict"]
        assert row["crop_box"] == want["crop_box"]
        assert row["sha256"] == want["input_sha256"]
        scores = np.asarray(row["patch_scores"]).reshape(24, 24)
        np.testing.assert_allclose(scores, np.asarray(want["patch_scores"]), rtol=1e-4, atol=1e-7)
        assert scores.sum() == pytest.approx(1.0, abs=1e-5)
        # the ledger's strongest patch is the grid's maximum, boxed in original pixels
        top = row["top_patches"][0]
        assert (top["row"], top["col"]) == np.unravel_index(scores.argmax(), scores.shape)
        assert top["rank"] == 1 and len(row["top_patches"]) == scale.TOP_PATCHES
        assert row["model_source"] == want["model"]["source"]
        assert row["model_weights_sha256"] == want["model"]["weights_sha256"]
        assert (row["method"], row["head_fusion"], row["discard_ratio"]) == ("attention-rollout", "mean", 0.0)
        assert row["preprocessing"] == "training" and not row["model_demo"]


@needs_ray
def test_one_row_per_file_and_the_broken_one_says_why(both_engines, folder):
    _, _, rows, _ = both_engines
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert len(rows) == len(files) == len(GOOD) + len(BROKEN)
    assert sorted(Path(r["path"]).resolve() for r in rows) == sorted(p.resolve() for p in files)
    broken = [r for r in rows if r["status"] != "ok"]
    assert [r["name"] for r in broken] == ["notes.jpg"]
    assert broken[0]["status"] == "error"
    assert "not an image we can read" in broken[0]["error"]
    assert broken[0]["fake_probability"] is None and broken[0]["patch_scores"] is None
    assert broken[0]["sha256"] == __import__("hashlib").sha256(BROKEN["notes.jpg"]).hexdigest()


@needs_ray
def test_json_exports_of_the_ray_engine_match(both_engines):
    local, distributed, _, seconds = both_engines
    print(f"\nRay engine, 6 files on 2 workers incl. actor start: {seconds:.1f} s")
    mine, theirs = _local_records(distributed), _local_records(local)
    assert sorted(mine) == sorted(theirs)
    for name, record in mine.items():
        want = theirs[name]
        assert record["fake_probability"] == pytest.approx(want["fake_probability"], abs=1e-5)
        assert record["verdict"] == want["verdict"] and record["crop_box"] == want["crop_box"]
        assert record["geometry"] == want["geometry"] and record["reproduce"] == want["reproduce"]
        np.testing.assert_allclose(record["patch_scores"], want["patch_scores"], rtol=1e-4, atol=1e-7)


@needs_ray
def test_workers_that_cannot_fit_fail_at_once(ray_cluster, folder, tiny_model_dir, tmp_path, capsys):
    base = ["analyze", str(folder), "--out", str(tmp_path / "out"), "--model", str(tiny_model_dir), "--engine", "ray"]
    with hang_guard():  # refused before any work, not hung
        assert cli.main(base + ["--workers", "3"]) == 1
        assert "--workers 2 or fewer" in capsys.readouterr().err
        assert cli.main(base + ["--gpus-per-worker", "1"]) == 1
        assert "the Ray cluster has 0" in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.parquet").exists()


@needs_ray
def test_a_missing_model_is_reported_before_the_cluster_works(ray_cluster, folder, tmp_path, capsys):
    assert cli.main(["analyze", str(folder), "--out", str(tmp_path), "--model", str(tmp_path / "nowhere"),
                     "--engine", "ray"]) == 1
    assert "No model folder" in capsys.readouterr().err


@needs_ray
@pytest.mark.parametrize("cluster, workers, gpus", [
    ({"CPU": 2}, None, 0), ({"CPU": 2}, 2, 0), ({"CPU": 1}, None, 0), ({"CPU": 16}, None, 0),
    ({"CPU": 16}, 3, 0), ({"CPU": 64}, 10, 0), ({"CPU": 8, "GPU": 2}, None, 1), ({"CPU": 4, "GPU": 4}, None, 0.5),
    ({"CPU": 32, "GPU": 8}, 8, 1)])
def test_plans_always_leave_cpu_for_decoding(cluster, workers, gpus):
    plan = scale.plan_resources(cluster, workers, gpus)
    assert plan.workers == workers or workers is None
    assert plan.cpus_per_worker >= scale.MIN_WORKER_CPUS
    assert plan.decode_cpus > 0
    # what the actors ask for leaves at least one decode task's worth of CPU, so reading progresses
    assert cluster["CPU"] - plan.workers * plan.cpus_per_worker >= plan.decode_cpus - 1e-9
    assert plan.workers * plan.gpus_per_worker <= cluster.get("GPU", 0) + 1e-9
    assert plan.torch_threads == max(1, math.floor(plan.cpus_per_worker))


@needs_ray
def test_plan_on_two_cpus_matches_what_was_measured():
    one, two = scale.plan_resources({"CPU": 2}), scale.plan_resources({"CPU": 2}, workers=2)
    assert (one.workers, one.cpus_per_worker, one.decode_cpus) == (1, 1.0, 1.0)
    assert (two.workers, two.cpus_per_worker) == (2, 0.5)  # the split seen to finish
    with pytest.raises(scale.ClusterTooSmall, match="--workers 2 or fewer"):
        scale.plan_resources({"CPU": 2}, workers=3)
    with pytest.raises(scale.ClusterTooSmall, match="--workers 2 or fewer"):
        scale.plan_resources({"CPU": 8, "GPU": 2}, workers=3, gpus_per_worker=1)


@needs_ray
def test_pass_through_transform_leaves_a_crop_untouched():
    from forensics.core.preprocess import crop_input
    from forensics.model.spec import TRAINING
    crop, _ = crop_input(make_photo(700, 500, seed=3), TRAINING)
    again, geometry = crop_input(crop, scale.pass_through(TRAINING))
    assert np.array_equal(np.asarray(again), np.asarray(crop)) and geometry.crop_box == (0, 0, 384, 384)


def test_without_ray_the_cli_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where it is not installed
    monkeypatch.delitem(sys.modules, "forensics.scale.ray_engine", raising=False)
    import forensics.scale
    monkeypatch.delattr(forensics.scale, "ray_engine", raising=False)  # else the import finds it there
    (tmp_path / "a.png").write_bytes(encode(make_photo(64, 64)))
    assert cli.main(["analyze", str(tmp_path / "a.png"), "--out", str(tmp_path / "out"), "--demo",
                     "--engine", "ray"]) == 1
    assert "pip install -r requirements-scale.txt" in capsys.readouterr().err


def test_cluster_options_need_the_ray_engine(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["analyze", str(tmp_path), "--out", str(tmp_path / "out"), "--demo", "--workers", "2"])
    assert exit_.value.code == 2
    assert "--engine ray" in capsys.readouterr().err
