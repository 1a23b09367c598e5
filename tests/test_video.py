"""Video: bounded decoding, sampling, the timeline, the clip verdict, exports and the CLI.

Clips are written here with OpenCV's VideoWriter (a bright disc moving over a structured
background), so nothing is downloaded and the decoder under test is the one that wrote them.
"""
import csv
import hashlib
import io
import json
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import encode, make_photo
from forensics import InputError
from forensics import VideoAnalysis
from forensics import cli
from forensics.report import render, clip as video_report
from forensics.analysis import video
from forensics.core.verdict import verdict_for
from forensics.analysis.video import VideoLimits, clip_verdict, summarize

FPS = 10.0


def write_clip(path: Path, fourcc: str = "mp4v", size=(320, 240), frames: int = 30, fps: float = FPS):
    """A clip with moving structured content; None when this OpenCV build cannot write `fourcc`."""
    w, h = size
    base = np.asarray(make_photo(w, h, seed=1))[:, :, ::-1]  # RGB -> BGR for OpenCV
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    if not writer.isOpened():
        writer.release()
        return None
    for i in range(frames):
        img = base.copy()
        x = int((i + 0.5) / frames * w)  # left to right over the clip
        cv2.circle(img, (x, h // 2), max(2, min(w, h) // 5), (255, 255, 255), -1)
        cv2.rectangle(img, (0, 0), (min(w - 1, 4 * i), min(h - 1, 8)), (0, 0, 255), -1)
        writer.write(np.ascontiguousarray(img))
    writer.release()
    return path


def all_frames(path) -> list[Image.Image]:
    """Every frame, read with plain cap.read(): the reference path, independent of video.decode."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    out = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    cap.release()
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    made = {
        "mp4": write_clip(root / "moving.mp4"),
        "avi": write_clip(root / "moving.avi", "MJPG", frames=20),
        "one": write_clip(root / "one.mp4", frames=1),
        "wide": write_clip(root / "wide.mp4", size=(1024, 32), frames=12),
    }
    data = made["avi"].read_bytes()
    (root / "cut.avi").write_bytes(data[: len(data) * 6 // 10])
    data = made["mp4"].read_bytes()
    (root / "cut.mp4").write_bytes(data[: len(data) // 2])
    (root / "notes.mp4").write_text("meeting notes, not a video\n" * 50)
    (root / "empty.mp4").write_bytes(b"")
    (root / "photo.mp4").write_bytes(encode(make_photo(64, 48), "JPEG"))
    return root


# -- decoding and sampling -----------------------------------------------------------------------

def test_frames_sampled_evenly_with_timestamps_in_order(tiny_detector, clips):
    v = tiny_detector.analyze_video(clips / "moving.mp4", frames=8)
    assert isinstance(v, VideoAnalysis)
    idx = [f.index for f in v.frames]
    assert idx == sorted(set(idx)) and len(idx) == 8
    assert idx[0] == 0 and idx[-1] == 29  # first to last frame of the 30
    ts = v.timestamps
    assert np.all(np.diff(ts) > 0)
    np.testing.assert_allclose(ts, np.array(idx) / FPS, atol=1e-3)
    assert v.info.frame_count == 30 and v.info.fps == pytest.approx(FPS)
    assert v.info.duration_s == pytest.approx(3.0)
    assert v.info.frames_read == 30 and v.info.sampling == "frames=8"


def test_every_seconds(tiny_detector, clips):
    v = tiny_detector.analyze_video(clips / "moving.mp4", frames=None, every=0.5)
    assert [f.index for f in v.frames] == [0, 5, 10, 15, 20, 25]
    np.testing.assert_allclose(v.timestamps, [0, 0.5, 1.0, 1.5, 2.0, 2.5], atol=1e-3)
    assert v.info.sampling == "every=0.5s"


def test_each_frame_equals_that_frame_analysed_as_an_image(tiny_detector, clips):
    path = clips / "moving.mp4"
    v = tiny_detector.analyze_video(path, frames=7, batch_size=3)  # batches of 3, 3, 1
    reference = all_frames(path)
    for f in v.frames:
        a = tiny_detector.analyze(reference[f.index])
        assert np.array_equal(np.asarray(f.analysis.image), np.asarray(reference[f.index]))
        assert f.fake_probability == pytest.approx(a.fake_probability, abs=1e-6)
        np.testing.assert_allclose(f.analysis.patch_scores, a.patch_scores, atol=1e-6)
        assert f.analysis.crop_box == a.crop_box
    one_by_one = tiny_detector.analyze_video(path, frames=7, batch_size=1)
    np.testing.assert_allclose(one_by_one.probabilities, v.probabilities, atol=1e-6)


def test_one_frame_clip(tiny_detector, clips):
    v = tiny_detector.analyze_video(clips / "one.mp4", frames=32)
    assert len(v.frames) == 1 and v.frames[0].index == 0 and v.frames[0].timestamp == 0.0
    t = v.timeline
    assert t.max_probability == t.median_probability == v.frames[0].fake_probability
    assert t.longest_run_above in (0, 1) and t.longest_run_above_s == 0.0
    # with one frame the clip verdict is that frame's verdict
    assert v.verdict == v.frames[0].verdict


def test_extreme_aspect_ratio(tiny_detector, clips):
    v = tiny_detector.analyze_video(clips / "wide.mp4", frames=4)
    assert len(v.frames) == 4
    for f in v.frames:
        l, t, r, b = f.analysis.crop_box
        assert f.analysis.image.size == (1024, 32)
        assert 0 <= l < r <= 1024 and 0 <= t < b <= 32
        assert 0.0 <= f.fake_probability <= 1.0
        assert f.analysis.patch_scores.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("fourcc, ext, codecs", [
    ("mp4v", "mp4", {"FMP4", "mp4v"}), ("MJPG", "avi", {"MJPG"}), ("VP90", "webm", {"VP90", "vp09"}),
    ("VP80", "webm", {"VP80", "vp08"}), ("MJPG", "mkv", {"MJPG"}), ("mp4v", "mov", {"FMP4", "mp4v"}),
])
def test_codecs_this_opencv_writes_are_read(tmp_path, fourcc, ext, codecs):
    path = write_clip(tmp_path / f"c.{ext}", fourcc, frames=6)
    if path is None:
        pytest.skip(f"this OpenCV build cannot write {fourcc} in .{ext}")
    info = video.probe(path)
    assert info.codec in codecs
    assert info.frame_count == 6 and (info.width, info.height) == (320, 240)
    frames = list(video.decode(path, info, video.plan(info, frames=3)))
    assert [i for i, *_ in frames] == [0, 2, 5] and all(img.size == (320, 240) for _, _, img, _ in frames)


def test_provenance(clips):
    path = clips / "moving.mp4"
    info = video.probe(path)
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.num_bytes == path.stat().st_size
    assert info.container.startswith("MP4") and info.name == "moving.mp4"
    assert video.probe(clips / "moving.avi").container == "AVI"
    record = info.record()
    for key in ("sha256", "container", "codec", "fps", "duration_s", "frame_count", "decoder"):
        assert key in record


# -- what is refused, and how ---------------------------------------------------------------------

@pytest.mark.parametrize("name, words", [
    ("notes.mp4", "not a video"),
    ("empty.mp4", "empty"),
    ("cut.mp4", "truncated"),
    ("cut.avi", "truncated"),
    ("photo.mp4", "JPEG image"),
    ("missing.mp4", "No file"),
])
def test_broken_videos_raise_input_error(tiny_detector, clips, name, words):
    with pytest.raises(InputError, match=words):
        tiny_detector.analyze_video(clips / name, frames=32)


def test_limits_are_enforced(tiny_detector, clips):
    path = clips / "moving.mp4"
    cases = [
        (VideoLimits(max_bytes=100), {}, "the limit is"),
        (VideoLimits(max_duration_s=2.0), {}, "min"),
        (VideoLimits(max_stream_frames=20), {}, "frames"),
        (VideoLimits(max_pixels=320 * 200), {}, "MP"),
        (VideoLimits(max_frames=4), {"frames": 8}, "limit is 4"),
        (VideoLimits(max_frames=10), {"frames": None, "every": 0.1}, "makes 30 frames.*limit is 10"),
        (VideoLimits(max_sampled_pixels=320 * 240 * 3), {"frames": 8}, "at most 3 frames"),
    ]
    for limits, kwargs, words in cases:
        with pytest.raises(InputError, match=words):
            tiny_detector.analyze_video(path, limits=limits, **{"frames": 8, **kwargs})
    with pytest.raises(InputError, match="every"):
        tiny_detector.analyze_video(path, every=-1)
    with pytest.raises(InputError, match="frames"):
        tiny_detector.analyze_video(path, frames=0)


def test_declared_length_a_frame_too_long_is_tolerated(clips):
    path = clips / "moving.mp4"
    info = video.probe(path)
    longer = info.__class__(**{**info.__dict__, "frame_count": 31})  # the container over-declares by one
    frames = list(video.decode(path, longer, video.plan(longer, frames=4)))
    assert [i for i, *_ in frames] == [0, 10, 20, 29]  # the true last frame stands in for frame 30


# -- the timeline and the clip verdict -------------------------------------------------------------

def test_timeline_numbers():
    p = [0.1, 0.7, 0.8, 0.3, 0.9, 0.95, 0.97, 0.2]
    verdicts = ["real", "ai-generated", "ai-generated", "real", "ai-generated", "ai-generated",
                "ai-generated", "real"]
    t = summarize(p, [0, 1, 2, 3, 4, 5, 6, 7.5], verdicts)
    assert t.max_probability == 0.97 and t.median_probability == pytest.approx(0.75)
    assert t.share_above == pytest.approx(5 / 8)
    assert t.longest_run_above == 3 and t.longest_run_above_s == pytest.approx(2.0)
    assert t.longest_ai_run == 3 and t.ai_generated_frames == 5 and t.real_frames == 3
    assert clip_verdict(t) == "ai-generated"


@pytest.mark.parametrize("p, verdict", [
    ([0.1, 0.9, 0.1, 0.9, 0.1, 0.9], "inconclusive"),   # spikes, never 3 in a row
    ([0.1, 0.9, 0.9, 0.9, 0.1], "ai-generated"),        # a sustained stretch
    ([0.1, 0.2, 0.15, 0.3], "real"),
    ([0.1, 0.2, 0.45, 0.3], "real"),                    # one inconclusive frame, median real
    ([0.35, 0.45, 0.5, 0.42], "inconclusive"),          # median in the band
    ([0.9], "ai-generated"), ([0.9, 0.95], "ai-generated"),  # shorter than the run: all of them
    ([0.1, 0.9], "inconclusive"),
])
def test_clip_verdict_rule(p, verdict):
    t = summarize(p, list(range(len(p))), [verdict_for(x) for x in p])
    assert clip_verdict(t) == verdict


def test_strongest_and_frame_lookup(tiny_detector, clips):
    v = tiny_detector.analyze_video(clips / "moving.mp4", frames=6)
    top = v.strongest(3)
    assert [f.fake_probability for f in top] == sorted(v.probabilities, reverse=True)[:3]
    f = v.frames[2]
    assert v.frame(f.index) is f
    assert v.nearest(f.timestamp + 0.01) is f
    with pytest.raises(KeyError):
        v.frame(1)  # frame 1 was not sampled


# -- pictures, exports, CLI ------------------------------------------------------------------------

def test_timeline_figure_shows_band_and_points():
    fig = render.timeline_figure([0, 1, 2], [0.2, 0.55, 0.9], 0.1, ["real", "inconclusive", "ai-generated"],
                                 highlight=[2])
    ax = fig.axes[0]
    band = [p for p in ax.patches if p.get_label().startswith("inconclusive band")]
    fig.canvas.draw()
    (_, low), (_, high) = ax.transData.inverted().transform(band[0].get_extents().get_points())
    assert (low, high) == (pytest.approx(0.4, abs=0.01), pytest.approx(0.6, abs=0.01))
    series = [line.get_ydata() for line in ax.lines if len(line.get_ydata()) == 3]
    assert [list(y) for y in series] == [[0.2, 0.55, 0.9]]
    fig.savefig(io.BytesIO(), format="png")


def test_exports(tiny_detector, clips, tmp_path):
    v = tiny_detector.analyze_video(clips / "moving.mp4", frames=5)
    paths = video_report.export(v, tmp_path, notes="case 7")
    assert set(paths) == {"png", "pdf", "json", "csv"}
    rec = json.loads(paths["json"].read_text())
    assert rec["kind"] == "video" and rec["verdict"] == v.verdict and rec["analyst_notes"] == "case 7"
    assert [f["index"] for f in rec["frames"]] == [f.index for f in v.frames]
    assert [f["fake_probability"] for f in rec["frames"]] == pytest.approx(list(v.probabilities), abs=1e-7)
    assert rec["video"]["sha256"] == v.info.sha256 and rec["video"]["codec"] == v.info.codec
    assert len(rec["strongest_frames"]) == 3
    rows = list(csv.DictReader(paths["csv"].open()))
    assert [int(r["index"]) for r in rows] == [f.index for f in v.frames]
    assert paths["pdf"].read_bytes()[:5] == b"%PDF-"
    sheet = Image.open(paths["png"])
    assert sheet.width >= 5 * 240 // 2 and sheet.height > 100


@pytest.mark.slow
def test_cli_folder_of_clips_and_stills(tiny_model_dir, clips, tmp_path):
    root = tmp_path / "case"
    root.mkdir()
    for name in ("moving.mp4", "notes.mp4", "cut.mp4"):
        (root / name).write_bytes((clips / name).read_bytes())
    make_photo(200, 150).save(root / "still.png")
    out = tmp_path / "out"
    code = cli.main(["analyze", str(root), "--out", str(out), "--model", str(tiny_model_dir),
                     "--frames", "4", "--format", "json,csv,png"])
    assert code == 0
    rows = {Path(r["file"]).name: r for r in csv.DictReader((out / "summary.csv").open())}
    assert rows["still.png"]["status"] == "ok" and rows["moving.mp4"]["status"] == "ok"
    assert rows["moving.mp4"]["frames_sampled"] == "4"
    assert rows["notes.mp4"]["status"] == "error" and "not a video" in rows["notes.mp4"]["error"]
    assert rows["cut.mp4"]["status"] == "error" and "truncated" in rows["cut.mp4"]["error"]
    rec = json.loads((out / "moving.json").read_text())
    assert len(rec["frames"]) == 4 and {"timestamp_s", "index", "fake_probability", "verdict"} <= set(rec["frames"][0])
    assert float(rows["moving.mp4"]["fake_probability"]) == pytest.approx(max(f["fake_probability"] for f in rec["frames"]),
                                                                          abs=1e-6)
    assert (out / "still.json").exists() and (out / "moving.png").exists()


@pytest.mark.parametrize("argv", [["--every", "0"], ["--every", "nan"], ["--frames", "0"],
                                  ["--frames", "4", "--every", "1"]])
def test_cli_refuses_bad_sampling_options(tmp_path, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["analyze", str(tmp_path), "--out", str(tmp_path / "out"), "--demo", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--every" in err or "--frames" in err


@pytest.mark.requires_poppler
def test_batch_report_pdf_holds_the_clip_pages_and_lists_it_on_the_cover(tiny_model_dir, clips, tmp_path):
    root = tmp_path / "case"
    root.mkdir()
    (root / "moving.mp4").write_bytes((clips / "moving.mp4").read_bytes())
    make_photo(200, 150).save(root / "still.png")
    out = tmp_path / "out"
    assert cli.main(["analyze", str(root), "--out", str(out), "--model", str(tiny_model_dir),
                     "--frames", "4", "--format", "pdf"]) == 0
    text = subprocess.run(["pdftotext", "-layout", str(out / "report.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    cover = text.split("\f")[0]
    assert "2 of 2 entries analysed" in cover and "moving.mp4" in cover and "clip: 4 sampled frames" in cover
    clip_pages = (out / "moving.pdf")
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(clip_pages)], capture_output=True,
                                                            text=True, check=True).stdout).group(1))
    assert text.count("\f") >= 1 + 1 + pages  # cover, the still's page, the clip's pages
