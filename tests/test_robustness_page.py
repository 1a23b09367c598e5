"""The page's "Does the verdict survive re-encoding?" section: the sweep on request, its judgement
beside the verdict card, cleared by a new image, and in the exports only for the image it was run on."""
from __future__ import annotations

import json

import pytest

from conftest import encode, make_photo
from forensics import Detector, checks
from webui import cards, handlers, session


@pytest.fixture(scope="module")
def detector(tiny_model_dir):
    return Detector.from_pretrained(tiny_model_dir, device="cpu")


def photo(tmp_path, name, seed, size=(900, 600)):
    path = tmp_path / name
    path.write_bytes(encode(make_photo(*size, seed=seed), "JPEG", quality=95))
    return str(path)


def test_the_sweep_shows_its_grid_and_judgement_beside_the_verdict(detector, tmp_path):
    path = photo(tmp_path, "a.jpg", 1)
    first = handlers.analyze_verdict(detector, path, "attention-rollout", "mean", 0.0)
    assert first["robust_badge"] == "" and first["robustness"] is None  # nothing until asked
    out = handlers.run_robustness(detector, first["analysis"])
    rob = out["robustness"].result
    assert out["robustness"].sha256 == first["analysis"].input_sha256
    assert len(rob.variants) == 3 * 7 - 1  # 900 px: 720 and 512 below it
    j = checks.robustness_judgement(rob)
    assert j.label in out["robust_badge"] and j.label in out["robust_card"]
    assert out["robust_plot"] is not None
    # A new image clears the previous image's sweep from every view.
    second = handlers.analyze_verdict(detector, photo(tmp_path, "b.jpg", 2), "attention-rollout", "mean", 0.0)
    assert second["robust_badge"] == "" and second["robust_card"] == cards.ROBUST_HINT


def test_exports_carry_the_sweep_of_their_own_image_only(detector, tmp_path, monkeypatch):
    monkeypatch.setattr(handlers, "export_dir", lambda: tmp_path / "exports")
    a = handlers.analyze_verdict(detector, photo(tmp_path, "a.jpg", 1), "attention-rollout", "mean", 0.0)["analysis"]
    b = handlers.analyze_verdict(detector, photo(tmp_path, "b.jpg", 2), "attention-rollout", "mean", 0.0)["analysis"]
    held = handlers.run_robustness(detector, a)["robustness"]
    assert session.robustness_for(a, held) is held.result
    assert session.robustness_for(b, held) is None  # never another image's sweep

    def exported(analysis):
        (tmp_path / "exports").mkdir(exist_ok=True)
        files = handlers.export(analysis, None, False, "", 0.5, "inferno", "image", held)
        path = next(v.value for k, v in files.items() if k == "download_json")
        return json.loads(open(path if isinstance(path, str) else path["path"]).read())

    assert exported(a)["robustness"]["variants"]
    for f in (tmp_path / "exports").iterdir():
        f.unlink()
    assert "robustness" not in exported(b)
