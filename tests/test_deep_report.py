"""Deep checks in the evidence exports: every item in the JSON and the PDF, badges, colour scale."""
import dataclasses
import json
import re
import subprocess

import numpy as np
import pytest
from matplotlib.colors import to_hex
from PIL import Image

from conftest import encode, make_photo
from forensics import checks
from forensics import render
from forensics import report
from forensics.core.preprocess import GRID
from forensics.report.figures import annotated_layout

NAME = "deep case.jpg"


@pytest.fixture(scope="module")
def jpeg():
    return encode(make_photo(640, 400, seed=5), "JPEG", quality=90)


@pytest.fixture(scope="module")
def analysis(tiny_detector, jpeg):
    return tiny_detector.analyze(jpeg, name=NAME, method="grad-rollout")


@pytest.fixture(scope="module")
def deep(tiny_detector, analysis):
    return checks.deep_check(tiny_detector, analysis)


def pdfinfo_pages(path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def forced(analysis, deep, *, faithful: bool, fragile: bool, unstable: bool):
    """The same analysis and deep check with the badges' states set (the tiny model decides nothing)."""
    f = deep.faithfulness
    f = dataclasses.replace(f, auc_top=0.3 if faithful else 0.0, auc_random=0.01 if faithful else 0.2)
    s = deep.stability
    perturbations = tuple(dataclasses.replace(p, flipped=fragile and i == 0, heatmap_correlation=0.9)
                          for i, p in enumerate(s.perturbations))
    s = dataclasses.replace(s, perturbations=perturbations)
    rollout = analysis.rollout_scores
    # Reversed ranking: the two methods' top-10% patches are disjoint (IoU 0); the same: IoU 1.
    relevance = rollout.max() - rollout if unstable else rollout.copy()
    a = dataclasses.replace(analysis, method_scores={"grad-rollout": relevance / relevance.sum()})
    assert a.explanation_unstable is unstable
    return a, dataclasses.replace(deep, faithfulness=f, stability=s)


# -- JSON ------------------------------------------------------------------------------------------

def test_json_has_every_deep_check_item(analysis, deep, tmp_path):
    rec = json.loads(report.write_json(analysis, tmp_path / "d.json", deep=deep).read_text())
    d = rec["deep_check"]
    assert set(d) == {"judgements", "faithfulness", "stability", "coverage", "coverage_error", "reliability"}
    assert d["judgements"] == [dataclasses.asdict(j) for j in checks.judgements(analysis, deep)]
    assert [j["key"] for j in d["judgements"]] == ["faithfulness", "stability", "agreement", "coverage"]

    f = d["faithfulness"]
    assert f["fractions"] == list(checks.DELETION_FRACTIONS)
    assert len(f["top_removed"]) == len(f["random_removed"]) == len(checks.DELETION_FRACTIONS)
    assert f["top_removed"] == pytest.approx(deep.faithfulness.top_removed, rel=1e-7)
    assert f["auc_top"] == pytest.approx(deep.faithfulness.auc_top, rel=1e-7, abs=1e-12)
    assert f["auc_random"] == pytest.approx(deep.faithfulness.auc_random, rel=1e-7, abs=1e-12)
    assert f["probability"] == pytest.approx(analysis.fake_probability, rel=1e-7)
    assert f["faithful"] is deep.faithfulness.faithful and f["faithful_ratio"] == checks.FAITHFUL_RATIO
    assert f["faithful_min_auc"] == checks.FAITHFUL_MIN_AUC

    s = d["stability"]
    assert [p["name"] for p in s["perturbations"]] == ["JPEG q90", "0.9x rescale", "8-pixel shift"]
    for p, q in zip(s["perturbations"], deep.stability.perturbations):
        assert set(p) == {"name", "probability", "verdict", "flipped", "heatmap_correlation"}
        assert p["verdict"] == q.verdict and p["flipped"] is q.flipped
        assert p["heatmap_correlation"] == pytest.approx(q.heatmap_correlation, rel=1e-7, abs=1e-12)
    assert s["fragile"] is deep.stability.fragile

    c = d["coverage"]
    assert d["coverage_error"] is None
    assert [t["box_original"] for t in c["tiles"]] == [list(t.box_original) for t in deep.coverage.tiles]
    assert c["probability"] == max(t["probability"] for t in c["tiles"])
    assert c["aggregation"] == "max"
    assert c["centre_probability"] == pytest.approx(analysis.fake_probability, rel=1e-7)

    r = d["reliability"]
    for key in ("flat", "clipped", "outliers"):
        mask = np.array(r[key])
        assert mask.shape == (GRID, GRID) and set(np.unique(mask)) <= {0, 1}
        assert np.array_equal(mask.astype(bool), getattr(deep.reliability, key))
    assert r["flat_count"] == int(deep.reliability.flat.sum())
    assert r["weak_count"] == int(deep.reliability.weak.sum())
    assert r["outlier_count"] == int(deep.reliability.outliers.sum())

    assert rec["top10_share"] == pytest.approx(analysis.top_share(0.1), rel=1e-7)
    assert rec["method_agreement"] == pytest.approx(analysis.method_agreement, rel=1e-7)
    assert rec["explanation_unstable"] is analysis.explanation_unstable
    assert "--method grad-rollout" in rec["reproduce"] and rec["reproduce"].endswith(" --deep-check")
    for section in d.values():
        if isinstance(section, dict):
            assert section["summary"]


def test_json_without_deep_check_still_has_concentration_and_agreement(tiny_detector, jpeg):
    rec = report.record(tiny_detector.analyze(jpeg, name=NAME))
    assert "deep_check" not in rec and "--deep-check" not in rec["reproduce"]
    assert 0.1 <= rec["top10_share"] <= 1.0
    assert rec["method_agreement"] is None and rec["explanation_unstable"] is False
    assert rec["color_scale"]["name"] == "image"


def test_json_with_deep_check_is_reproducible(tiny_detector, jpeg, analysis, deep, tmp_path):
    again = tiny_detector.analyze(jpeg, name=NAME, method="grad-rollout")
    deep_again = checks.deep_check(tiny_detector, again)
    first = report.record(analysis, "n", deep, color_scale="absolute")
    second = report.record(again, "n", deep_again, color_scale="absolute")
    first.pop("created_utc"), second.pop("created_utc")
    assert first == second
    strip = lambda text: re.sub(r'"created_utc": "[^"]*"', "", text)  # noqa: E731
    a = report.write_json(analysis, tmp_path / "a.json", "n", deep, color_scale="absolute").read_text()
    b = report.write_json(again, tmp_path / "b.json", "n", deep_again, color_scale="absolute").read_text()
    assert strip(a) == strip(b)
    assert re.search(r'"flat": \[\n +\[[01](, [01]){23}\],\n', a)  # masks: one grid row a line


def test_color_scale_is_recorded(analysis):
    rec = report.record(analysis, color_scale="absolute")
    assert rec["color_scale"] == {"name": "absolute", "full_colour_share": render.ABSOLUTE_VMAX}
    assert rec["reproduce"].endswith("--color-scale absolute")
    per_image = report.record(analysis)["color_scale"]
    assert per_image["full_colour_share"] == pytest.approx(analysis.patch_scores.max(), rel=1e-7)
    with pytest.raises(ValueError, match="color_scale"):
        report.record(analysis, color_scale="log")


@pytest.mark.requires_poppler  # skipped without poppler-utils: tests/helpers.py
def test_too_elongated_image_records_the_coverage_error(tiny_detector, tmp_path):
    a = tiny_detector.analyze(make_photo(4000, 20), name="strip.png")
    deep = checks.deep_check(tiny_detector, a)
    rec = report.record(a, deep=deep)
    assert rec["deep_check"]["coverage"] is None and "elongated" in rec["deep_check"]["coverage_error"]
    path = report.write_pdf(a, tmp_path / "strip.pdf", deep=deep)
    text = pdf_text(path)
    assert "COVERAGE NOT RUN" in text and "too elongated" in text


# -- PDF and PNG -----------------------------------------------------------------------------------

@pytest.mark.requires_poppler  # skipped without poppler-utils: tests/helpers.py
def test_pdf_with_deep_check_has_its_page(analysis, deep, tmp_path):
    plain = report.write_pdf(analysis, tmp_path / "plain.pdf")
    checked = report.write_pdf(analysis, tmp_path / "deep.pdf", deep=deep)
    assert pdfinfo_pages(checked) == pdfinfo_pages(plain) + 1 == 2
    deep_page = pdf_text(checked).split("\f")[1]
    for fact in ("Deep checks", "Deletion check", "JPEG q90", "0.9x rescale", "8-pixel shift",
                 "Full coverage", "tile box", "weak evidence", "outlier tokens", "outside the analysed crop",
                 f"{deep.coverage.probability:.2f}", "Concentration", "Method agreement"):
        assert fact in deep_page, fact
    for tile in deep.coverage.tiles:
        assert "({}, {}, {}, {})".format(*tile.box_original) in deep_page


@pytest.mark.parametrize("faithful, fragile, unstable, shown, absent", [
    (True, False, False, ["FAITHFUL", "STABLE", "METHODS AGREE"], ["NOT SHOWN FAITHFUL", "FRAGILE", "UNSTABLE"]),
    (False, True, True, ["NOT SHOWN FAITHFUL", "FRAGILE", "EXPLANATION UNSTABLE"],
     ["(?<!SHOWN )FAITHFUL", "(?<!UN)STABLE", "METHODS AGREE"]),
])
@pytest.mark.requires_poppler  # skipped without poppler-utils: tests/helpers.py
def test_pdf_badges(analysis, deep, tmp_path, faithful, fragile, unstable, shown, absent):
    a, d = forced(analysis, deep, faithful=faithful, fragile=fragile, unstable=unstable)
    text = pdf_text(report.write_pdf(a, tmp_path / "b.pdf", deep=d))
    first, second = text.split("\f")[:2]
    for badge in shown:
        assert badge in second, badge
        assert badge in first  # the verdict page names them too
    for pattern in absent:
        assert not re.search(pattern, text), pattern
    if fragile:
        assert "YES" in second  # the flipped run is marked in the stability table


def test_badges_for_a_single_method(tiny_detector, jpeg):
    a = tiny_detector.analyze(jpeg, name=NAME)
    labels = [j.label for j in checks.judgements(a, checks.deep_check(tiny_detector, a))]
    assert labels[2] == "ONE METHOD RUN" and labels[3].startswith("FULL IMAGE P ")


@pytest.mark.requires_poppler  # skipped without poppler-utils: tests/helpers.py
def test_absolute_colour_scale_in_png_and_pdf(analysis, deep, tmp_path):
    label = annotated_layout(analysis, color_scale="absolute").bar.label
    assert "absolute scale" in label and "1%" in label
    assert "per-image scale" in annotated_layout(analysis).bar.label
    with Image.open(report.write_png(analysis, tmp_path / "a.png", deep=deep, color_scale="absolute")) as img:
        assert img.format == "PNG"
    text = " ".join(pdf_text(report.write_pdf(analysis, tmp_path / "a.pdf", color_scale="absolute")).split())
    assert "absolute scale" in text and "--color-scale absolute" in text


@pytest.mark.requires_poppler  # skipped without poppler-utils: tests/helpers.py
def test_export_passes_deep_and_scale_on(analysis, deep, tmp_path):
    paths = report.export(analysis, tmp_path, deep=deep, color_scale="absolute")
    rec = json.loads(paths["json"].read_text())
    assert rec["deep_check"]["stability"]["fragile"] is deep.stability.fragile
    assert rec["color_scale"]["name"] == "absolute"
    assert pdfinfo_pages(paths["pdf"]) == 2
    with pytest.raises(ValueError, match="color_scale"):
        report.export(analysis, tmp_path / "bad", color_scale="loud")
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


@pytest.mark.requires_poppler  # skipped without poppler-utils: tests/helpers.py
def test_batch_cover_lists_the_badges(analysis, deep, tmp_path):
    with report.BatchReport(tmp_path / "batch.pdf") as batch:
        batch.add(analysis, deep=deep)
    assert pdfinfo_pages(tmp_path / "batch.pdf") == 3
    cover = pdf_text(tmp_path / "batch.pdf").split("\f")[0]
    assert "deep check:" in cover and checks.judgements(analysis, deep)[0].label in cover


@pytest.mark.parametrize("faithful, fragile, unstable, whole_image_p", [
    (True, False, False, 0.9),    # the whole image says AI: bad, though the explanation is sound
    (True, False, False, 0.1),
    (False, False, False, 0.1),
    (True, True, False, 0.1),
])
def test_png_and_pdf_headlines_share_one_colour(analysis, deep, faithful, fragile, unstable, whole_image_p):
    """One rule colours the deep-check headline of the PNG and of the PDF: the worst judgement."""
    a, d = forced(analysis, deep, faithful=faithful, fragile=fragile, unstable=unstable)
    d = dataclasses.replace(d, coverage=dataclasses.replace(d.coverage, probability=whole_image_p))
    items = checks.judgements(a, d)
    colour = report.LEVEL_COLOURS[checks.worst_level(items)]

    def headlines(story):  # the PDF's paragraphs: (plain text, colour)
        return [(text, colour) for text, colour in story.texts() if text.startswith("Deep check:")]

    expected = [(f"Deep check: {checks.judgement_line(items)}", colour)]
    png = [(t.text, to_hex(t.colour)) for t in annotated_layout(a, deep=d).texts if t.text.startswith("Deep check:")]
    assert png == expected
    assert headlines(report.pdf_figures(a, deep=d)) == expected
