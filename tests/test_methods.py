"""The explanation-method registry: one contract for every registered method, and a new method
is one module (a toy one registered here runs through analyze, the CLI and the exports)."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from conftest import make_photo
from forensics import checks, cli, methods, report
from forensics.explain.method import Captures, ExplanationMethod
from helpers import encode


class LastBlockAttention(ExplanationMethod):
    """A toy: the CLS token's attention in the last block alone, no rollout."""

    def scores(self, captures: Captures, head_fusion: str, discard_ratio: float) -> np.ndarray:
        cls = captures.attention[head_fusion][:, -1, 0, 1:].double().numpy()  # (B, 576)
        cls = cls / cls.sum(axis=1, keepdims=True)
        return cls.reshape(-1, 24, 24)


TOY = LastBlockAttention(
    name="last-block", label="last-block attention", choice="last block only (a toy)", quantity="attention",
    score_label="share of last-block attention", meaning="the classification token's attention in block 12",
    limit="Last-block attention ignores eleven blocks of mixing; a toy, not evidence.",
    help="the CLS token's attention in the last block (a test method)")


@pytest.fixture
def toy_method():
    methods.register(TOY)
    yield TOY
    methods.unregister(TOY.name)


@pytest.fixture(scope="module")
def photo_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("methods") / "photo.jpg"
    path.write_bytes(encode(make_photo(500, 400, seed=4), "JPEG", quality=92))
    return path


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_the_baseline_comes_first_and_every_method_is_worded():
    assert methods.names()[0] == methods.BASELINE
    for m in methods.methods():
        assert m.name and m.label and m.choice and m.quantity and m.score_label and m.limit and m.help
    with pytest.raises(ValueError, match="must be one of"):
        methods.get("no-such-method")
    with pytest.raises(ValueError):
        methods.unregister(methods.BASELINE)


@pytest.mark.requires_poppler
@pytest.mark.parametrize("name", methods.names())
def test_every_registered_method_keeps_the_contract(name, tiny_detector, photo_path, tmp_path):
    m = methods.get(name)
    a = tiny_detector.analyze(photo_path, method=name, embeddings=True)
    again = tiny_detector.analyze(photo_path, method=name)
    assert a.method == name and a.patch_scores.shape == (24, 24)
    assert (a.patch_scores >= 0).all() and a.patch_scores.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(a.patch_scores, again.patch_scores)  # deterministic
    if name != methods.BASELINE:  # compared with the baseline, which is always computed
        assert a.compared_method == name and a.method_agreement is not None
        np.testing.assert_array_equal(a.with_method(methods.BASELINE).patch_scores, a.rollout_scores)
    deep = checks.deep_check(tiny_detector, a)  # the deep check runs on every method's map
    assert len(deep.faithfulness.fractions) > 0 and len(checks.judgements(a, deep)) >= 3
    written = report.export(a, tmp_path, formats=("json", "pdf"), deep=deep)
    record = json.loads(written["json"].read_text())
    assert record["method"]["name"] == name
    assert name in pdf_text(written["pdf"])  # the PDF names the method


@pytest.mark.requires_poppler
def test_a_new_method_is_one_registration(toy_method, tiny_detector, tiny_model_dir, photo_path, tmp_path):
    assert toy_method.name in methods.names()
    a = tiny_detector.analyze(photo_path, method=toy_method.name)
    assert a.method == toy_method.name and a.patch_scores.sum() == pytest.approx(1.0)
    assert a.method_agreement is not None and not np.allclose(a.patch_scores, a.rollout_scores)
    assert toy_method.limit in report.limits(a)
    written = report.export(a, tmp_path / "export", formats=("json", "pdf"))
    assert json.loads(written["json"].read_text())["method"]["name"] == toy_method.name
    assert toy_method.name in pdf_text(written["pdf"])
    # The CLI offers it (its choices are read from the registry when the parser is built).
    out = tmp_path / "cli"
    assert cli.main(["analyze", str(photo_path), "--out", str(out), "--model", str(tiny_model_dir),
                     "--method", toy_method.name, "--format", "json"]) == 0
    record = json.loads((out / "photo.json").read_text())
    assert record["method"]["name"] == toy_method.name
    assert f"--method {toy_method.name}" in record["reproduce"]
    np.testing.assert_allclose(np.asarray(record["patch_scores"]), a.patch_scores, rtol=1e-5, atol=1e-8)


def test_an_unregistered_method_is_refused_by_analyze_and_the_cli(tiny_detector, photo_path, tmp_path, capsys):
    with pytest.raises(ValueError, match="must be one of"):
        tiny_detector.analyze(photo_path, method="last-block")
    with pytest.raises(SystemExit):
        cli.main(["analyze", str(photo_path), "--out", str(tmp_path), "--demo", "--method", "last-block"])
    assert "invalid choice" in capsys.readouterr().err
