"""What a call is worth: applicability conditions, the stability rule, and the final call with its
reasons. The decisions run on a detector that really fires (tests/texture_detector.py): a broken
rule (a threshold ignored, always or never demote) makes a test here fail.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json

import pytest
from PIL import Image, ImageDraw

from forensics import checks, report
from forensics.analysis import applicability as appl
from forensics.cli import main
from forensics.core.verdict import verdict_for
from forensics.explain.robustness import COMMON_QUALITIES, COMMON_SIZES, MAX_CHANGED_SHARE, Robustness, Variant
from helpers import encode
from texture_detector import camera_like, plant_texture


def names(a) -> dict:
    return {c.name: c.blocks_verdict for c in a.applicability}


def screenshot(width: int = 1280, height: int = 800) -> Image.Image:
    """A table of text on a white page, as a screen shows it."""
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width, 40), fill=(40, 60, 120))
    for top in range(60, height - 20, 24):
        draw.line((20, top - 4, width - 20, top - 4), fill=(200, 200, 200))
        for left in range(20, width - 150, 180):
            draw.text((left, top), f"Row {top} col {left} 12.5%", fill="black")
    return img


# -- applicability ----------------------------------------------------------------------------------

def test_a_good_camera_like_photo_triggers_nothing_and_keeps_a_confident_call(texture_detector):
    a = texture_detector.analyze(encode(camera_like(1600, 1200, seed=3), "JPEG", quality=92), name="photo.jpg")
    assert a.applicability == () and a.verdict_reasons == ()
    assert a.verdict == a.model_verdict == "real" and a.fake_probability < 0.1


def test_a_thumbnail_is_demoted_with_the_blocking_condition_named(texture_detector):
    a = texture_detector.analyze(camera_like(96, 96, seed=1))
    assert a.model_verdict == "real" and a.fake_probability < 0.1     # P alone is confident ...
    assert names(a) == {"small-image": True}
    assert a.verdict == "inconclusive"                                  # ... the final call is not
    assert len(a.verdict_reasons) == 1 and "small-image" in a.verdict_reasons[0] and "4.6x" in a.verdict_reasons[0]
    assert a.verdict_text.startswith("Inconclusive") and "likely real" in a.verdict_text
    p = texture_detector.analyze(camera_like(600, 450, seed=1)).fake_probability
    assert a.fake_probability != p  # (a different picture) -- P itself is never moved by the rule:
    again = texture_detector.probabilities(texture_detector.pixels([a.model_input]))[0]
    assert a.fake_probability == pytest.approx(again, rel=1e-4)


@pytest.mark.parametrize("short, blocks", [(int(440 / appl.UPSCALE_BLOCK) + 2, False),
                                           (int(440 / appl.UPSCALE_BLOCK) - 2, True)])
def test_the_upscale_threshold_decides(texture_detector, short, blocks):
    a = texture_detector.analyze(camera_like(short, short, seed=2))
    assert names(a) == {"small-image": blocks}
    assert a.verdict == ("inconclusive" if blocks else a.model_verdict)


def test_a_panorama_carries_a_condition_that_does_not_block(texture_detector):
    a = texture_detector.analyze(camera_like(2400, 600, seed=4))
    assert names(a) == {"partial-view": False}
    assert "sees 19%" in a.applicability[0].detail and a.verdict == a.model_verdict == "real"
    assert names(texture_detector.analyze(camera_like(1400, 1000, seed=4))) == {}  # 1.4:1: the crop sees 54%


def test_a_screenshot_is_outside_the_domain(texture_detector):
    a = texture_detector.analyze(encode(screenshot(1024, 768), "PNG"), name="table.png")
    assert names(a) == {"screenshot-or-graphics": True}
    assert a.verdict == "inconclusive" or a.model_verdict == "inconclusive"
    m = appl.graphics_measure(screenshot())
    assert m.flat_share + m.stroke_share > 0.6
    # a fine periodic texture (what the detector fires on) is not text
    assert appl.graphics_measure(plant_texture(camera_like(586, 440))).stroke_share < 0.01


def test_heavy_compression_blocks_and_ordinary_compression_does_not(texture_detector):
    photo = camera_like(900, 700, seed=5)
    crushed = texture_detector.analyze(encode(photo, "JPEG", quality=30), name="q30.jpg")
    assert names(crushed)["heavy-compression"] is True
    assert crushed.verdict == "inconclusive" and crushed.model_verdict == "real"
    assert any("heavy-compression" in r and "quality about 30" in r for r in crushed.verdict_reasons)
    at_edge = texture_detector.analyze(encode(photo, "JPEG", quality=appl.HEAVY_COMPRESSION_QUALITY + 5))
    assert "heavy-compression" not in names(at_edge)


def test_a_gif_animation_is_a_palette_image_and_says_first_frame_only(texture_detector):
    frames = [camera_like(500, 500, seed=s).convert("P", palette=Image.ADAPTIVE) for s in (1, 2)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    a = texture_detector.analyze(buf.getvalue(), name="clip.gif")
    assert names(a) == {"palette": True, "animation": False}
    assert a.model_verdict == "real" and a.verdict == "inconclusive"
    assert [r.split(")")[0] for r in a.verdict_reasons] == ["outside the model's validated domain (palette"]
    assert not any(n.startswith("Animated image") for n in a.notes())  # said once, as the condition


def test_a_region_that_is_mostly_context_blocks(texture_detector):
    photo = camera_like(1200, 900, seed=6)
    small = texture_detector.analyze(photo, region=(500, 400, 560, 460))      # 60x60 in a 384 window
    assert names(small) == {"small-region": True}
    assert small.verdict == "inconclusive" and small.model_verdict == "real"
    large = texture_detector.analyze(photo, region=(400, 300, 700, 600))      # 300x300: 61% of its window
    assert names(large) == {}


# -- the stability rule -----------------------------------------------------------------------------

SIZES, QS = (None, 2048, 1080, 720, 512), (None, 95, 85, 75, 60, 45, 30)


def sweep(changed, p0: float = 0.9) -> Robustness:
    """A 2400-px grid whose variants keep P0's verdict except the (long_edge, quality) cells in `changed`."""
    variants = tuple(Variant(L, q, 0.2 if (L, q) in changed else p0, verdict_for(0.2 if (L, q) in changed else p0))
                     for L in SIZES for q in QS if (L, q) != (None, None))
    return Robustness(p0, verdict_for(p0), 2400, SIZES, QS, variants)


