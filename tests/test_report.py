import csv
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from conftest import encode, make_photo
from forensics import Detector
from forensics import report
from forensics.core.preprocess import GRID, PATCH_SIZE

NAME = "price $5 photo (copy).jpg"  # an unbalanced '$' breaks matplotlib text unless math is off


@pytest.fixture(scope="module")
def jpeg():
    return encode(make_photo(640, 400, seed=3), "JPEG", quality=90)


@pytest.fixture(scope="module")
def analysis(tiny_detector, jpeg):
    return tiny_detector.analyze(jpeg, name=NAME)


def pdf_pages(path) -> int:
    """Page count: pdfinfo when poppler is installed, else the page objects in the file."""
    if shutil.which("pdfinfo"):
        out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", path.read_bytes()))


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_json_record_is_reproducible(tiny_detector, jpeg, analysis, tmp_path):
    again = tiny_detector.analyze(jpeg, name=NAME)
    first, second = report.record(analysis, "note"), report.record(again, "note")
    first.pop("created_utc"), second.pop("created_utc")
    assert first == second
    a = report.write_json(analysis, tmp_path / "a.json", "note").read_text()
    b = report.write_json(again, tmp_path / "b.json", "note").read_text()
    strip = lambda text: re.sub(r'"created_utc": "[^"]*"', "", text)  # noqa: E731
    assert strip(a) == strip(b)
    assert json.loads(a)["created_utc"] == analysis.created_utc


def test_json_record_contents(analysis, jpeg, tmp_path, tiny_model_dir):
    rec = json.loads(report.write_json(analysis, tmp_path / "r.json", "seized 2024-03-01").read_text())
    assert rec["fake_probability"] == pytest.approx(analysis.fake_probability, rel=1e-7)
    assert rec["verdict"] == analysis.verdict
    scores = np.array(rec["patch_scores"])
    assert scores.shape == (GRID, GRID) and scores.sum() == pytest.approx(1, abs=1e-6)
    assert np.allclose(scores, analysis.patch_scores, rtol=1e-7, atol=1e-12)
    assert rec["input_sha256"] == analysis.input_sha256
    assert rec["input"] == {"name": NAME, "bytes": len(jpeg), "format": "JPEG", "width": 640, "height": 400,
                            "mode": "RGB", "frames": 1, "exif_orientation": 1, "has_icc_profile": False,
                            "alpha_flattened": False}
    assert rec["crop_box"] == list(analysis.crop_box)
    assert rec["model"]["source"] == str(tiny_model_dir) and rec["model"]["demo"] is False
    assert len(rec["model"]["weights_sha256"]) == 64
    assert rec["preprocessing"]["name"] == "training"
    assert rec["method"] == {"name": "attention-rollout", "head_fusion": "mean", "discard_ratio": 0.0,
                             "grid": GRID, "patch_size": PATCH_SIZE, "agreement_top10_iou": None}
    assert set(rec["software"]) >= {"python", "torch", "transformers", "forensics"}
    assert rec["reproduce"].startswith("python -m forensics analyze 'price $5 photo (copy).jpg' --out DIR "
                                       "--head-fusion mean --discard-ratio 0.0 --model ")
    # the centre crop is stated once: as the partial-view condition, with the share seen
    assert any(c["name"] == "partial-view" and f"centre crop sees {analysis.coverage:.0%}" in c["detail"]
               for c in rec["applicability"])
    assert not any("centre crop" in n for n in rec["notes"])
    assert rec["analyst_notes"] == "seized 2024-03-01"
    assert rec["top10_share"] == pytest.approx(analysis.top_share(0.1), rel=1e-7)
    assert rec["method_agreement"] is None and rec["explanation_unstable"] is False
    assert rec["color_scale"]["name"] == "image" and "deep_check" not in rec


