"""The analyst's probe (`forensics adapt`, `analyze --probe`, the page): it learns what the model's P
misses, reports chance on shuffled truth, keeps near-duplicates in one fold, refuses below the floor
and for another extractor, and never changes the model's P or the call."""
from __future__ import annotations

import csv
import dataclasses
import html
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.model_selection import StratifiedKFold

from forensics import Detector, InputError
from forensics.cli.main import main
from forensics.evaluation import adapt, folds, metrics
from forensics.evaluation.probe import LAYER, Probe
from helpers import CHROMIUM, requires_chromium
from model_factory import build_model, save_checkpoint, tiny_config

SCENES = 10          # per class; three near-duplicate variants each: 30 items per class (floor: 20)
VARIANTS = 3
CHANCE = 0.12        # shuffled truth: the mean AUC of ten shuffles lies within 0.5 +/- this


def scene(kind: str, seed: int) -> Image.Image:
    """'real': warm smooth blobs; 'ai': cool hard stripes. Different seeds, different scenes."""
    rng = np.random.default_rng(seed + (1000 if kind == "ai" else 0))
    yy, xx = np.mgrid[0:150, 0:200] / 200
    if kind == "real":
        base, tint = np.array([200, 120, 60]) + rng.integers(-40, 40, 3), np.array([1, 0.7, 0.4])
        f, ph = rng.uniform(1, 4, 2), rng.uniform(0, 6.28, 2)
        field = np.sin(f[0] * 6 * xx + ph[0]) * np.cos(f[1] * 6 * yy + ph[1])
    else:
        base, tint = np.array([60, 110, 200]) + rng.integers(-40, 40, 3), np.array([0.4, 0.7, 1])
        f, a = rng.uniform(2, 5), rng.uniform(0, 3.14)
        field = np.sign(np.sin(f * 6 * (np.cos(a) * xx + np.sin(a) * yy)))
    return Image.fromarray(np.clip(base + 50 * field[..., None] * tint, 0, 255).astype(np.uint8))


def variants(img: Image.Image) -> list[Image.Image]:
    """The scene, a JPEG q80 copy and a 0.9x copy: near-duplicates by the perceptual hashes."""
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return [img, Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), img.resize((180, 135))]


def write_set(root, scenes=range(SCENES), kinds=("real", "ai")):
    for kind in kinds:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for s in scenes:
            for v, im in enumerate(variants(scene(kind, s))):
                im.save(root / kind / f"scene{s}_v{v}.png")
    return root


@pytest.fixture(scope="module")
def flat_model_dir(tmp_path_factory):
    """The tiny ViT with its classifier's weights zeroed: P = sigmoid(0.3) for every picture (the
    model's P separates nothing), while its embeddings are the tiny model's own."""
    net = build_model(tiny_config())
    with torch.no_grad():
        net.classifier.weight.zero_()
    return save_checkpoint(net, tmp_path_factory.mktemp("flat"))


@pytest.fixture(scope="module")
def flat_detector(flat_model_dir):
    return Detector.from_pretrained(flat_model_dir, device="cpu")


@pytest.fixture(scope="module")
def labelled_dir(tmp_path_factory):
    return write_set(tmp_path_factory.mktemp("labelled"))


@pytest.fixture(scope="module")
def material(flat_detector, labelled_dir):
    return adapt.embed(flat_detector, metrics.collect_folder(labelled_dir).items, "folder labelled", progress=False)


def scene_of(name: str) -> str:
    """'ai/scene3_v1.png' -> 'ai/scene3'."""
    return name.rsplit("_v", 1)[0]


def scene_shuffles(m: adapt.Material, n: int):
    """Truth shuffled between scenes (a scene's variants keep one label): the honest null."""
    scenes = np.array([scene_of(name) for name in m.names])
    unique = sorted(set(scenes))
    rng = np.random.default_rng(0)
    for _ in range(n):
        label = dict(zip(unique, rng.permutation(np.arange(len(unique)) % 2)))
        yield dataclasses.replace(m, labels=np.array([label[s] for s in scenes]))


def test_probe_separates_what_the_model_does_not(material):
    assert material.embeddings.shape == (2 * SCENES * VARIANTS, 32) and material.embeddings.dtype == np.float32
    assert np.ptp(material.logits) == 0  # the model's P is one number for every picture
    done = adapt.adapt(material)
    v = done.summary["validation"]
    assert v["model"]["auc"] == 0.5
    assert v["probe"]["auc"] >= 0.9 and v["probe"]["accuracy"] >= 0.8
    assert v["probe"]["n_real"] == v["probe"]["n_ai"] == SCENES * VARIANTS
    assert v["fold_plan"]["n_folds"] == 5
    assert done.probe.validated["auc"] == v["probe"]["auc"] and done.probe.validated["model_auc"] == 0.5
    # (a) the recalibration: a Platt map of the logit, validated the same way; a constant P stays uninformative
    assert done.recalibration.method == "platt" and v["recalibration"]["auc"] <= 0.6


