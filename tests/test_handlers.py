"""The page's event handlers, called directly as Gradio would, without a server or a browser."""
from __future__ import annotations

import json
import warnings

import gradio as gr
import numpy as np
import pytest

from conftest import encode, make_photo
from forensics import Detector
from webui import cards, handlers


@pytest.fixture(scope="module")
def detector(tiny_model_dir):
    return Detector.from_pretrained(tiny_model_dir, device="cpu")


@pytest.fixture
def image_path(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(encode(make_photo(640, 400, seed=4)))
    return str(path)


@pytest.fixture
def forwards(counted_forwards):
    return counted_forwards


SETTINGS = ("attention-rollout", "mean", 0.0, 0.5, "inferno", "image")


def test_a_new_image_fills_every_view_and_clears_the_old_deep_check(detector, image_path):
    out = handlers.analyze(detector, image_path, *SETTINGS)
    a = out["analysis"]
    assert a.input.name == "photo.png" and a.attention  # kept for the explainer controls
    assert out["verdict"] == cards.verdict_card(a)
    assert out["overlay_orig"].shape[:2] == (400, 640) and out["overlay_in"].shape == (384, 384, 3)
    assert len(out["ledger_table"]) == 576
    assert out["deep_checks"] is None and out["deep_note"] == cards.DEEP_HINT
    assert out["patch_text"] == handlers.PATCH_HINT
    assert all(not out[name].visible for name in handlers.DOWNLOADS.values())


def test_a_file_that_is_not_an_image_shows_the_reason_once_and_clears_the_page(detector, tmp_path):
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("not a picture")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no toast besides the card: the message appears once
        out = handlers.analyze(detector, str(bogus), *SETTINGS)
    assert out["analysis"] is None and 'data-verdict="error"' in out["verdict"]
    assert "is not an image we can read" in out["verdict"]
    assert out["overlay_orig"] is None and out["ledger_table"] is None


def test_explainer_controls_recompute_without_a_forward_pass(detector, image_path, forwards):
    a = handlers.analyze(detector, image_path, *SETTINGS)["analysis"]
    forwards.clear()
    out = handlers.reroll(a, "max", 0.3, 0.5, "inferno", "image")
    assert forwards == []
    assert out["analysis"].head_fusion == "max" and out["analysis"].discard_ratio == 0.3
    assert not np.array_equal(out["analysis"].patch_scores, a.patch_scores)
    restyled = handlers.restyle(out["analysis"], None, False, 0.9, "viridis", "absolute")
    assert forwards == [] and "absolute scale" in restyled["explainer"]
    assert not np.array_equal(restyled["overlay_in"], out["overlay_in"])


def test_deep_check_follows_only_while_on_and_keeps_what_it_ran(detector, image_path, forwards):
    a = handlers.analyze(detector, image_path, *SETTINGS)["analysis"]
    forwards.clear()
    off = handlers.follow_deep(detector, a, None, False, 0.5, "inferno", "image")
    assert forwards == [] and off == gr.skip()  # nothing changes
    on = handlers.follow_deep(detector, a, None, True, 0.5, "inferno", "image")
    ran = len(forwards)
    assert ran >= 3 and "ran in" in on["deep_note"] and on["faith_html"] != cards.DEEP_WAIT
    again = handlers.follow_deep(detector, a, on["deep_checks"], True, 0.5, "inferno", "image")
    assert len(forwards) == ran and "kept from earlier" in again["deep_note"]


def test_export_writes_the_four_formats_with_the_deep_check_when_ready(detector, image_path, monkeypatch,
                                                                       tmp_path):
    monkeypatch.setattr(handlers, "export_dir", lambda: tmp_path / "exports")
    a = handlers.analyze(detector, image_path, *SETTINGS)["analysis"]
    held = handlers.follow_deep(detector, a, None, True, 0.5, "inferno", "image")["deep_checks"]
    out = handlers.export(a, held, True, "case 42", 0.5, "inferno", "image")
    files = {name: button.value for name, button in out.items()}
    assert set(files) == set(handlers.DOWNLOADS.values()) and all(files.values())
    record = json.loads(open(files["download_json"]["path"] if isinstance(files["download_json"], dict)
                             else files["download_json"]).read())
    assert record["analyst_notes"] == "case 42" and "deep_check" in record
    assert record["deep_check"]["judgements"][0]["key"] == "faithfulness"


def test_without_an_image_the_handlers_change_nothing(detector):
    assert handlers.analyze(detector, None, *SETTINGS)["verdict"] == cards.EMPTY_CARD
    for result in (handlers.reroll(None, "mean", 0.0, 0.5, "inferno", "image"),
                   handlers.restyle(None, None, True, 0.5, "inferno", "image"),
                   handlers.switch_method(detector, None, None, "grad-rollout", 0.5, "inferno", "image")):
        assert result == gr.skip()


def test_metadata_panel_shows_generator_hints_beside_the_verdict(detector):
    out = handlers.analyze(detector, "assets/dalle2_00000274.png", *SETTINGS)
    assert 'data-hints="2"' in out["metadata"] and "Made with OpenAI DALL-E" in out["metadata"]
    assert "never change P(AI-generated)" in out["metadata"]
    assert "DALL" not in out["verdict"]  # the hints stand beside the verdict, not in it


def test_a_camera_file_without_traces_says_absence_proves_nothing(detector, tmp_path):
    path = tmp_path / "plain.jpg"
    path.write_bytes(encode(make_photo(300, 200), "JPEG", quality=90))
    out = handlers.analyze(detector, str(path), *SETTINGS)
    assert 'data-hints="0"' in out["metadata"] and "NO GENERATOR TRACES" in out["metadata"]
    assert "proves nothing" in out["metadata"]


def test_classic_views_on_demand_and_cleared_by_a_new_image(detector, image_path, tmp_path):
    a = handlers.analyze(detector, image_path, *SETTINGS)["analysis"]
    views = handlers.show_classic(a)
    ela, noise = views["ela_image"], views["noise_image"]
    assert ela.value is not None and "JPEG re-save" in ela.label and "Noise residual" in noise.label
    fresh = handlers.analyze(detector, image_path, *SETTINGS)
    assert fresh["ela_image"].value is None and fresh["noise_image"].value is None
    assert handlers.show_classic(None) == gr.skip()


class Click:
    """What Gradio hands a select handler: the clicked pixel."""

    def __init__(self, x, y):
        self.index = (x, y)


def test_two_clicks_pick_a_region_and_it_is_analysed_at_native_resolution(detector, tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(encode(make_photo(3200, 1800, seed=9)))
    a = handlers.analyze(detector, str(path), *SETTINGS)["analysis"]
    first = handlers.pick_corner(a, None, Click(100, 50))          # display pixels: the page shows 1600x900
    assert first["region_corner"] == (200, 100) and "region_left" not in first
    second = handlers.pick_corner(a, first["region_corner"], Click(40, 150))
    box = tuple(second[name] for name in handlers.REGION_BOX)
    assert box == (80, 100, 200, 300) and second["region_corner"] is None
    out = handlers.analyze_region(detector, a, *box, 0.5, "inferno", "image")
    assert "Region: P(AI-generated)" in out["region_card"] and "at native resolution" in out["region_card"]
    assert out["region_input"].shape == (384, 384, 3) and out["region_overlay"].shape[:2] == (900, 1600)
    expected = detector.analyze(path, region=box)
    assert f"{100 * expected.fake_probability:.1f}" in out["region_card"]


def test_a_bad_region_says_what_is_wrong(detector, image_path):
    a = handlers.analyze(detector, image_path, *SETTINGS)["analysis"]
    out = handlers.analyze_region(detector, a, 500, 300, 100, 100, 0.5, "inferno", "image")
    assert 'data-verdict="error"' in out["region_card"]
    missing = handlers.analyze_region(detector, a, 1, None, 3, 4, 0.5, "inferno", "image")
    assert "all four sides" in missing["region_card"]


def test_faces_are_found_and_each_analysed(detector):
    a = handlers.analyze(detector, "assets/grace_hopper.jpg", *SETTINGS)["analysis"]
    out = handlers.find_faces(detector, a, 0.5, "inferno", "image")
    assert len(out["faces_table"]) == 1 and out["faces_table"]["face"][0] == 1
    assert len(out["faces_gallery"]) == 2 and out["faces_gallery"][0][1].startswith("face 1: P(AI)")
    assert "1 face(s) found" in out["faces_note"]
    none = handlers.find_faces(detector, handlers.analyze(detector, "assets/marble_texture.webp",
                                                          *SETTINGS)["analysis"], 0.5, "inferno", "image")
    assert none["faces_table"] is None and "No face found" in none["faces_note"]


def test_a_calibrated_detector_says_so_beside_the_probability(detector, image_path):
    from forensics.core import calibration
    cal = calibration.fit([0.2, 0.3, 0.55, 0.6, 0.7, 0.9], [0, 0, 0, 1, 1, 1],
                          fitted_on={"n_real": 3, "n_ai": 3, "source": "my-newsroom-set"})
    out = handlers.analyze(detector.with_calibration(cal), image_path, *SETTINGS)
    a = out["analysis"]
    card = out["verdict"]
    assert a.calibration is cal and a.fake_probability != a.raw_probability
    assert "P(AI-generated), calibrated" in card and f'data-raw="{a.raw_probability:.6f}"' in card
    assert cards.percent(a.raw_probability) in card and "3 real + 3 AI-generated" in card
    plain = handlers.analyze(detector, image_path, *SETTINGS)["verdict"]
    assert "calibrated" not in plain.lower()


def test_a_clip_shows_its_timeline_and_any_frame_on_request(detector, tmp_path):
    from test_video import write_clip
    from webui import video as video_tab
    clip = tmp_path / "clip.mp4"
    write_clip(clip, frames=30)
    out = video_tab.analyze_clip(detector, str(clip), 8, None, 0.5, "inferno", "image")
    v = out["video_state"]
    assert len(v.frames) == 8 and out["timeline_plot"] is not None
    assert f'data-verdict="{v.verdict}"' in out["video_card"] and v.info.sha256 in out["video_card"]
    choices = out["frame_pick"].choices
    assert len(choices) == 8 and out["frame_pick"].value == v.strongest(1)[0].index
    last = v.frames[-1]
    picked = video_tab.frame_views(v, last.index, 0.5, "inferno", "image")
    assert f"Frame {last.index} at {last.timestamp:.2f} s" in picked["frame_card"]
    assert picked["frame_input"].shape == (384, 384, 3) and len(picked["frame_ledger"]) == 576
    every = video_tab.analyze_clip(detector, str(clip), 8, 0.5, 0.5, "inferno", "image")["video_state"]
    assert [round(f.timestamp, 3) for f in every.frames][:2] == [0.0, 0.5]


def test_a_broken_clip_says_why(detector, tmp_path):
    from webui import video as video_tab
    fake = tmp_path / "clip.mp4"
    fake.write_text("not a video at all")
    out = video_tab.analyze_clip(detector, str(fake), 8, None, 0.5, "inferno", "image")
    assert out["video_state"] is None and 'data-verdict="error"' in out["video_card"]


def test_a_heic_upload_is_analysed_with_its_metadata(detector, tmp_path):

    import pillow_heif
    pillow_heif.register_heif_opener()
    path = tmp_path / "IMG_0001.HEIC"
    make_photo(640, 480, seed=2).save(path, "HEIF")
    out = handlers.analyze(detector, str(path), *SETTINGS)
    a = out["analysis"]
    assert a is not None and a.input.format in ("HEIF", "HEIC") and (a.input.width, a.input.height) == (640, 480)
    assert out["overlay_orig"].shape[:2] == (480, 640)  # what the server decoded, shown as PNG
    assert "Provenance and metadata" in out["metadata"] and "HEI" in out["metadata"]


def test_region_exports_say_what_the_model_saw(detector, image_path):
    from forensics import report
    region = detector.analyze(image_path, region=(10, 10, 200, 200))
    whole = detector.analyze(image_path)
    assert "window around the region" in report.limits(region)[0]
    assert "centre crop" in report.limits(whole)[0]


def test_the_local_scan_on_the_page_demotes_and_offers_the_hotspots(texture_detector):
    """The page's local scan: map, hotspot table, the verdict card with the reason, and a picked
    hotspot filled into the region fields."""
    from texture_detector import camera_like, plant_texture
    a = texture_detector.analyze(plant_texture(camera_like(2000, 1500, seed=3), (40, 40, 520, 520)))
    out = handlers.run_local_scan(texture_detector, a)
    scanned = out["analysis"]
    assert scanned.verdict == "inconclusive" and scanned.model_verdict == "real"
    assert 'data-verdict="inconclusive"' in out["verdict"] and "local scan" in out["verdict"]
    assert 'data-hotspots="1"' in out["scan_card"] and out["scan_image"].size[0] > 0

    class Picked:
        value = 1
    box = handlers.pick_hotspot(scanned, Picked())
    assert tuple(box[k] for k in handlers.REGION_BOX) == tuple(int(v) for v in scanned.local_scan.hotspots[0].box)
    small = handlers.run_local_scan(texture_detector, texture_detector.analyze(camera_like(300, 200)))
    assert 'data-scan="refused"' in small["scan_card"] and "300x200" in small["scan_card"]
