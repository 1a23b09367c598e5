"""The calibration map: fitting (Platt, isotonic), the JSON round trip, and its use in analyze."""
import csv
import hashlib
import json

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from forensics import InputError
from forensics.core import calibration
from forensics.cli import main
from forensics.evaluation.metrics import compute_metrics
from helpers import make_photo

RNG = np.random.default_rng(7)
Z = RNG.normal(0, 2, 4000)
TRUTH = 1 / (1 + np.exp(-Z))
Y = (RNG.random(Z.size) < TRUTH).astype(int)


def test_platt_leaves_a_calibrated_model_alone():
    cal = calibration.fit(TRUTH, Y, "platt")
    assert cal.parameters["slope"] == pytest.approx(1.0, abs=0.1)
    assert cal.parameters["intercept"] == pytest.approx(0.0, abs=0.1)


def test_platt_fixes_an_overconfident_model():
    overconfident = 1 / (1 + np.exp(-3 * Z))   # right ranking, P pushed to the extremes
    cal = calibration.fit(overconfident, Y, "platt")
    assert cal.parameters["slope"] == pytest.approx(1 / 3, abs=0.05)
    ece = lambda p: compute_metrics(Y, p, ["g"] * Y.size, inconclusive_margin=0.1,  # noqa: E731
                                    n_bootstrap=1)["calibration"]["expected_calibration_error"]
    assert ece(cal.apply(overconfident)) < ece(overconfident) / 3
    order = np.argsort(overconfident)  # a map moves P, it never reorders images
    assert np.all(np.diff(cal.apply(overconfident)[order]) >= 0)


def test_isotonic_apply_equals_sklearn_predict():
    raw = np.clip(TRUTH + RNG.normal(0, 0.05, TRUTH.size), 0, 1)
    cal = calibration.fit(raw, Y, "isotonic")
    iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(raw, Y)
    probe = np.r_[np.linspace(0, 1, 101), raw[:50]]
    np.testing.assert_allclose(cal.apply(probe), iso.predict(probe), atol=1e-12)


def test_a_model_that_ranks_backwards_gets_a_constant_map():
    cal = calibration.fit(1 - TRUTH, Y, "platt")
    assert cal.parameters["slope"] == 0.0 and "degenerate" in cal.fitted_on
    assert cal.apply(0.01) == pytest.approx(cal.apply(0.99)) == pytest.approx(Y.mean(), abs=0.01)


def test_one_class_cannot_be_calibrated():
    with pytest.raises(InputError, match="both real and AI-generated"):
        calibration.fit([0.2, 0.3], [0, 0])


@pytest.mark.parametrize("method", calibration.METHODS)
def test_save_load_round_trip(tmp_path, method):
    cal = calibration.fit(TRUTH[:300], Y[:300], method, fitted_on={"source": "my-set", "scores_csv_sha256": "ab" * 32})
    saved = calibration.save(cal, tmp_path / "calibration.json")
    loaded = calibration.load(tmp_path / "calibration.json")
    probe = np.linspace(0, 1, 57)
    np.testing.assert_array_equal(loaded.apply(probe), cal.apply(probe))
    assert loaded.sha256 == saved.sha256 == hashlib.sha256((tmp_path / "calibration.json").read_bytes()).hexdigest()
    body = json.loads((tmp_path / "calibration.json").read_text())
    assert body["fitted_on"]["n_real"] == int((Y[:300] == 0).sum()) and body["fitted_on"]["created_utc"]
    assert loaded.describe()["file_sha256"] == loaded.sha256
    assert f"Calibrated ({method})" in loaded.label and "my-set" in loaded.label and loaded.sha256[:12] in loaded.label


@pytest.mark.parametrize("body", [
    "not json",
    json.dumps({"format": "something-else", "method": "platt", "parameters": {"slope": 1, "intercept": 0}}),
    json.dumps({"format": calibration.FORMAT, "method": "platt", "parameters": {"slope": -1, "intercept": 0}}),
    json.dumps({"format": calibration.FORMAT, "method": "isotonic", "parameters": {"x": [0, 1], "y": [0.9, 0.1]}}),
    json.dumps({"format": calibration.FORMAT, "method": "isotonic", "parameters": {"x": [0, 1]}}),
])
def test_load_rejects_what_is_not_a_calibration(tmp_path, body):
    (tmp_path / "c.json").write_text(body)
    with pytest.raises(InputError, match="not a forensics calibration"):
        calibration.load(tmp_path / "c.json")
    with pytest.raises(InputError, match="Could not read"):
        calibration.load(tmp_path / "missing.json")


# -- in use ----------------------------------------------------------------------------------------

def shift(intercept: float, det) -> calibration.Calibration:
    """A Platt map that moves every logit by `intercept`, fitted 'for' this detector's model."""
    m = det.model_info
    return calibration.Calibration("platt", {"slope": 1.0, "intercept": intercept},
                                   {"n_real": 50, "n_ai": 40, "source": "newsroom-2026",
                                    "model": {"source": m.source, "weights_sha256": m.weights_sha256, "demo": m.demo}},
                                   sha256="f" * 64, path="calibration.json")