def test_a_change_on_one_common_copy_is_enough():
    rob = sweep({(1080, 85)})
    assert 1 - rob.holds < MAX_CHANGED_SHARE and rob.unstable
    assert "commonly makes" in rob.instability and "1080 px, JPEG q85" in rob.instability
    assert (1080, 85) in {(L, q) for L in COMMON_SIZES for q in COMMON_QUALITIES}


def test_changes_only_on_harsh_copies_keep_the_call_up_to_the_share():
    harsh = {(L, q) for L in (720, 512) for q in (None, 60, 45, 30)} | {(None, 30), (2048, 30), (1080, 30)}
    rob = sweep(harsh)
    assert not rob.common_changed and 1 - rob.holds == pytest.approx(11 / 34)
    assert not rob.unstable and rob.instability is None
    most = harsh | {(None, 45), (2048, 45), (1080, 45), (None, 60), (2048, 60), (1080, 60), (720, 95), (512, 95)}
    rob = sweep(most)
    assert not rob.common_changed and 1 - rob.holds > MAX_CHANGED_SHARE
    assert rob.unstable and "19 of 34" in rob.instability


def test_a_call_that_holds_everywhere_is_kept():
    rob = sweep(set())
    assert rob.robust and not rob.unstable and rob.instability is None


def test_a_call_that_flips_on_most_copies_is_demoted_with_its_reason(texture_detector):
    # a faint checkerboard: seen at 586x440, gone at 512 px and at JPEG q45 and below
    a = texture_detector.analyze(plant_texture(camera_like(586, 440, seed=3), amplitude=20), name="faint.png")
    assert a.verdict == a.model_verdict == "ai-generated" and a.applicability == ()
    rob = checks.robustness(texture_detector, a)
    assert 1 - rob.holds > MAX_CHANGED_SHARE
    b = a.with_robustness(rob)
    assert b.model_verdict == "ai-generated" and b.verdict == "inconclusive"
    assert b.verdict_reasons == (rob.instability,) and b.fake_probability == a.fake_probability
    rec = report.record(a, robustness=rob)
    assert (rec["verdict"], rec["model_verdict"]) == ("inconclusive", "ai-generated")
    assert rec["verdict_reasons"] == [rob.instability] and rec["robustness"]["unstable"] is True


def test_a_call_that_holds_on_every_copy_is_kept_by_the_detector(texture_detector):
    a = texture_detector.analyze(plant_texture(camera_like(500, 440, seed=3)), name="strong.png")
    rob = checks.robustness(texture_detector, a)
    assert rob.robust and len(rob.variants) == 6
    b = a.with_robustness(rob)
    assert b.verdict == "ai-generated" and b.verdict_reasons == ()


def test_an_inconclusive_p_has_no_reasons_but_keeps_its_conditions(texture_detector):
    a = texture_detector.analyze(camera_like(96, 96))
    mid = dataclasses.replace(a, fake_probability=0.5, model_verdict="inconclusive")
    assert mid.verdict == "inconclusive" and mid.verdict_reasons == () and names(mid) == {"small-image": True}
    assert any("small-image, blocks a call" in line for line in report.condition_lines(mid))


def test_a_sweep_of_another_analysis_is_refused(texture_detector):
    a = texture_detector.analyze(camera_like(600, 450))
    with pytest.raises(ValueError, match="another analysis"):
        a.with_robustness(sweep(set(), p0=0.9))


# -- where the call and its reasons show --------------------------------------------------------------

