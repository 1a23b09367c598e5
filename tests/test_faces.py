"""Face boxes from the bundled BlazeFace model (forensics/faces.py), in upright original pixels."""
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import encode, make_photo
from forensics import find_faces
from forensics.analysis.faces import MODEL_FILE, MODEL_SHA256, detect_faces

ASSETS = Path(__file__).resolve().parent.parent / "assets"
HOPPER_FACE = (155, 105, 377, 327)  # measured by hand on assets/grace_hopper.jpg (512x600)


def iou(a, b) -> float:
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


@pytest.fixture(scope="module")
def hopper():
    return Image.open(ASSETS / "grace_hopper.jpg").convert("RGB")


def test_bundled_model_is_the_pinned_file():
    assert hashlib.sha256(MODEL_FILE.read_bytes()).hexdigest() == MODEL_SHA256


def test_grace_hopper_has_one_face(hopper):
    faces = detect_faces(hopper)
    assert len(faces) == 1
    assert iou(faces[0].box, HOPPER_FACE) > 0.6
    assert 0.5 <= faces[0].score <= 1.0
    # the same from a path, from bytes and from an array
    assert find_faces(ASSETS / "grace_hopper.jpg") == [faces[0].box]
    assert find_faces((ASSETS / "grace_hopper.jpg").read_bytes()) == [faces[0].box]
    assert find_faces(np.asarray(hopper)) == [faces[0].box]


def test_no_faces_in_a_gradient_a_texture_or_noise():
    gradient = np.tile(np.linspace(0, 255, 800, dtype=np.float32)[None, :, None], (600, 1, 3)).astype(np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    assert find_faces(gradient) == []
    assert find_faces(noise) == []
    assert find_faces(ASSETS / "marble_texture.webp") == []
    assert find_faces(make_photo(1200, 900)) == []


def test_several_faces(hopper):
    canvas = np.full((1200, 2400, 3), 200, np.uint8)
    face = np.asarray(hopper)
    small = np.asarray(hopper.resize((256, 300), Image.BILINEAR))
    placed = {(100, 50): face, (1000, 100): face, (1800, 800): small}
    expected = []
    for (x, y), img in placed.items():
        h, w = img.shape[:2]
        canvas[y:y + h, x:x + w] = img
        k = w / hopper.width
        expected.append(tuple(v * k + o for v, o in zip(HOPPER_FACE, (x, y, x, y))))
    found = find_faces(canvas)
    assert len(found) == 3
    for box in expected:
        assert max(iou(box, f) for f in found) > 0.5


def test_small_faces_in_a_large_photo_are_found_by_the_tiles(hopper):
    big = np.full((2400, 3200, 3), 120, np.uint8)
    thumb = np.asarray(hopper.resize((171, 200), Image.BILINEAR))  # the face is about 70 pixels
    for x, y in [(2000, 1000), (300, 2100)]:
        big[y:y + 200, x:x + 171] = thumb
    found = find_faces(big)
    assert len(found) == 2
    for x, y in [(2000, 1000), (300, 2100)]:
        k = 171 / hopper.width
        box = tuple(v * k + o for v, o in zip(HOPPER_FACE, (x, y, x, y)))
        assert max(iou(box, f) for f in found) > 0.5


def test_exif_rotated_photo_gives_upright_boxes(hopper):
    exif = Image.Exif()
    exif[0x0112] = 8  # the viewer turns the stored pixels 90 degrees counter-clockwise
    stored = hopper.transpose(Image.Transpose.ROTATE_270)  # so the file holds it turned clockwise
    found = find_faces(encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert len(found) == 1 and iou(found[0], HOPPER_FACE) > 0.6


def test_array_must_be_rgb_uint8():
    with pytest.raises(ValueError, match="uint8"):
        find_faces(np.zeros((10, 10), np.float32))


# -- the CLI: --faces ----------------------------------------------------------------------------

def test_cli_faces_writes_a_row_and_exports_per_face(tiny_model_dir, tmp_path, hopper):
    import csv
    import json

    from forensics import cli
    folder = tmp_path / "in"
    folder.mkdir()
    hopper.save(folder / "hopper.png")
    make_photo(600, 400).save(folder / "noface.png")
    out = tmp_path / "out"
    assert cli.main(["analyze", str(folder), "--out", str(out), "--model", str(tiny_model_dir),
                     "--faces", "--format", "json,png"]) == 0
    rows = list(csv.DictReader(open(out / "summary.csv", encoding="utf-8")))
    by = {(Path(r["file"]).name, r["face"]): r for r in rows}
    assert set(by) == {("hopper.png", ""), ("hopper.png", "1"), ("noface.png", "")}
    assert by[("hopper.png", "")]["faces_found"] == "1" and by[("noface.png", "")]["faces_found"] == "0"
    face = by[("hopper.png", "1")]
    box = tuple(int(v) for v in face["region"].split(","))
    assert iou(box, HOPPER_FACE) > 0.6
    assert face["region_mode"] == "native" and float(face["region_scale"]) == 1.0
    assert 0.0 < float(face["whole_image_share"]) < 1.0
    assert face["outputs"] == "hopper_face1.json;hopper_face1.png"
    record = json.loads((out / "hopper_face1.json").read_text())
    assert record["region"]["box"] == list(box) and record["region"]["mode"] == "native"
    assert f"--region {face['region']}" in record["reproduce"]
    assert json.loads((out / "hopper.json").read_text())["region"] is None


def test_analyze_faces_gives_a_region_analysis_per_face(tiny_detector, hopper):
    from forensics.analysis.faces import analyze_faces
    whole = tiny_detector.analyze(hopper)
    (face, a), = analyze_faces(tiny_detector, whole)
    assert a.region == face.box and a.region_mode == "native"
    assert a.input is whole.input and a.image is whole.image  # decoded once
    alone = tiny_detector.analyze(hopper, region=face.box)
    assert a.fake_probability == pytest.approx(alone.fake_probability, abs=1e-5)
    assert analyze_faces(tiny_detector, tiny_detector.analyze(make_photo(500, 400))) == []


def test_outlines_and_thumbnail(hopper):
    from forensics import render
    box = find_faces(hopper)[0]
    out = render.outline_original(hopper, [box], labels=["1"])
    assert out.shape == (600, 512, 3)
    l, t, r, b = box
    assert tuple(out[(t + b) // 2, l]) == render.REGION_COLOUR  # the left edge is drawn in the colour
    assert np.array_equal(out[(t + b) // 2, (l + r) // 2], np.asarray(hopper)[(t + b) // 2, (l + r) // 2])
    thumb = render.region_thumbnail(hopper, box, size=100)
    assert max(thumb.shape[:2]) == 100