def test_calibrated_detector_reports_both_and_decides_on_the_calibrated_value(tiny_detector):
    image = make_photo(600, 450, 1)  # not enlarged by the transform: no condition blocks the call
    plain = tiny_detector.analyze(image)
    up = tiny_detector.with_calibration(shift(4.0, tiny_detector)).analyze(image)
    down = tiny_detector.with_calibration(shift(-4.0, tiny_detector)).analyze(image)
    assert tiny_detector.calibration is None and plain.calibration is None  # the original is untouched
    for a, sign in ((up, 1), (down, -1)):
        assert a.raw_probability == pytest.approx(plain.fake_probability)
        assert a.fake_probability == pytest.approx(1 / (1 + np.exp(-(plain.logit + sign * 4.0))), rel=1e-5)
    assert (up.verdict, down.verdict) == ("ai-generated", "real")  # the band applies to the calibrated P
    assert any("Calibrated (platt)" in n and "raw P" in n for n in up.notes())
    crops = [up.model_input]
    det = tiny_detector.with_calibration(shift(4.0, tiny_detector))
    assert det.probabilities(det.pixels(crops))[0] == pytest.approx(up.fake_probability, rel=1e-4)


def test_analyze_cli_with_calibration(tiny_detector, tiny_model_dir, tmp_path, capsys):
    cal = calibration.save(shift(4.0, tiny_detector), tmp_path / "calibration.json")
    make_photo(600, 450, 2).save(tmp_path / "a.png")  # not enlarged: no condition blocks the call
    out = tmp_path / "out"
    assert main(["analyze", str(tmp_path / "a.png"), "--out", str(out), "--model", str(tiny_model_dir),
                 "--format", "json", "--calibration", str(tmp_path / "calibration.json")]) == 0
    with open(next(out.glob("summary*.csv")), newline="") as f:
        row = next(csv.DictReader(f))
    plain = tiny_detector.analyze(tmp_path / "a.png")
    assert float(row["fake_probability"]) == pytest.approx(cal.apply(plain.fake_probability), abs=1e-5)
    assert row["verdict"] == "ai-generated"
    record = json.loads(next(out.glob("*.json")).read_text())
    assert record["fake_probability_is"] == "calibrated" and record["verdict"] == "ai-generated"
    assert record["raw_fake_probability"] == pytest.approx(plain.fake_probability, abs=1e-6)
    assert record["calibration"]["file_sha256"] == cal.sha256 and record["calibration"]["method"] == "platt"
    assert "newsroom-2026" in record["calibration"]["label"] and "--calibration calibration.json" in record["reproduce"]
    assert any("Calibrated (platt)" in note for note in record["notes"])
    assert "fitted on scores of" not in capsys.readouterr().err  # same model: no mismatch warning

    (tmp_path / "bad.json").write_text("{}")
    assert main(["analyze", str(tmp_path / "a.png"), "--out", str(tmp_path / "o2"), "--model", str(tiny_model_dir),
                 "--calibration", str(tmp_path / "bad.json")]) == 1
    assert "not a forensics calibration" in capsys.readouterr().err


def test_calibration_for_another_model_is_flagged(tiny_detector, tmp_path):
    cal = shift(1.0, tiny_detector)
    assert calibration.mismatch(cal, tiny_detector.model_info) == []
    other = calibration.Calibration("platt", cal.parameters, {**cal.fitted_on, "model": {
        "source": "x", "weights_sha256": "0" * 64, "demo": False}})
    assert "does not apply" in calibration.mismatch(other, tiny_detector.model_info)[0]


def test_evaluate_checks_an_existing_calibration(tiny_detector, tiny_model_dir, tmp_path):
    """evaluate --calibration: metrics on the calibrated P, raw P kept, the new map fitted on the raw P."""
    root = tmp_path / "d"
    for label in ("real", "ai"):
        (root / label).mkdir(parents=True)
        for i in range(4):
            make_photo(90 + 10 * i, 70, i + (10 if label == "ai" else 0)).save(root / label / f"{i}.png")
    cal = calibration.save(shift(4.0, tiny_detector), tmp_path / "calibration.json")
    plain, checked = tmp_path / "plain", tmp_path / "checked"
    assert main(["evaluate", str(root), "--out", str(plain), "--model", str(tiny_model_dir), "--bootstrap", "5"]) == 0
    assert main(["evaluate", str(root), "--out", str(checked), "--model", str(tiny_model_dir), "--bootstrap", "5",
                 "--calibration", str(tmp_path / "calibration.json")]) == 0
    from forensics.evaluation.metrics import read_scores_csv
    raw = {r["path"]: r for r in read_scores_csv(plain / "scores.csv")}
    for r in read_scores_csv(checked / "scores.csv"):
        assert r["raw_fake_probability"] == raw[r["path"]]["fake_probability"]
        assert r["fake_probability"] == pytest.approx(cal.apply(r["raw_fake_probability"]))
        assert r["verdict"] == "ai-generated"  # +4 on the logit: the band applies to the calibrated P
    m = json.loads((checked / "metrics.json").read_text())
    assert m["probabilities"]["calibration_applied"]["file_sha256"] == cal.sha256
    assert m["at_threshold_0_5"]["tpr"] == 1.0 and m["at_threshold_0_5"]["fpr"] == 1.0
    assert "--calibration" in m["reproduce"]
    refit = [json.loads((d / "calibration.json").read_text())["parameters"] for d in (plain, checked)]
    assert refit[0] == pytest.approx(refit[1])  # fitted on the raw P both times, not on a map of a map
