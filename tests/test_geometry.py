"""Golden geometry: which part of the original the model saw, and where each patch lies.

Expected numbers are worked out by hand from the training transform (shortest edge -> 440,
long edge truncated, centre crop 384 with round((size - 384) / 2)).
"""
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import encode, make_photo
from forensics.core.preprocess import IMAGENET_MEAN, IMAGENET_STD, crop_input
from forensics.model.spec import TRAINING

GOLDEN = {
    # (width, height): (resized, crop offset, crop box in original pixels)
    (1000, 1000): ((440, 440), (28, 28), (64, 64, 936, 936)),
    (1920, 1080): ((782, 440), (199, 28), (489, 69, 1431, 1011)),
    (1080, 1920): ((440, 782), (28, 199), (69, 489, 1011, 1431)),
    (440, 440): ((440, 440), (28, 28), (28, 28, 412, 412)),
}


@pytest.mark.parametrize("size", GOLDEN)
def test_crop_box_golden(tiny_detector, size):
    resized, offset, box = GOLDEN[size]
    a = tiny_detector.analyze(make_photo(*size))
    assert a.geometry.resized_size == resized
    assert a.geometry.crop_offset == offset
    assert a.crop_box == box
    assert a.model_input.size == (384, 384)


def test_wide_photo_sees_about_half_the_width(tiny_detector):
    a = tiny_detector.analyze(make_photo(1920, 1080))
    left, _, right, _ = a.crop_box
    assert 0.45 < (right - left) / 1920 < 0.52
    # said once, as the partial-view condition (the notes no longer repeat it)
    assert any(c.name == "partial-view" and "centre crop sees" in c.detail for c in a.applicability)


def test_exif_rotated_photo_uses_upright_geometry(tiny_detector):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed portrait
    a = tiny_detector.analyze(encode(make_photo(1920, 1080), "JPEG", exif=exif.tobytes()))
    assert a.geometry.original_size == (1080, 1920)
    assert a.crop_box == GOLDEN[(1080, 1920)][2]


def test_patch_boxes():
    _, g = crop_input(make_photo(1000, 1000), TRAINING)
    assert g.patch_box_input(0, 0) == (0, 0, 16, 16)
    assert g.patch_box_input(23, 23) == (368, 368, 384, 384)
    assert g.patch_box_input(2, 5) == (80, 32, 96, 48)  # (row 2, col 5): x from col, y from row
    assert g.patch_box_original(0, 0) == (64, 64, 100, 100)  # 28 * 1000/440 = 63.6, 44 * 1000/440 = 100
    with pytest.raises(IndexError):
        g.patch_box_input(24, 0)


def test_original_to_patch_round_trip():
    _, g = crop_input(make_photo(1920, 1080), TRAINING)
    for row, col in [(0, 0), (5, 17), (23, 23)]:
        l, t, r, b = g.patch_box_original(row, col)
        assert g.original_to_patch((l + r) / 2, (t + b) / 2) == (row, col)
    assert g.original_to_patch(10, 10) is None  # left of the crop: not analysed


def test_patches_tile_the_crop_box():
    _, g = crop_input(make_photo(1920, 1080), TRAINING)
    boxes = [g.patch_box_original(r, c) for r in range(24) for c in range(24)]
    area = sum((r - l) * (b - t) for l, t, r, b in boxes)
    cl, ct, cr, cb = g.crop_box
    assert abs(area - (cr - cl) * (cb - ct)) <= 0.01 * (cr - cl) * (cb - ct)


def test_preprocess_matches_training_transform(tiny_detector):
    img = make_photo(700, 500, seed=3)
    # Reference: torchvision's Resize(440) + CenterCrop(384) + ToTensor + Normalize, spelled out.
    new_h, new_w = 440, int(440 * 700 / 500)
    ref = img.resize((new_w, new_h), Image.BILINEAR)
    top, left = int(round((new_h - 384) / 2.0)), int(round((new_w - 384) / 2.0))
    ref = np.asarray(ref, dtype=np.float64)[top:top + 384, left:left + 384] / 255.0
    ref = (ref - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    ref = torch.from_numpy(ref.transpose(2, 0, 1)[None]).float()
    got = tiny_detector.preprocess(img)
    assert got.shape == (1, 3, 384, 384) and got.dtype == torch.float32
    assert torch.allclose(got, ref, atol=1e-5)


def test_preprocess_is_what_the_model_is_fed(tiny_detector):
    img = make_photo(640, 480, seed=4)
    fed = []
    hook = tiny_detector.model.vit.embeddings.register_forward_pre_hook(lambda m, args: fed.append(args[0].clone()))
    try:
        tiny_detector.analyze(img)
    finally:
        hook.remove()
    assert len(fed) == 1
    assert torch.equal(fed[0], tiny_detector.preprocess(img))


def test_hub_preprocessing_is_recorded(tiny_model_dir):
    from forensics import Detector
    det = Detector.from_pretrained(tiny_model_dir, device="cpu", preprocessing="hub")
    a = det.analyze(make_photo(500, 400))
    d = a.preprocessing.describe()
    assert d["name"] == "hub" and d["resample"] == "bicubic"
    assert d["mean"][0] == pytest.approx(0.48145466)
    train = Detector.from_pretrained(tiny_model_dir, device="cpu").analyze(make_photo(500, 400))
    assert train.preprocessing.describe()["name"] == "training"
    assert train.preprocessing.describe()["resample"] == "bilinear"
    assert train.logit != a.logit


@pytest.mark.parametrize("size, region", [((1000, 1000), None), ((1920, 1080), None), ((96, 96), None),
                                          ((441, 440), None), ((3000, 2000), (100, 50, 1400, 700)),
                                          ((3000, 2000), (10, 10, 200, 120)), ((20, 3000), None)])
def test_all_patch_boxes_at_once_equal_each_box(size, region):
    """The ledger's vectorised boxes are `patch_box_original` patch by patch, half-way pixels
    included (np.rint and round both go to even)."""
    from forensics.core.preprocess import crop_region
    img = make_photo(*size)
    _, g = crop_input(img, TRAINING) if region is None else crop_region(img, region, TRAINING)
    boxes = g.patch_boxes_original()
    assert boxes.shape == (24, 24, 4)
    assert [tuple(b) for b in boxes.reshape(-1, 4).tolist()] == [g.patch_box_original(r, c)
                                                                 for r in range(24) for c in range(24)]
