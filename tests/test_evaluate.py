"""`python -m forensics evaluate`: labelled folder -> scores.csv, metrics.json, report.pdf, calibration.json.

The numbers are checked against scikit-learn recomputed from scores.csv; the decisions (cut-off,
inconclusive band, target FPR, base rate) against brute force on small arrays.
"""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.calibration import calibration_curve
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score, confusion_matrix,
                             roc_auc_score)
from transformers import ViTForImageClassification

from forensics import InputError
from forensics.core import calibration
from forensics.evaluation import metrics as evaluate
from forensics.cli import main
from forensics.evaluation.run import BOOTSTRAP_RESAMPLES, worst_misses
from helpers import make_photo, requires_poppler
from model_factory import save_checkpoint, tiny_config

IMAGENET_GREY = 116  # about the ImageNet mean: brighter patches push the brightness model towards "AI"


def brightness_model() -> ViTForImageClassification:
    """A tiny real-format ViT whose P(AI-generated) rises with the share of bright patches.

    Patch embedding: dim 0 = the patch's mean normalised pixel, dim 1 = minus that; layer norm turns
    each patch into +-(s, -s) by the sign of its brightness. Block 0 attends uniformly (q = k = 0)
    with identity value/output maps, so the CLS token gathers the mean of those signs; every other
    sub-layer adds nothing. The classifier reads dim 0 - dim 1: monotone in (bright - dark) patches.
    """
    model = ViTForImageClassification(tiny_config()).eval()
    n = model.config.hidden_size
    with torch.no_grad():
        for prm in model.parameters():
            prm.zero_()
        norms = [model.vit.layernorm] + [m for layer in model.vit.layers
                                          for m in (layer.layernorm_before, layer.layernorm_after)]
        for norm in norms:
            norm.weight.fill_(1.0)
        conv = model.vit.embeddings.patch_embeddings.projection
        conv.weight[0] = 1.0 / conv.weight[0].numel()
        conv.weight[1] = -1.0 / conv.weight[0].numel()
        model.vit.embeddings.cls_token[0, 0, 2] = 1.0  # a constant dim keeps the final norm graded
        attention = model.vit.layers[0].attention
        attention.v_proj.weight.copy_(torch.eye(n))
        attention.o_proj.weight.copy_(torch.eye(n))
        model.classifier.weight[0, 0], model.classifier.weight[0, 1] = 0.5, -0.5
    return model


@pytest.fixture(scope="module")
def brightness_dir(tmp_path_factory):
    return save_checkpoint(brightness_model(), tmp_path_factory.mktemp("bright"))


def grey(value: int, size=(96, 64)) -> Image.Image:
    return Image.new("RGB", size, (value, value, value))


def split(value_left: int, value_right: int, left_share: float, size=(120, 120)) -> Image.Image:
    """Left part one grey, right part another: a graded share of bright patches."""
    arr = np.full((size[1], size[0], 3), value_right, np.uint8)
    arr[:, : int(size[0] * left_share)] = value_left
    return Image.fromarray(arr)