def test_shuffled_truth_gives_chance(material):
    aucs = [adapt.adapt(m, seed=i).summary["validation"]["probe"]["auc"]
            for i, m in enumerate(scene_shuffles(material, 10))]
    assert abs(np.mean(aucs) - 0.5) <= CHANCE, aucs
    assert max(aucs) < 0.85, aucs  # never anywhere near the real separation


def test_folds_keep_near_duplicates_together_and_leaks_would_inflate(material):
    done = adapt.adapt(material)
    scenes = [scene_of(n) for n in material.names]
    for s in set(scenes):  # every variant of a scene is held out in the same fold
        assert len({int(f) for f, t in zip(done.folds, scenes) if t == s}) == 1, s
    assert done.summary["validation"]["fold_plan"]["units"] == 2 * SCENES
    # Why it matters: on shuffled truth, folds that split the variants let a copy validate itself
    grouped, leaky = [], []
    for i, m in enumerate(scene_shuffles(material, 8)):
        plan = folds.plan(m.labels, m.groups, m.sha256s, m.phashes, m.dhashes, seed=i)
        grouped.append(adapt.validate(m, plan)["probe"]["auc"])
        split = np.zeros(len(m.labels), dtype=int)
        for f, (_, test) in enumerate(StratifiedKFold(5, shuffle=True, random_state=i).split(m.labels, m.labels), 1):
            split[test] = f
        leaky.append(adapt.validate(m, dataclasses.replace(plan, folds=split, n_folds=5))["probe"]["auc"])
    assert np.mean(leaky) > np.mean(grouped) + 0.1, (leaky, grouped)


def test_below_the_floor_adapt_refuses(material):
    keep = np.ones(len(material.labels), dtype=bool)
    keep[np.flatnonzero(material.labels == 1)[adapt.MIN_ITEMS_PER_CLASS - 1:]] = False  # 19 AI-generated left
    fewer = adapt.Material(material.embeddings[keep], material.logits[keep], material.labels[keep],
                           *([x for x, k in zip(col, keep) if k] for col in (material.groups, material.sha256s,
                                                                               material.phashes, material.dhashes,
                                                                               material.names)),
                           material.extractor, material.source)
    with pytest.raises(InputError, match=f"at least {adapt.MIN_ITEMS_PER_CLASS} marked items of each class.*"
                                         f"{SCENES * VARIANTS} real and {adapt.MIN_ITEMS_PER_CLASS - 1} AI"):
        adapt.adapt(fewer)


def test_probe_file_round_trip_and_its_arithmetic(material, flat_detector, labelled_dir, tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = adapt.adapt(material).probe.save(tmp_path / "probe.json")
    body = json.loads((tmp_path / "probe.json").read_text())
    assert body["format"] == "forensics-probe/1" and len(body["coefficients"]) == 32
    assert body["extractor"]["layer"] == LAYER == "final-cls"
    assert body["extractor"]["weights_sha256"] == flat_detector.model_info.weights_sha256
    assert body["extractor"]["transform"] == "training"
    assert body["trained_on"]["n_real"] == body["trained_on"]["n_ai"] == SCENES * VARIANTS
    assert body["validated"]["auc"] >= 0.9 and body["created_utc"]
    loaded = Probe.load(tmp_path / "probe.json", flat_detector)
    assert loaded.sha256 == probe.sha256
    a = flat_detector.analyze(labelled_dir / "ai" / "scene0_v0.png")
    # the folded coefficients give scikit-learn's own pipeline P
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000))
    reference.fit(material.embeddings, material.labels)
    assert loaded.probability(a) == pytest.approx(reference.predict_proba(a.embedding[None, :])[0, 1], abs=1e-6)
    assert loaded.probability(a) > 0.5