def test_the_cli_summary_and_record_carry_the_final_call(texture_detector, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    camera_like(96, 96).save(folder / "thumb.png")
    encode_to = folder / "photo.jpg"
    encode_to.write_bytes(encode(camera_like(1600, 1200, seed=3), "JPEG", quality=92))
    model_dir = texture_detector.model_info.source
    out = tmp_path / "out"
    assert main(["analyze", str(folder), "--out", str(out), "--model", model_dir, "--format", "json,png"]) == 0
    with open(out / "summary.csv", newline="", encoding="utf-8") as f:
        rows = {r["file"].rsplit("/", 1)[-1]: r for r in csv.DictReader(f)}
    thumb, photo = rows["thumb.png"], rows["photo.jpg"]
    assert (thumb["verdict"], thumb["model_verdict"], thumb["conditions"]) == ("inconclusive", "real", "small-image!")
    assert "small-image" in thumb["verdict_reasons"]
    assert (photo["verdict"], photo["model_verdict"], photo["verdict_reasons"], photo["conditions"]) == ("real", "real", "", "")
    rec = json.loads((out / "thumb.json").read_text(encoding="utf-8"))
    assert rec["applicability"] == [{"name": "small-image", "detail": rec["applicability"][0]["detail"],
                                     "blocks_verdict": True}]
    assert rec["likelihood_ratio"] is None
    png = Image.open(out / "thumb.png")
    assert png.text["Title"].startswith("Inconclusive: the call is not reliable")


def test_the_common_copy_rule_on_the_detector(texture_detector):
    """A barely visible checkerboard: P alone says real, but a JPEG q85 copy (a common one) is called
    AI-generated -> demoted. A stronger one that only JPEG q60 and below erase (3 of 6 copies, not
    more than half, none common) keeps its call."""
    faint = texture_detector.analyze(plant_texture(camera_like(500, 440, seed=3), amplitude=3))
    rob = checks.robustness(texture_detector, faint)
    assert faint.model_verdict == "real" and {(v.long_edge, v.quality) for v in rob.common_changed} == {(None, 85)}
    assert faint.with_robustness(rob).verdict == "inconclusive"
    harsh = texture_detector.analyze(plant_texture(camera_like(500, 440, seed=3), amplitude=4))
    rob = checks.robustness(texture_detector, harsh)
    assert harsh.model_verdict == "ai-generated" and {v.quality for v in rob.changed} == {60, 45, 30}
    assert not rob.common_changed and not rob.unstable
    assert harsh.with_robustness(rob).verdict == "ai-generated"


# -- the local scan in the call (issue 29) ------------------------------------------------------------

def test_a_region_the_local_scan_calls_ai_demotes_a_real_call(texture_detector):
    clean = camera_like(2000, 1500, seed=3)
    pasted = plant_texture(clean, (40, 40, 520, 520))   # a corner, outside the centre crop
    a = texture_detector.analyze(pasted)
    assert a.verdict == "real" and a.local_scan is None
    scan = checks.local_scan(texture_detector, a)
    b = a.with_local_scan(scan)
    assert b.verdict == "inconclusive" and b.fake_probability == a.fake_probability
    assert len(b.verdict_reasons) == 1 and b.verdict_reasons[0].startswith("a region is called AI-generated by the local scan")
    rec = report.record(b)
    assert rec["verdict"] == "inconclusive" and rec["local_scan"]["hotspots"][0]["fake_probability"] > 0.9
    kept = texture_detector.analyze(clean)
    assert kept.with_local_scan(checks.local_scan(texture_detector, kept)).verdict == "real"


def test_cli_local_scan_refuses_a_small_image_in_the_summary(texture_detector, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    camera_like(300, 200).save(folder / "small.png")
    out = tmp_path / "out"
    model_dir = texture_detector.model_info.source
    assert main(["analyze", str(folder), "--out", str(out), "--model", model_dir, "--format", "json",
                 "--local-scan"]) == 0
    with open(out / "summary.csv", newline="", encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    assert row["status"] == "ok" and row["local_scan"].startswith("not scanned: The image is 300x200")


def test_case_items_keep_the_local_scan_and_the_reason_in_the_triage_table(texture_detector, tmp_path):
    from forensics.cases import CaseStore
    folder = tmp_path / "in"
    folder.mkdir()
    plant_texture(camera_like(2000, 1500, seed=3), (40, 40, 520, 520)).save(folder / "pasted.png")
    camera_like(2000, 1500, seed=3).save(folder / "clean.png")
    camera_like(300, 200).save(folder / "small.png")
    store = CaseStore.open(tmp_path / "store")
    try:
        store.create_case("c", "alice", "scan")
        store.add_files("c", [folder], texture_detector, "alice", local_scan=True)
        rows = {i.file_name: i for i in store.items("c", "alice")}
        pasted, clean, small = rows["pasted.png"], rows["clean.png"], rows["small.png"]
        assert pasted.verdict == "inconclusive" and "local scan" in pasted.reasons
        assert pasted.local_scan.startswith("1 region(s) called AI")
        assert (clean.verdict, clean.reasons, clean.local_scan) == ("real", "", "no region called")
        assert small.local_scan == "not scanned"
        assert store.record("c", pasted.id, "alice")["local_scan"]["hotspots"]
        assert store.verify("c", "alice").ok
    finally:
        store.close()
