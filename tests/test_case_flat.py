"""Flat or tiny pictures are not near-duplicates of each other (issue 30, item 7): their perceptual
hashes are all zeros, so without the detail rule (duplicates.DETAIL_MIN) a flat grey photo, a
one-colour 8x8 icon and a 1x1 PNG would all land in one group."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cases_helpers import image_bytes, scene
from forensics.cases import CaseStore, duplicates

TOO_LITTLE = "too little detail to compare"


def flat_pictures() -> dict[str, bytes]:
    noise = np.random.default_rng(0).normal(0, 2, (2012, 4032, 3))  # a phone's noise over a grey wall
    return {"grey_photo.jpg": image_bytes(Image.new("RGB", (4032, 2012), (128, 128, 128)), "JPEG", quality=92),
            "grey_noisy_photo.jpg": image_bytes(Image.fromarray(np.clip(120 + noise, 0, 255).astype(np.uint8)),
                                                "JPEG", quality=92),
            "icon8.png": image_bytes(Image.new("RGB", (8, 8), (200, 30, 30))),
            "pixel.png": image_bytes(Image.new("RGB", (1, 1), (0, 0, 0)))}


def low_contrast(img: Image.Image, c: float) -> Image.Image:
    a = np.asarray(img, dtype=np.float64)
    return Image.fromarray(np.clip(a.mean() + c * (a - a.mean()), 0, 255).round().astype(np.uint8))


def test_flat_pictures_have_no_hashes_and_pictures_with_detail_do():
    import io
    for name, data in flat_pictures().items():
        img = Image.open(io.BytesIO(data)).convert("RGB")
        assert duplicates.detail(img) < duplicates.DETAIL_MIN, name
        assert duplicates.hashes(img) == (None, None), name
    # a dim, low-contrast scene still has detail enough: hashed, and found again in its re-encoded half
    dim = low_contrast(scene(5), 0.1)
    assert duplicates.detail(dim) > 2 * duplicates.DETAIL_MIN
    copy = Image.open(io.BytesIO(image_bytes(dim.resize((320, 240)), "JPEG", quality=60))).convert("RGB")
    assert duplicates.near(*duplicates.hashes(dim), *duplicates.hashes(copy))
    assert not duplicates.near(None, None, None, None)                    # never grouped by missing hashes
    assert duplicates.group_for(None, None, [type("Row", (), {"phash": "0" * 16, "dhash": "0" * 16,
                                                              "dup_group": 1})()]) is None


@pytest.fixture
def store(tmp_path):
    s = CaseStore.open(tmp_path / "store")
    yield s
    s.close()


def test_flat_and_tiny_pictures_land_in_no_group_and_say_why(store, tiny_detector, tmp_path):
    from webui import case as case_tab
    folder = tmp_path / "in"
    folder.mkdir()
    for name, data in flat_pictures().items():
        (folder / name).write_bytes(data)
    base = scene(7)
    (folder / "scene.png").write_bytes(image_bytes(base))                 # pictures with detail still group
    (folder / "scene_small.jpg").write_bytes(image_bytes(base.resize((320, 240)), "JPEG", quality=60))
    store.create_case("c", "alice", "")
    store.add_files("c", [folder], tiny_detector, "alice")
    items = {i.file_name: i for i in store.items("c", "alice")}
    assert items["scene.png"].group is not None and items["scene.png"].group == items["scene_small.jpg"].group
    assert items["scene.png"].near_duplicates == ""
    for name in flat_pictures():
        item = items[name]
        assert item.error is None and item.verdict is not None          # analysed like any picture
        assert item.group is None and item.near_duplicates == TOO_LITTLE, name
        near = store.record("c", item.id, "alice")["near_duplicates"]
        assert near == {"compared": False, "reason": TOO_LITTLE}
        row = case_tab.item_row(item, thumbs=False)
        assert row[case_tab.TABLE_HEADERS.index("group")] == TOO_LITTLE
    assert "near_duplicates" not in store.record("c", items["scene.png"].id, "alice")
    assert store.verify("c", "alice").ok