def test_a_probe_from_another_extractor_is_refused(material, tiny_detector, flat_detector, labelled_dir, tmp_path):
    adapt.adapt(material).probe.save(tmp_path / "probe.json")
    with pytest.raises(InputError, match="another extractor's embeddings.*weights sha256"):
        Probe.load(tmp_path / "probe.json", tiny_detector)
    probe = Probe.load(tmp_path / "probe.json")
    with pytest.raises(InputError, match="another extractor"):
        probe.probability(tiny_detector.analyze(labelled_dir / "ai" / "scene0_v0.png"))
    other_transform = dataclasses.replace(flat_detector.transform, name="hub", size=384)
    with pytest.raises(InputError, match="input transform"):
        probe.check(flat_detector.model_info, other_transform)
    (tmp_path / "bad.json").write_text('{"format": "forensics-probe/1", "coefficients": "x"}')
    with pytest.raises(InputError, match="not a forensics probe"):
        Probe.load(tmp_path / "bad.json")


def test_a_probe_never_changes_the_model_p_or_the_call(material, flat_detector, labelled_dir):
    probe = adapt.adapt(material).probe
    a = flat_detector.analyze(labelled_dir / "ai" / "scene1_v0.png")
    before = (a.fake_probability, a.verdict, a.model_verdict, a.logit)
    section = probe.record(a)
    assert section["fake_probability"] > 0.5 and section["fake_probability"] != a.fake_probability
    assert (a.fake_probability, a.verdict, a.model_verdict, a.logit) == before
    assert section["label"] == "the analyst's probe" and section["validated"]["auc"] >= 0.9


def test_adapt_and_analyze_with_probe_end_to_end(flat_model_dir, labelled_dir, tmp_path, capsys):
    out = tmp_path / "adapted"
    assert main(["adapt", str(labelled_dir), "--out", str(out), "--model", str(flat_model_dir)]) == 0
    printed = capsys.readouterr().out
    assert "analyst's probe" in printed and "second opinion" in printed
    summary = json.loads((out / "adapt.json").read_text())
    v = summary["validation"]
    assert v["probe"]["auc"] >= v["model"]["auc"] + 0.4
    assert summary["files"]["probe.json"] == Probe.load(out / "probe.json").sha256
    assert summary["reproduce"].startswith(f"forensics adapt {labelled_dir} --out OUT --model {flat_model_dir}")
    assert json.loads((out / "calibration.json").read_text())["method"] == "platt"
    assert main(["adapt", str(labelled_dir), "--out", str(out), "--model", str(flat_model_dir)]) == 1
    assert "never overwritten" in capsys.readouterr().err

    new = write_set(tmp_path / "new", scenes=(40, 41))  # scenes it never saw
    files = [str(new / "ai" / "scene40_v0.png"), str(new / "real" / "scene41_v0.png")]
    common = ["--model", str(flat_model_dir), "--format", "json,csv"]
    assert main(["analyze", *files, "--out", str(tmp_path / "plain"), *common]) == 0
    assert main(["analyze", *files, "--out", str(tmp_path / "probed"), *common, "--probe", str(out / "probe.json")]) == 0
    assert "Probe: Analyst's probe (second opinion, not the model)" in capsys.readouterr().out
    plain, probed = ([*csv.DictReader(open(tmp_path / d / "summary.csv", encoding="utf-8"))] for d in ("plain", "probed"))
    for p, q in zip(plain, probed):
        assert (p["fake_probability"], p["verdict"], p["model_verdict"]) == (q["fake_probability"], q["verdict"],
                                                                            q["model_verdict"])
    assert "probe_p" not in plain[0] and float(probed[0]["probe_p"]) > 0.5 > float(probed[1]["probe_p"])
    for stem in ("scene40_v0", "scene41_v0"):
        before = json.loads((tmp_path / "plain" / f"{stem}.json").read_text())
        after = json.loads((tmp_path / "probed" / f"{stem}.json").read_text())
        section = after.pop("probe")
        assert {k: v for k, v in after.items() if k != "created_utc"} == \
               {k: v for k, v in before.items() if k != "created_utc"}
        assert section["label"] == "the analyst's probe" and section["trained_on"]["n_items"] == 2 * SCENES * VARIANTS
        assert 0 <= section["fake_probability"] <= 1 and section["validated"]["auc"] >= 0.9

    # another model's analysis refuses the probe with a message, before analysing anything
    assert main(["analyze", *files, "--out", str(tmp_path / "demo"), "--demo", "--format", "json",
                 "--probe", str(out / "probe.json")]) == 1
    assert "another extractor" in capsys.readouterr().err


def test_adapt_below_the_floor_from_the_command_line(flat_model_dir, tmp_path, capsys):
    few = write_set(tmp_path / "few", scenes=range(3))  # 9 per class
    assert main(["adapt", str(few), "--out", str(tmp_path / "o"), "--model", str(flat_model_dir)]) == 1
    assert f"at least {adapt.MIN_ITEMS_PER_CLASS} marked items of each class" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow  # ~4 s: two cases of 30 items through the store
