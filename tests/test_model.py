"""Loading: both tensor layouts, strict about tensors and files, pinned hash, clear errors."""
import os
import dataclasses
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import make_photo
from forensics import Detector
from forensics import ModelUnavailableError
from forensics.model import loading as fmodel
from forensics.analysis.detector import verdict_for


def test_full_vit_small_architecture_loads(vit_small_dir):
    det = Detector.from_pretrained(vit_small_dir, device="cpu")
    assert det.model_info.num_parameters == 21_811_969
    assert det.model.config.num_labels == 1
    a = det.analyze(make_photo(640, 480))
    assert 0.0 <= a.fake_probability <= 1.0
    assert a.patch_scores.shape == (24, 24)
    assert len(det.model.vit.layers) == 12


def test_current_and_legacy_layout_give_identical_results(tiny_model_dir, tiny_legacy_dir):
    legacy = load_file(str(tiny_legacy_dir / "model.safetensors")).keys()
    current = load_file(str(tiny_model_dir / "model.safetensors")).keys()
    assert any(".encoder.layer.0.attention.attention.query." in n for n in legacy)
    assert any(".layers.0.attention.q_proj." in n for n in current)
    a = Detector.from_pretrained(tiny_model_dir, device="cpu").analyze(make_photo(400, 300))
    b = Detector.from_pretrained(tiny_legacy_dir, device="cpu").analyze(make_photo(400, 300))
    assert a.logit == b.logit
    np.testing.assert_array_equal(a.patch_scores, b.patch_scores)


def _copy_with(tmp_path, src, edit):
    dst = tmp_path / "edited"
    shutil.copytree(src, dst)
    state = load_file(str(dst / "model.safetensors"))
    edit(state)
    save_file(state, str(dst / "model.safetensors"), metadata={"format": "pt"})
    return dst


@pytest.mark.parametrize("case", ["missing", "unexpected", "misshaped"])
def test_tensor_problems_are_errors(tmp_path, tiny_model_dir, case):
    def edit(state):
        if case == "missing":
            del state["vit.layers.1.attention.q_proj.weight"]
        elif case == "unexpected":
            state["vit.layers.0.attention.extra.weight"] = torch.zeros(3)
        else:
            state["classifier.weight"] = torch.zeros(2, 32)
    folder = _copy_with(tmp_path, tiny_model_dir, edit)
    with pytest.raises(ModelUnavailableError):
        Detector.from_pretrained(folder, device="cpu")


def test_pickle_checkpoints_are_never_loaded(tmp_path, tiny_model_dir):
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not even read")
    with pytest.raises(ModelUnavailableError, match="pickle"):
        Detector.from_pretrained(folder, device="cpu")


def test_missing_folder_names_the_ways_to_get_weights(tmp_path):
    with pytest.raises(ModelUnavailableError) as err:
        Detector.from_pretrained(tmp_path / "nope")
    msg = str(err.value)
    assert "--model" in msg and "FORENSICS_MODEL" in msg and "--demo" in msg


def test_hub_unreachable_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("FORENSICS_MODEL", raising=False)
    with pytest.raises(ModelUnavailableError) as err:
        Detector.from_pretrained()
    msg = str(err.value)
    assert fmodel.PINNED_REPO in msg and fmodel.PINNED_REVISION in msg and "--demo" in msg


def test_env_variable_names_the_source(monkeypatch, tiny_model_dir):
    monkeypatch.setenv("FORENSICS_MODEL", str(tiny_model_dir))
    det = Detector.from_pretrained(device="cpu")
    assert det.model_info.source == str(tiny_model_dir)


def test_pinned_hash_mismatch_is_refused(monkeypatch, tiny_model_dir):
    seen = {}

    def fake_download(repo_id, revision):
        seen["args"] = (repo_id, revision)
        return tiny_model_dir
    monkeypatch.setattr(fmodel, "_download", fake_download)
    monkeypatch.delenv("FORENSICS_MODEL", raising=False)
    with pytest.raises(ModelUnavailableError, match="does not match the pinned"):
        Detector.from_pretrained()
    assert seen["args"] == (fmodel.PINNED_REPO, fmodel.PINNED_REVISION)


def test_pinned_hash_match_is_accepted(monkeypatch, tiny_model_dir):
    monkeypatch.setattr(fmodel, "_download", lambda repo_id, revision: tiny_model_dir)
    monkeypatch.setattr(fmodel, "DEFAULT_SPEC", dataclasses.replace(fmodel.DEFAULT_SPEC, weights_sha256=fmodel.sha256_file(tiny_model_dir / "model.safetensors")))
    det = Detector.from_pretrained(fmodel.PINNED_REPO, device="cpu")
    assert det.model_info.pinned and det.model_info.revision == fmodel.PINNED_REVISION
    assert det.model_info.label.endswith("@" + fmodel.PINNED_REVISION)


def test_local_folder_records_its_hash(tiny_model_dir):
    det = Detector.from_pretrained(tiny_model_dir, device="cpu")
    assert det.model_info.weights_sha256 == fmodel.sha256_file(tiny_model_dir / "model.safetensors")
    assert not det.model_info.pinned and not det.model_info.demo


def test_demo_is_flagged_everywhere():
    det = Detector.demo(seed=3, device="cpu")
    a = det.analyze(make_photo(200, 200))
    assert a.demo and det.model_info.demo
    assert "demo" in a.model.label and any("DEMO" in n for n in a.notes())
    again = Detector.demo(seed=3, device="cpu").analyze(make_photo(200, 200))
    assert again.logit == a.logit  # seeded


def test_verdict_band():
    assert verdict_for(0.95) == "ai-generated"
    assert verdict_for(0.05) == "real"
    assert verdict_for(0.5) == verdict_for(0.55) == verdict_for(0.45) == "inconclusive"
    assert verdict_for(0.6) == "ai-generated" and verdict_for(0.4) == "real"
    assert verdict_for(0.51, margin=0.0) == "ai-generated" and verdict_for(0.5, margin=0.0) == "inconclusive"
    with pytest.raises(ValueError):
        verdict_for(0.7, margin=0.6)


def test_not_a_vit_is_refused(tmp_path, tiny_model_dir):
    folder = tmp_path / "bert"
    shutil.copytree(tiny_model_dir, folder)
    cfg = (folder / "config.json").read_text().replace('"model_type": "vit"', '"model_type": "bert"')
    (folder / "config.json").write_text(cfg)
    with pytest.raises(ModelUnavailableError, match="not a ViT"):
        Detector.from_pretrained(folder, device="cpu")


@pytest.mark.skipif(not os.environ.get("FORENSICS_MODEL"), reason="FORENSICS_MODEL does not point at the real weights")
def test_real_weights():
    det = Detector.from_pretrained(device="cpu")
    assert det.model_info.pinned, "FORENSICS_MODEL must hold the pinned model.safetensors"
    assert det.model_info.num_parameters == 21_811_969
    a = det.analyze(make_photo(800, 600))
    assert 0.0 <= a.fake_probability <= 1.0 and a.patch_scores.shape == (24, 24)
