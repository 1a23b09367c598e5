"""Clips as case items (issue 30, item 6): a case of stills and clips in H.264, VP9 and MOV has
every clip analysed by the clip rule, its timeline in the record, reported, verified, and shown
by the Case tab. SQLite and a real PostgreSQL (tests/pg.py)."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from cases_helpers import image_bytes, scene
from helpers import make_photo
from forensics.analysis.video import clip_verdict, summarize
from forensics.cases import CaseStore, clips
from forensics.cli.main import main
from pg import pg_cluster, store  # noqa: F401 - the fixtures

FPS, FRAMES, SIZE = 10.0, 12, (320, 240)
FFMPEG = shutil.which("ffmpeg")
NO_H264 = ("no ffmpeg on PATH: the opencv-python-headless wheel decodes H.264 but cannot encode it "
           "(Debian: apt-get install ffmpeg)")


def clip_frames(seed: int):
    """BGR frames: a bright disc moving over a structured picture (differs by seed)."""
    w, h = SIZE
    base = np.asarray(make_photo(w, h, seed=seed))[:, :, ::-1]
    for i in range(FRAMES):
        img = np.ascontiguousarray(base.copy())
        cv2.circle(img, (int((i + 0.5) / FRAMES * w), h // 2), h // 5, (255, 255, 255), -1)
        yield img


def write_opencv(path: Path, fourcc: str, seed: int) -> Path | None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, SIZE)
    if not writer.isOpened():
        writer.release()
        return None
    for img in clip_frames(seed):
        writer.write(img)
    writer.release()
    return path


def write_h264(path: Path, seed: int) -> Path | None:
    if FFMPEG is None:
        return None
    raw = b"".join(img.tobytes() for img in clip_frames(seed))
    subprocess.run([FFMPEG, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s",
                    f"{SIZE[0]}x{SIZE[1]}", "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    str(path)], input=raw, check=True)
    return path


# (writer, expected codecs as OpenCV names them, why a machine may not write it)
CODECS = {
    "h264.mp4": (lambda p: write_h264(p, 11), {"h264", "avc1"}, NO_H264),
    "vp9.webm": (lambda p: write_opencv(p, "VP90", 12), {"VP90", "vp09"}, "this OpenCV build cannot write VP9"),
    "mpeg4.mov": (lambda p: write_opencv(p, "mp4v", 13), {"FMP4", "mp4v"}, "this OpenCV build cannot write MOV"),
}


@pytest.fixture(scope="module")
def exhibit(tmp_path_factory):
    """Two stills, a clip per codec this machine can write, a cut clip and a JPEG named .mp4."""
    root = tmp_path_factory.mktemp("exhibit")
    (root / "scene1.png").write_bytes(image_bytes(scene(1)))
    (root / "scene2.jpg").write_bytes(image_bytes(scene(2), "JPEG", quality=90))
    made, missing = [], {}
    for name, (write, _, why) in CODECS.items():
        if write(root / name):
            made.append(name)
        else:
            missing[name] = why
    data = (root / made[0]).read_bytes()
    (root / "cut.mp4").write_bytes(data[: len(data) // 2])
    (root / "photo.mp4").write_bytes(image_bytes(scene(3), "JPEG"))
    return root, made, missing


def _filled(store, exhibit, detector):
    root, made, missing = exhibit
    store.create_case("c", "alice", "stills and clips")
    result = store.add_files("c", [root], detector, "alice", batch_size=3)
    return {i.file_name: i for i in store.items("c", "alice")}, made, missing, result


@pytest.mark.parametrize("name", list(CODECS))
def test_this_machine_writes_each_codec(exhibit, name):
    _, made, missing = exhibit
    if name in missing:
        pytest.skip(f"{name} left out of the case: {missing[name]}")
    assert name in made


def test_every_clip_is_analysed_by_the_clip_rule_with_its_timeline_in_the_record(store, exhibit, tiny_detector):
    items, made, missing, result = _filled(store, exhibit, tiny_detector)
    assert set(made) | set(missing) == set(CODECS) and made
    assert result.analysed == 3 + len(made) and len(result.added) == 4 + len(made)  # stills, clips, .mp4 photo; cut
    for name in made:
        item, rec = items[name], store.record("c", items[name].id, "alice")
        assert item.error is None and item.clip == clips.facts(rec) and item.clip["frames"] == FRAMES
        assert rec["kind"] == "video" and rec["video"]["codec"] in CODECS[name][1]
        assert rec["video"]["sha256"] == item.sha256 == hashlib.sha256((exhibit[0] / name).read_bytes()).hexdigest()
        timeline = rec["frames"]
        assert [f["index"] for f in timeline] == list(range(FRAMES))   # 32 asked, 12 in the clip: every frame
        ps = [f["fake_probability"] for f in timeline]
        # P is the strongest frame's, the call the clip rule's, recomputed from the stored timeline
        assert item.fake_probability == rec["fake_probability"] == max(ps)
        assert item.verdict == rec["verdict"] == clip_verdict(
            summarize(ps, [f["timestamp_s"] for f in timeline], [f["verdict"] for f in timeline]),
            rec["inconclusive_margin"], rec["min_run"])
        assert item.clip["strongest_frame"] == rec["strongest_frames"][0]["index"] == ps.index(max(ps))
        assert np.asarray(rec["strongest_frames"][0]["patch_scores"]).shape == (24, 24)
        assert item.c2pa == "not read" and item.width == SIZE[0] and item.height == SIZE[1]
        # the same clip through `analyze`'s path gives the same numbers
        direct = tiny_detector.analyze_video(exhibit[0] / name, frames=clips.FRAMES)
        assert direct.verdict == item.verdict
        assert direct.timeline.max_probability == pytest.approx(item.fake_probability, abs=1e-6)
    if "mpeg4.mov" in made:
        assert store.record("c", items["mpeg4.mov"].id, "alice")["video"]["container"] == "QuickTime"
    cut = items["cut.mp4"]
    assert cut.verdict is None and "truncated" in cut.error and cut.clip is None
    photo = store.record("c", items["photo.mp4"].id, "alice")       # a picture under a video name stays one
    assert items["photo.mp4"].clip is None and "kind" not in photo and photo["input"]["format"] == "JPEG"
    assert items["scene1.png"].clip is None and items["scene1.png"].c2pa == "none"
    assert [p for _, p, _ in store.labelled("c", "alice")] == []   # nothing marked yet
    for name in ("scene1.png", *made):
        store.mark("c", items[name].id, "alice", truth="ai")
    assert [n for _, _, n in store.labelled("c", "alice")] == ["scene1.png"]  # evaluation takes pictures only


def test_clips_are_reported_bundled_and_verified(store, exhibit, tiny_detector, tmp_path):
    items, made, _, _ = _filled(store, exhibit, tiny_detector)
    assert store.verify("c", "alice").ok
    done = store.report("c", tmp_path / "out", "alice")
    from pypdf import PdfReader
    pdf = "\n".join(page.extract_text() for page in PdfReader(done.pdf).pages)
    for name in made:
        item, rec = items[name], store.record("c", items[name].id, "alice")
        assert f"{name} (clip, {FRAMES} frames)" in pdf                       # the cover's triage table
        top = rec["strongest_frames"][0]
        assert f"Frame {top['index']} at {top['timestamp_s']:.3f} s" in pdf  # its strongest frame, drawn
        assert f"P(AI-generated) = {item.fake_probability:.3f}: the strongest of {FRAMES} sampled frames" in pdf
    assert " ".join(pdf.split()).count("The call follows the clip rule") == len(made)  # lines wrap anywhere
    with zipfile.ZipFile(done.bundle) as z:
        names = set(z.namelist())
        for name in made:
            item = items[name]
            assert z.read(f"evidence/{item.sha256}") == (exhibit[0] / name).read_bytes()
            rows = z.read(f"exports/item-{item.id}-timeline.csv").decode().splitlines()
            assert rows[0] == "index,timestamp_s,fake_probability,logit,verdict" and len(rows) == FRAMES + 1
            assert json.loads(z.read(f"exports/item-{item.id}.json"))["frames"] == \
                store.record("c", item.id, "alice")["frames"]
    assert not any(n.endswith("-timeline.csv") for n in names if f"item-{items['scene1.png'].id}-" in n)


@pytest.mark.parametrize("kind", ["evidence file", "timeline", "another clip's record"])
def test_verify_finds_a_tampered_clip(store, exhibit, tiny_detector, kind):
    items, made, _, _ = _filled(store, exhibit, tiny_detector)
    target, other = items[made[0]], items[made[-1]]
    if kind == "evidence file":
        path = target.evidence_path
        os.chmod(path, 0o644)
        path.write_bytes(path.read_bytes()[:-1] + b"x")
        os.chmod(path, 0o444)
    else:
        with store.engine.begin() as conn:
            if kind == "timeline":  # one frame's P lowered in the stored record
                rec = json.loads(conn.execute(text("SELECT record_json FROM items WHERE id = :i"),
                                              {"i": target.id}).scalar())
                rec["frames"][0]["fake_probability"] = 0.0
                conn.execute(text("UPDATE items SET record_json = :r WHERE id = :i"),
                             {"r": json.dumps(rec), "i": target.id})
            else:  # a record swapped in with its hash, log entry and all: only the clip's own hash tells
                swapped = conn.execute(text("SELECT record_json, record_sha256 FROM items WHERE id = :i"),
                                       {"i": other.id}).one()
                conn.execute(text("UPDATE items SET record_json = :r, record_sha256 = :h, fake_probability = :p, "
                                  "verdict = :v WHERE id = :i"),
                             {"r": swapped[0], "h": swapped[1], "p": other.fake_probability, "v": other.verdict,
                              "i": target.id})
                conn.execute(text("UPDATE audit SET payload = (SELECT payload FROM audit WHERE item_id = :o AND "
                                  "action = 'analysed') WHERE item_id = :i AND action = 'analysed'"),
                             {"o": other.id, "i": target.id})
    v = store.verify("c", "alice")
    assert not v.ok and {p.item for p in v.problems} >= {target.id}
    if kind == "another clip's record":
        assert any("describes another file" in p.message for p in v.problems if p.item == target.id)
    assert other.id not in {p.item for p in v.problems} or kind == "another clip's record"


def test_the_case_tab_takes_a_clip_and_shows_its_strongest_frame(tmp_path, exhibit, tiny_detector):
    from webui import case
    from webui.case import CaseRoom
    root, made, _ = exhibit
    room = CaseRoom(tmp_path / "store")
    try:
        key = case.create_case(room, "alice", "clips", "")["case_open"]
        out = case.add_files(room, "alice", key, [str(root / made[0]), str(root / "scene1.png")], tiny_detector)
        assert "2 analysed" in out["case_note"]
        rows = {r[case.ID_COLUMN]: r for r in out["case_table"]}
        item = next(i for i in room.store().items(key, "alice") if i.file_name == made[0])
        row = rows[item.id]
        assert row[case.TABLE_HEADERS.index("file")] == f"{made[0]} (clip, {FRAMES} frames)"
        assert row[case.TABLE_HEADERS.index("verdict")] == item.verdict
        assert row[0].startswith("![thumbnail](data:image/jpeg;base64,")
        strongest = clips.frames(item.evidence_path, [item.clip["strongest_frame"]])[item.clip["strongest_frame"]]
        opened = case.open_item(room, "alice", key, row)                    # the strongest frame, as a picture
        with Image.open(opened["image"]) as frame:
            assert frame.size == SIZE and np.array_equal(np.asarray(frame.convert("RGB")), np.asarray(strongest))
        assert Path(opened["image"]).name == f"{Path(made[0]).stem}-frame{item.clip['strongest_frame']}.png"
    finally:
        room.store().close()


def test_case_add_on_the_command_line_takes_a_clip(tmp_path, exhibit, tiny_model_dir, capsys):
    root, made, _ = exhibit
    store = tmp_path / "store"

    def cli(*argv):
        return main([*argv[:2], "--store", str(store), "--user", "alice", *argv[2:]])

    assert cli("case", "new", "c") == 0
    assert cli("case", "add", "c", str(root / made[0]), str(root / "cut.mp4"), "--model", str(tiny_model_dir)) == 0
    assert "1 analysed, 1 unreadable" in capsys.readouterr().out
    assert cli("case", "show", "c", "--json") == 0
    shown = {i["file_name"]: i for i in json.loads(capsys.readouterr().out)["items"]}
    assert shown[made[0]]["clip"]["frames"] == FRAMES and shown[made[0]]["verdict"] in (
        "ai-generated", "real", "inconclusive")
    assert shown["cut.mp4"]["clip"] is None and "truncated" in shown["cut.mp4"]["error"]
    assert cli("case", "verify", "c") == 0


def test_the_sweep_and_the_local_scan_asked_for_say_a_clip_was_not_run(tmp_path, exhibit, tiny_detector):
    root, made, _ = exhibit
    s = CaseStore.open(tmp_path / "store")
    try:
        s.create_case("c", "alice", "")
        s.add_files("c", [root / made[0]], tiny_detector, "alice", robustness=True, local_scan=True)
        (item,) = s.items("c", "alice")
        rec = s.record("c", item.id, "alice")
        assert item.clip is not None and item.local_scan == "not scanned" and item.robustness == ""
        assert rec["local_scan"] == {"refused": clips.NO_LOCAL_SCAN} and clips.NO_SWEEP in rec["notes"]
        assert s.verify("c", "alice").ok
    finally:
        s.close()