def test_adapt_on_marked_cases_groups_by_case(flat_model_dir, flat_detector, tmp_path, capsys):
    from forensics.cases import CaseStore
    store_dir = tmp_path / "store"
    store = CaseStore.open(store_dir)
    for case, scenes in (("north", range(0, 5)), ("south", range(5, 10))):
        files = write_set(tmp_path / case, scenes=scenes)
        store.create_case(case, owner="alice")
        for truth in ("real", "ai"):
            added = store.add_files(case, [str(files / truth)], flat_detector, user="alice").added
            for item_id, _, error in added:
                assert error is None
                store.mark(case, item_id, "alice", truth=truth)
    out = tmp_path / "adapted"
    assert main(["adapt", "--case", "north", "--case", "south", "--store", str(store_dir), "--user", "alice",
                 "--out", str(out), "--model", str(flat_model_dir)]) == 0
    summary = json.loads((out / "adapt.json").read_text())
    plan = summary["validation"]["fold_plan"]
    assert plan["n_folds"] == 2 and "same group (sub-folder)" in plan["kept_together"]  # a case held out whole
    assert summary["trained_on"]["groups"] == ["north", "south"] and summary["counts"]["items"] == 60
    assert summary["trained_on"]["source"] == "case(s) north, south"
    assert main(["adapt", "--case", "north", "--store", str(store_dir), "--user", "bob",
                 "--out", str(tmp_path / "bob"), "--model", str(flat_model_dir)]) == 1
    assert "bob has no case named 'north'" in capsys.readouterr().err


@pytest.mark.slow  # ~8 s: builds the page twice
def test_the_page_shows_the_probe_beside_the_verdict(material, flat_detector, flat_model_dir, tiny_model_dir,
                                                      labelled_dir, tmp_path, capsys):
    import app
    import webui
    from webui import cards

    probe = adapt.adapt(material).probe.save(tmp_path / "probe.json")
    a = flat_detector.analyze(labelled_dir / "real" / "scene2_v0.png")
    card = cards.probe_card(probe, a)
    assert "Analyst&rsquo;s probe (second opinion, not the model):</b> " in card
    assert f"P = {cards.percent(probe.probability(a))}, trained on {2 * SCENES * VARIANTS} items" in card
    assert f"grouped-CV AUC {probe.validated['auc']:.3f} (the model on the same items: 0.500)" in card
    assert cards.probe_card(probe, None) == "" and "probe" not in cards.verdict_card(a)
    blocks = webui.build_app(flat_detector, probe=probe)
    wired = [f for f in blocks.fns.values() if any(getattr(o, "elem_id", None) == "probe-card" for o in f.outputs)]
    assert len(wired) == 1 and wired[0].fn(a) == card  # follows the verdict card
    plain = webui.build_app(flat_detector)
    assert not [f for f in plain.fns.values() if any(getattr(o, "elem_id", None) == "probe-card" for o in f.outputs)]
    # app.py refuses a probe fitted for another model before it serves anything
    assert app.main(["--model", str(tiny_model_dir), "--probe", str(tmp_path / "probe.json")]) == 2
    assert "another extractor" in capsys.readouterr().err


@pytest.mark.browser
@requires_chromium
def test_the_probe_panel_follows_each_verdict_in_a_browser(material, flat_detector, labelled_dir):
    sync_api = pytest.importorskip("playwright.sync_api")
    import socket

    import webui
    from webui import cards

    probe = adapt.adapt(material).probe
    pictures = [labelled_dir / "ai" / "scene3_v0.png", labelled_dir / "real" / "scene4_v0.png"]
    expected = [html.unescape(cards.percent(probe.probability(flat_detector.analyze(p)))) for p in pictures]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    blocks = webui.build_app(flat_detector, probe=probe)
    blocks.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                  **webui.LAUNCH_OPTIONS)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(blocks.local_url)
                for picture, shown in zip(pictures, expected):
                    page.set_input_files("#input-image input[type=file]", str(picture))
                    panel = page.locator("#probe-card")
                    sync_api.expect(panel).to_contain_text(f"P = {shown}", timeout=30_000)
                    sync_api.expect(panel).to_contain_text("second opinion, not the model")
                    sync_api.expect(page.locator("#verdict .fx-prob")).to_contain_text(
                        f"{100 * flat_detector.analyze(picture).fake_probability:.1f}")
            finally:
                browser.close()
    finally:
        blocks.close()