@pytest.fixture
def labelled(tmp_path):
    """real/phone, real/press and ai/gen-a, ai/gen-b (nested) with photos, a broken file, a text file,
    an empty group folder, and one file copied into both classes."""
    root = tmp_path / "labelled"
    layout = {"real/phone": 5, "real/press": 4, "ai/gen-a": 5, "ai/gen-b/v2": 4}
    seed = 0
    for folder, count in layout.items():
        (root / folder).mkdir(parents=True)
        for i in range(count):
            seed += 1
            make_photo(80 + 16 * (seed % 5), 64 + 8 * (seed % 3), seed).save(root / folder / f"{i}.png")
    (root / "real" / "press" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (root / "real" / "press" / "captions.txt").write_text("not an image")
    (root / "ai" / "empty").mkdir()
    (root / "ai" / "gen-a" / "copy.png").write_bytes((root / "real" / "phone" / "0.png").read_bytes())
    return root


def run_evaluate(root, out, *extra):
    return main(["evaluate", str(root), "--out", str(out), "--bootstrap", "60", *extra])


def test_metrics_json_equals_sklearn_on_scores_csv(labelled, tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    assert run_evaluate(labelled, out, "--model", str(tiny_model_dir), "--target-fpr", "0.2") == 0
    assert sorted(p.name for p in out.iterdir()) == ["calibration.json", "metrics.json", "report.pdf", "scores.csv"]
    assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"
    rows = evaluate.read_scores_csv(out / "scores.csv")
    m = json.loads((out / "metrics.json").read_text())

    ok = [r for r in rows if not r["error"]]
    y = np.array([r["label"] == "ai" for r in ok], int)
    p = np.array([r["fake_probability"] for r in ok])
    assert len(rows) == 20 and len(ok) == 19
    assert m["counts"] == {"scored": 19, "real": 9, "ai_generated": 10}
    assert m["ranking"]["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["ranking"]["average_precision"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    d = m["at_threshold_0_5"]
    pred = (p >= 0.5).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred).ravel()
    assert d["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert d["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert d["confusion"] == {"real_called_real": tn, "real_called_ai": fp, "ai_called_real": fn, "ai_called_ai": tp}
    assert d["tpr"] == pytest.approx(tp / (tp + fn)) and d["fpr"] == pytest.approx(fp / (fp + tn))
    lo, hi = d["accuracy_ci95"]
    assert lo <= d["accuracy"] <= hi
    band = m["inconclusive_band"]
    inside = (p > 0.4) & (p < 0.6)
    assert band["n_inconclusive"] == inside.sum()
    assert m["calibration"]["expected_calibration_error"] == pytest.approx(_ece(y, p), abs=1e-12)
    t = m["at_target_fpr"]
    assert t["fpr"] <= 0.2
    # scores.csv carries a verdict per row from the same P, and its hash is recorded
    assert {r["verdict"] for r in ok} <= {"ai-generated", "real", "inconclusive"}
    assert m["data"]["scores_csv_sha256"] == evaluate.file_sha256(out / "scores.csv")
    # the whole metrics block re-created from scores.csv alone
    again = evaluate.compute_metrics(y, p, [r["group"] for r in ok], inconclusive_margin=0.1, target_fpr=0.2,
                                     prevalence=0.01, n_bootstrap=60, seed=0, empty_groups=["ai/empty"])
    for key in ("counts", "ranking", "at_threshold_0_5", "inconclusive_band", "at_target_fpr", "calibration",
                "groups", "prevalence"):
        assert m[key] == again[key], key
    assert m["reproduce"].startswith("python -m forensics evaluate ") and "--target-fpr 0.2" in m["reproduce"]
    assert m["model"]["weights_sha256"] and m["model"]["demo"] is False
    cal = calibration.load(out / "calibration.json")
    assert cal.fitted_on["scores_csv_sha256"] == m["data"]["scores_csv_sha256"]
    assert cal.fitted_on["n_real"] == 9 and cal.fitted_on["n_ai"] == 10
    assert m["calibration_map"]["file_sha256"] == cal.sha256
    # 9 real and 10 AI-generated images are too few for a likelihood ratio: none, and the reason, everywhere
    assert cal.likelihood is None and "9 real and 10 AI-generated" in cal.likelihood_absent
    assert "likelihood_ratio" not in json.loads((out / "calibration.json").read_text())
    assert m["likelihood_ratio"]["calibrator"] is None and m["likelihood_ratio"]["reason"] == cal.likelihood_absent
    assert all(r["log10_lr"] is None and r["lr_verbal"] == "" for r in rows)


def _ece(y, p):
    fraction, mean_p = calibration_curve(y, p, n_bins=10)
    edges = np.linspace(0, 1, 11)
    counts = np.array([((p >= lo) & ((p < hi) if hi < 1 else (p <= hi))).sum() for lo, hi in zip(edges, edges[1:])])
    return float(np.sum(counts[counts > 0] / len(p) * np.abs(fraction - mean_p)))


def test_groups_broken_files_and_duplicates_are_reported(labelled, tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    assert run_evaluate(labelled, out, "--model", str(tiny_model_dir)) == 0
    m = json.loads((out / "metrics.json").read_text())
    rows = {r["path"]: r for r in evaluate.read_scores_csv(out / "scores.csv")}
    broken = rows["real/press/broken.jpg"]
    assert broken["error"] and broken["fake_probability"] is None and len(broken["sha256"]) == 64
    assert [u["path"] for u in m["data"]["unreadable"]] == ["real/press/broken.jpg"]
    assert {"path": "real/press/captions.txt"}.items() <= m["data"]["not_scored"][0].items()
    groups = {g["group"]: g for g in m["groups"]}
    assert set(groups) == {"phone", "press", "gen-a", "gen-b/v2", "ai/empty"}
    assert groups["gen-b/v2"]["n"] == 4 and groups["press"]["n"] == 4  # the broken file is not counted
    assert groups["ai/empty"]["n"] == 0 and "no images" in groups["ai/empty"]["note"]
    assert groups["phone"]["roc_auc"] is None
    across = m["data"]["duplicates"]["across_classes"]
    assert len(across) == 1 and sorted(across[0]["paths"]) == ["ai/gen-a/copy.png", "real/phone/0.png"]
    assert any("both classes" in w for w in m["warnings"])
    assert any("Fewer than 10" in w for w in m["warnings"]) and m["bootstrap"]["intervals_reliable"] is False


def test_group_auc_where_both_classes(tmp_path):
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.7, 0.6, 0.9, 0.3, 0.2])
    groups = ["a", "a", "a", "a", "b", "b"]
    table = {g["group"]: g for g in evaluate.group_table(y, p, groups)}
    assert table["a"]["roc_auc"] == pytest.approx(roc_auc_score(y[:4], p[:4]))
    assert table["b"]["roc_auc"] == pytest.approx(0.0)
    assert table["a"]["accuracy_at_0_5"] == pytest.approx(0.75)
    assert table["b"]["mean_fake_probability"] == pytest.approx(0.25)


def test_perfect_separation(brightness_dir, tmp_path):
    root = tmp_path / "d"
    for i in range(12):
        (root / "real" / "cam").mkdir(parents=True, exist_ok=True)
        (root / "ai" / "gen").mkdir(parents=True, exist_ok=True)
        split(20, 60, i / 12).save(root / "real" / "cam" / f"{i}.png")          # all darker than the mean
        split(250, 180, i / 12).save(root / "ai" / "gen" / f"{i}.png")         # all brighter
    out = tmp_path / "out"
    assert run_evaluate(root, out, "--model", str(brightness_dir)) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["ranking"]["roc_auc"] == 1.0 and m["ranking"]["average_precision"] == 1.0
    assert m["at_threshold_0_5"]["accuracy"] == 1.0 and m["at_threshold_0_5"]["fpr"] == 0.0
    assert m["at_target_fpr"]["tpr"] == 1.0 and m["at_target_fpr"]["fpr"] == 0.0
    assert m["bootstrap"]["intervals_reliable"] is True
    # FPR 0 on 12 real images is not FPR 0: the base-rate sentence says how bad it could be
    prev = m["prevalence"]["at_threshold_0_5"]
    assert prev["ppv"] == 1.0 and prev["ppv_pessimistic"] < 0.5 and "could be as low as" in prev["statement"]
    assert "resolution_note" in m["at_target_fpr"]  # 0.05 * 12 < 1 false positive: cannot be checked
    assert worst_misses(evaluate.read_scores_csv(out / "scores.csv")) == []
    cal = calibration.load(out / "calibration.json")
    assert cal.parameters["slope"] > 0


def test_one_class_only(brightness_dir, tmp_path):
    root = tmp_path / "d"
    (root / "real").mkdir(parents=True)
    for i in range(3):
        grey(30 + 10 * i).save(root / "real" / f"{i}.png")
    out = tmp_path / "out"
    assert run_evaluate(root, out, "--model", str(brightness_dir)) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["ranking"]["roc_auc"] is None and "undefined" in m["ranking"]["note"]
    assert m["at_threshold_0_5"]["tpr"] is None and m["at_threshold_0_5"]["tnr"] == 1.0
    assert m["at_threshold_0_5"]["accuracy"] == 1.0
    assert "undefined" in m["at_target_fpr"]["note"]
    assert any("Only real images" in w for w in m["warnings"])
    assert not (out / "calibration.json").exists() and m["calibration_map"] is None
    assert (out / "report.pdf").exists()


def test_refuses_to_overwrite_and_explains_missing_class_folders(labelled, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    assert run_evaluate(labelled, out, "--model", str(tiny_model_dir)) == 1
    assert "never overwritten" in capsys.readouterr().err
    (tmp_path / "flat").mkdir()
    assert run_evaluate(tmp_path / "flat", tmp_path / "o2", "--demo") == 1
    assert "real/ or ai/" in capsys.readouterr().err


# -- collecting labels ---------------------------------------------------------------------------

def test_groups_from_nested_folders(labelled):
    found = evaluate.collect_folder(labelled)
    by_name = {it.name: it for it in found.items}
    assert by_name["ai/gen-b/v2/0.png"].group == "gen-b/v2" and by_name["ai/gen-b/v2/0.png"].label == 1
    assert by_name["real/phone/3.png"].group == "phone" and by_name["real/phone/3.png"].label == 0
    assert found.empty_groups == ["ai/empty"]
    assert [s["path"] for s in found.skipped] == ["real/press/captions.txt"]


def test_class_folder_synonyms_and_files_at_the_top(tmp_path):
    for folder in ("Fake", "generated", "REAL"):
        (tmp_path / folder).mkdir()
        grey(200).save(tmp_path / folder / "x.png")
    grey(1).save(tmp_path / "loose.png")
    found = evaluate.collect_folder(tmp_path)
    assert {(it.name, it.label, it.group) for it in found.items} == {
        ("Fake/x.png", 1, "Fake"), ("generated/x.png", 1, "generated"), ("REAL/x.png", 0, "REAL")}
    assert found.skipped == [{"path": "loose.png", "reason": "outside the class folders"}]


def test_groups_from_csv(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "labels.csv").write_text("path,label,group\nimgs/a.png,real,phone\nimgs/b.png,AI,\n"
                                         "/abs/c.png,fake,mj\n")
    found = evaluate.read_labels(tmp_path / "labels.csv", base=tmp_path)
    assert [(it.path, it.label, it.group) for it in found.items] == [
        (tmp_path / "imgs" / "a.png", 0, "phone"), (tmp_path / "imgs" / "b.png", 1, evaluate.NO_GROUP),
        (Path("/abs/c.png"), 1, "mj")]
    (tmp_path / "nohead.csv").write_text("x.png,0\ny.png,1,g\n")
    assert [it.label for it in evaluate.read_labels(tmp_path / "nohead.csv").items] == [0, 1]
    (tmp_path / "bad.csv").write_text("path,label\nx.png,maybe\n")
    with pytest.raises(InputError, match="row 2.*'maybe'"):
        evaluate.read_labels(tmp_path / "bad.csv")


def test_labels_csv_on_the_command_line(brightness_dir, tmp_path):
    (tmp_path / "pics").mkdir()
    lines = ["path,label,group"]
    for i in range(4):
        grey(20 + i).save(tmp_path / "pics" / f"r{i}.png")
        grey(240 - i).save(tmp_path / "pics" / f"a{i}.png")
        lines += [f"pics/r{i}.png,real,cam", f"pics/a{i}.png,ai,gen"]
    lines.append("pics/missing.png,ai,gen")
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["evaluate", str(tmp_path), "--labels", str(tmp_path / "labels.csv"), "--out", str(out),
                 "--model", str(brightness_dir), "--bootstrap", "20"]) == 0
    rows = evaluate.read_scores_csv(out / "scores.csv")
    assert [r["path"] for r in rows if r["error"]] == ["pics/missing.png"]
    m = json.loads((out / "metrics.json").read_text())
    assert {g["group"] for g in m["groups"]} == {"cam", "gen"} and m["ranking"]["roc_auc"] == 1.0


# -- the decisions on arrays ---------------------------------------------------------------------

RNG = np.random.default_rng(3)
Y = np.r_[np.zeros(40, int), np.ones(30, int)]
P = np.clip(np.r_[RNG.beta(2, 5, 40), RNG.beta(5, 2, 30)], 0, 1)


def metrics(**kw):
    kw = {"inconclusive_margin": 0.1, "n_bootstrap": 50, **kw}
    return evaluate.compute_metrics(Y, P, ["g"] * len(Y), **kw)


@pytest.mark.parametrize("target", [0.01, 0.05, 0.2])
def test_target_fpr_cut_off_is_the_best_that_meets_it(target):
    t = metrics(target_fpr=target)["at_target_fpr"]
    real, ai = P[Y == 0], P[Y == 1]
    best = max(((ai >= c).mean(), c) for c in np.r_[P, np.inf] if (real >= c).mean() <= target)
    assert t["fpr"] <= target and t["fpr"] == pytest.approx((real >= t["cut_off"]).mean())
    assert t["tpr"] == pytest.approx(best[0])


def test_inconclusive_band_follows_the_margin():
    for margin in (0.0, 0.1, 0.3):
        b = metrics(inconclusive_margin=margin)["inconclusive_band"]
        inside = (P > 0.5 - margin) & (P < 0.5 + margin) if margin else P == 0.5
        assert b["n_inconclusive"] == inside.sum() and b["band"] == [0.5 - margin, 0.5 + margin]
        assert b["accuracy_on_conclusive"] == pytest.approx(((P[~inside] >= 0.5) == Y[~inside]).mean())


def test_ppv_at_the_stated_prevalence_in_words():
    m = metrics(prevalence=0.01)
    d, prev = m["at_threshold_0_5"], m["prevalence"]["at_threshold_0_5"]
    expected = d["tpr"] * 100 / (d["tpr"] * 100 + d["fpr"] * 9900)
    assert prev["ppv"] == pytest.approx(expected)
    assert "If 1% of the images" in prev["statement"] and "9,900" in prev["statement"]
    assert f"{expected:.0%} of the images it flags" in prev["statement"]
    assert metrics(prevalence=0.2)["prevalence"]["at_threshold_0_5"]["ppv"] > expected


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    a, b, c = metrics(seed=1), metrics(seed=1), metrics(seed=2)
    assert a["ranking"]["roc_auc_ci95"] == b["ranking"]["roc_auc_ci95"] != c["ranking"]["roc_auc_ci95"]
    lo, hi = a["ranking"]["roc_auc_ci95"]
    assert lo < a["ranking"]["roc_auc"] < hi and hi - lo < 0.3


def test_cli_default_resamples_match_the_library():
    assert BOOTSTRAP_RESAMPLES == evaluate.N_BOOTSTRAP


def test_nothing_scored_is_an_input_error():
    with pytest.raises(InputError, match="No image could be scored"):
        evaluate.compute_metrics([], [], [], inconclusive_margin=0.1)


# -- likelihood ratios on a labelled folder (the texture detector really separates) -----------------

FLIPS = (None, Image.FLIP_LEFT_RIGHT, Image.FLIP_TOP_BOTTOM, Image.ROTATE_180)
AMPLITUDES = (2, 4, 6, 8, 10, 14, 20, 30)   # faint textures overlap the clean pictures' logits


@pytest.fixture(scope="module")
def lr_folder(tmp_path_factory):
    """real/phone|press|scan and ai/mj|sd|flux, 8 pictures each at native scale (586x440: the short
    side is not resized), the AI ones with a planted texture of graded amplitude; plus a re-encoded
    copy of real/phone/0.png in real/press/, a near-duplicate in another group."""
    from texture_detector import camera_like, plant_texture
    root = tmp_path_factory.mktemp("lr") / "labelled"
    seed = 0
    for cls, groups in (("real", ("phone", "press", "scan")), ("ai", ("mj", "sd", "flux"))):
        for g, group in enumerate(groups):
            (root / cls / group).mkdir(parents=True)
            for i in range(8):
                picture = camera_like(586, 440, seed=seed)
                picture = picture if FLIPS[seed % 4] is None else picture.transpose(FLIPS[seed % 4])
                if cls == "ai":
                    picture = plant_texture(picture, amplitude=AMPLITUDES[(i + 3 * g) % 8], phase=i % 2)
                picture.save(root / cls / group / f"{i}.png")
                seed += 1
    Image.open(root / "real" / "phone" / "0.png").save(root / "real" / "press" / "copy.jpg", quality=92)
    return root


@pytest.fixture(scope="module")
def lr_evaluated(lr_folder, texture_detector, tmp_path_factory):
    out = tmp_path_factory.mktemp("lr-out") / "out"
    assert run_evaluate(lr_folder, out, "--model", texture_detector.model_info.source) == 0
    return out


def test_out_of_fold_lrs_match_metrics_and_the_enfsi_words(lr_evaluated):
    from forensics.core import likelihood
    rows = evaluate.read_scores_csv(lr_evaluated / "scores.csv")
    m = json.loads((lr_evaluated / "metrics.json").read_text())
    lr = m["likelihood_ratio"]
    assert (lr["n_real"], lr["n_ai"]) == (25, 24) and lr["calibrator"] is not None and lr["reason"] == ""
    y = np.array([r["label"] == "ai" for r in rows], int)
    log10_lr = np.array([r["log10_lr"] for r in rows])
    # Cllr (Brummer & du Preez) recomputed from scores.csv alone equals metrics.json
    cllr = 0.5 * (np.mean(np.log2(1 + 10.0 ** -log10_lr[y == 1])) + np.mean(np.log2(1 + 10.0 ** log10_lr[y == 0])))
    assert lr["cllr"] == pytest.approx(cllr, abs=1e-12) and lr["cllr"] < 1
    assert lr["cllr_min"] <= lr["cllr"] and lr["cllr_cal"] == pytest.approx(lr["cllr"] - lr["cllr_min"])
    low, high = lr["log10_bounds"]
    assert low < 0 < high and np.all((log10_lr >= low) & (log10_lr <= high))
    assert lr["n_capped"] == int(np.sum((log10_lr == low) | (log10_lr == high)))
    for r in rows:
        assert r["lr_verbal"] == likelihood.short_verbal(r["log10_lr"])
    # the folds: a near-copy is held out with its original; groups whole when the plan says so
    by_path = {r["path"]: r for r in rows}
    assert by_path["real/press/copy.jpg"]["fold"] == by_path["real/phone/0.png"]["fold"]
    assert {r["fold"] for r in rows} == set(range(1, lr["folds"] + 1)) and lr["folds"] >= 2
    plan = lr["fold_plan"]
    assert plan["near_duplicate_pairs"] >= 1
    if "same group (sub-folder)" in plan["kept_together"]:
        assert all(len({r["fold"] for r in rows if r["group"] == g}) == 1 for g in {r["group"] for r in rows})
    else:
        assert plan["notes"]


def test_near_duplicates_found_by_evaluate_share_a_fold(lr_folder, lr_evaluated):
    """Independently of the evaluation's code: every pair the case store would call near-duplicates
    was held out together."""
    from forensics.cases import duplicates
    rows = evaluate.read_scores_csv(lr_evaluated / "scores.csv")
    hashes = {r["path"]: duplicates.hashes(Image.open(lr_folder / r["path"]).convert("RGB")) for r in rows}
    pairs = [(a, b) for i, a in enumerate(rows) for b in rows[i + 1:] if duplicates.near(*hashes[a["path"]],
                                                                                        *hashes[b["path"]])]
    assert pairs and all(a["fold"] == b["fold"] for a, b in pairs)


def test_an_analysis_with_that_calibration_carries_an_lr_that_rises_with_the_logit(lr_evaluated, texture_detector):
    from texture_detector import camera_like, plant_texture
    cal = calibration.load(lr_evaluated / "calibration.json")
    m = json.loads((lr_evaluated / "metrics.json").read_text())
    assert cal.likelihood is not None and list(cal.likelihood.log10_bounds) == m["likelihood_ratio"]["log10_bounds"]
    assert cal.likelihood.validation["cllr"] == m["likelihood_ratio"]["cllr"]
    det = texture_detector.with_calibration(cal)
    clean = camera_like(586, 440, seed=900)
    analyses = [det.analyze(clean if a == 0 else plant_texture(clean, amplitude=a)) for a in (0, 6, 10, 14, 40)]
    analyses.sort(key=lambda a: a.logit)
    lrs = [a.likelihood_ratio for a in analyses]
    assert all(lr is not None for lr in lrs)
    logs = [lr.log10_lr for lr in lrs]
    assert logs == sorted(logs) and logs[-1] > logs[0]
    assert lrs[-1].supports == "ai-generated" and lrs[-1].capped and logs[-1] == cal.likelihood.log10_bounds[1]
    for a, lr in zip(analyses, lrs):
        assert lr.log10_lr == pytest.approx(cal.likelihood.log10_lr(a.logit))
        assert lr.verbal.startswith("The findings provide") and lr.bounds == cal.likelihood.log10_bounds
    assert texture_detector.analyze(clean).likelihood_ratio is None   # no calibration: no LR


@requires_poppler
def test_report_states_the_propositions_and_how_to_read_each_plot(lr_evaluated):
    import subprocess
    from forensics.evaluation.pdf import HOW_TO_READ
    from forensics.core.likelihood import HD, HP
    text = " ".join(subprocess.run(["pdftotext", str(lr_evaluated / "report.pdf"), "-"], capture_output=True,
                                   text=True, check=True).stdout.split())
    for needle in (f"Hp: {HP}", f"Hd: {HD}", "ELUB bounds", "Cllr"):
        assert needle in text, needle
    for sentence in HOW_TO_READ.values():  # "Tippett plot. Each curve ...", "PAV plot. ...", ...
        assert " ".join(sentence.split()[:12]) in text