def test_csv_ledger_matches_geometry(analysis, tmp_path):
    with open(report.write_csv(analysis, tmp_path / "p.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == GRID * GRID
    assert [int(r["rank"]) for r in rows] == list(range(1, GRID * GRID + 1))
    scores = [float(r["score"]) for r in rows]
    assert sum(scores) == pytest.approx(1, abs=1e-6)
    assert scores == sorted(scores, reverse=True)
    g = analysis.geometry
    for r in rows:
        row, col = int(r["row"]), int(r["col"])
        box_in = tuple(int(r[k]) for k in ("input_left", "input_top", "input_right", "input_bottom"))
        box_orig = tuple(int(r[k]) for k in ("original_left", "original_top", "original_right", "original_bottom"))
        assert box_in == (col * PATCH_SIZE, row * PATCH_SIZE, (col + 1) * PATCH_SIZE, (row + 1) * PATCH_SIZE)
        assert box_orig == g.patch_box_original(row, col)
        assert float(r["score"]) == pytest.approx(analysis.patch_scores[row, col], rel=1e-7)
    assert {(int(r["row"]), int(r["col"])) for r in rows} == {(i, j) for i in range(GRID) for j in range(GRID)}


def test_png_is_a_legible_size_and_carries_provenance(analysis, tmp_path):
    with Image.open(report.write_png(analysis, tmp_path / "a.png")) as img:
        assert img.format == "PNG"
        assert 1500 <= img.width <= 2000 and 1000 <= img.height <= 2000
        assert analysis.input_sha256 in img.text["Source"]


def test_pdf_one_page_per_image_and_long_notes_continue(analysis, tmp_path):
    path = report.write_pdf(analysis, tmp_path / "a.pdf", notes="Chain of custody form 17.")
    assert path.read_bytes().startswith(b"%PDF")
    assert pdf_pages(path) == 1
    long_notes = "\n".join(f"Observation {i}: the lighting on the left wall is consistent." for i in range(40))
    assert pdf_pages(report.write_pdf(analysis, tmp_path / "b.pdf", notes=long_notes)) == 2


@pytest.mark.requires_poppler  # skipped without poppler-utils: tests/helpers.py
def test_pdf_page_text(analysis, tmp_path):
    text = pdf_text(report.write_pdf(analysis, tmp_path / "a.pdf", notes="Case 42"))
    for fact in (analysis.verdict_text, analysis.input_sha256, analysis.model.weights_sha256,
                 "4,803 generators", "not proof", "Case 42", f"{analysis.fake_probability:.3f}"):
        assert fact in text


@pytest.mark.requires_poppler  # skipped without poppler-utils: tests/helpers.py
def test_batch_pdf_cover_first(analysis, tiny_detector, tmp_path):
    other = tiny_detector.analyze(make_photo(300, 500, seed=1))
    path = report.write_batch_pdf(tmp_path / "batch.pdf", [analysis, other],
                                  errors=[("broken.jpg", "'broken.jpg' is empty (0 bytes).")])
    assert pdf_pages(path) == 3
    first_page = pdf_text(path).split("\f")[0]
    assert "Forensic batch report" in first_page and "is empty (0 bytes)" in first_page
    assert analysis.input_sha256[:12] in first_page


@pytest.mark.requires_poppler  # skipped without poppler-utils: tests/helpers.py
def test_demo_weights_are_marked_everywhere(tmp_path):
    a = Detector.demo(device="cpu").analyze(make_photo(400, 300))
    paths = report.export(a, tmp_path, notes="")
    rec = json.loads(paths["json"].read_text())
    assert rec["model"]["demo"] is True and rec["reproduce"].endswith("--demo")
    assert rec["input_sha256"] is None and any("UNTRAINED" in n for n in rec["notes"])
    assert "NOT A FORENSIC RESULT" in pdf_text(paths["pdf"])
    with Image.open(paths["png"]) as img:
        assert "NOT A FORENSIC RESULT" in img.text["Description"]
        banner = np.asarray(img.convert("RGB"))[20, 20]
        assert banner[0] > 150 and banner[1] < 60  # red banner across the top


@pytest.mark.parametrize("name, stem", [
    ("../../evil.jpg", "evil"),
    ("..\\..\\evil.png", "evil"),
    ("/etc/passwd", "passwd"),
    ("my photo (1).jpg", "my_photo_1"),
    ("Überwachung café.jpg", "Überwachung_café"),
    ("照片.jpg", "照片"),
    ("写真_テスト.png", "写真_テスト"),
    ("사진_증거.png", "사진_증거"),
    ("evil\u202egpj.exe", "evil_gpj"),
    (".hidden.jpg", "hidden"),
    ("..", "image"),
    ("", "image"),
    (None, "image"),
    ("CON.jpg", "CON_"),
    ("=HYPERLINK(x).png", "HYPERLINK_x"),
    ("a\x00b\nc.jpg", "a_b_c"),
])
def test_safe_stem(name, stem):
    assert report.safe_stem(name) == stem


def test_safe_stem_is_short_and_plain():
    stem = report.safe_stem("x" * 500 + ".jpg")
    assert len(stem) <= 64 and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", stem)


def test_export_never_overwrites(analysis, tmp_path):
    first = report.export(analysis, tmp_path, formats=("json", "csv"))
    assert {p.name for p in first.values()} == {"price_5_photo_copy.json", "price_5_photo_copy.csv"}
    (tmp_path / "price_5_photo_copy-1.csv").write_text("someone else's file")
    second = report.export(analysis, tmp_path, formats=("json", "csv"))
    assert {p.name for p in second.values()} == {"price_5_photo_copy-2.json", "price_5_photo_copy-2.csv"}
    assert (tmp_path / "price_5_photo_copy-1.csv").read_text() == "someone else's file"
    assert not (tmp_path / "price_5_photo_copy-1.json").exists()  # a claim is all formats or none


def test_export_hostile_stem_stays_in_folder(analysis, tmp_path):
    out = tmp_path / "out"
    paths = report.export(analysis, out, formats=("json",), stem="../../evil")
    assert paths["json"] == out / "evil.json"
    assert [p.name for p in tmp_path.rglob("*.json")] == ["evil.json"]


def test_export_rejects_unknown_format(analysis, tmp_path):
    with pytest.raises(ValueError, match="docx"):
        report.export(analysis, tmp_path, formats=("json", "docx"))
    assert list(tmp_path.iterdir()) == []


def test_spreadsheet_safe_and_display_name():
    assert report.spreadsheet_safe("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert report.spreadsheet_safe("photo.jpg") == "photo.jpg"
    assert report.display_name("evil\u202egpj.exe") == "evil?gpj.exe"
    assert len(report.display_name("y" * 300)) == 60


def test_grad_rollout_is_recorded_and_reproducible(tiny_detector, jpeg, tmp_path):
    a = tiny_detector.analyze(jpeg, name="g.jpg", method="grad-rollout")
    rec = report.record(a)
    assert rec["method"]["name"] == "grad-rollout"
    assert rec["method"]["agreement_top10_iou"] == pytest.approx(a.method_agreement, rel=1e-7)
    assert "--method grad-rollout" in rec["reproduce"]
    again = report.record(tiny_detector.analyze(jpeg, name="g.jpg", method="grad-rollout"))
    rec.pop("created_utc"), again.pop("created_utc")
    assert rec == again
    assert any("pushed the AI-generated score" in limit for limit in report.limits(a))
    assert pdf_pages(report.write_pdf(a, tmp_path / "g.pdf")) == 1
