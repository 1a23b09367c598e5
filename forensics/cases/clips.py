"""Clips as case items. A file whose name has a video extension (the rule `analyze` uses) and
that is not a picture is sampled and analysed frame by frame with `Detector.analyze_video` (the
video limits of forensics/inputs/video.py apply). Its P is its strongest frame's (the clip's
highest P, as `analyze`'s summary.csv gives it) and its call is the clip rule's
(`analysis.video.CLIP_RULE`); its stored record is the clip export's record (the timeline, the
strongest frames with their patch scores) plus what a case item needs.

The strongest frame stands for the clip wherever one picture is needed: the near-duplicate
hashes, the thumbnail, the frame opened in the Image tab.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from ..analysis.video import DEFAULT_FRAMES, VIDEO_EXTENSIONS, VideoAnalysis, decode, is_video_path, probe
from ..core.errors import InputError
from ..report import clip as clip_report
from ..report.records import number
from ..report.wording import limits
from .schema import items

KIND = "video"                          # the record's "kind" for a clip (clip_report.record)
FRAMES = DEFAULT_FRAMES                 # frames sampled from a clip in a case: analyze's default
NO_LOCAL_SCAN = ("a clip: the local scan runs on pictures; open the clip's strongest frame in the Image tab "
                 "to scan it")
NO_SWEEP = ("The delivery-path sweep was not run: it re-encodes pictures, not clips. Open the strongest frame "
            "in the Image tab to test it.")


def is_clip(name: str, data: bytes) -> bool:
    """A video extension, and not a picture under that name (a JPEG called .mp4 stays a picture)."""
    if not is_video_path(name):
        return False
    try:
        with Image.open(io.BytesIO(data)):
            return False
    except (OSError, ValueError, Image.DecompressionBombError):
        return True


def analyse(pending, detector, path: Path, settings: dict, *, sweep: bool = False, local_scan: bool = False) -> None:
    """Analyse the kept clip at `path` for one pending item of `CaseStore.add_files`: sets
    `.clip` (its record), `.analysis` (its strongest frame) and `.scan_refused`, or `.error`.
    Only the record and the strongest frame are kept: a clip's 32 frames are not held per batch."""
    try:
        video = detector.analyze_video(path, frames=FRAMES, name=pending.candidate.name, **settings)
    except InputError as exc:
        pending.error = str(exc)
        return
    pending.clip = record(video, sweep=sweep)
    pending.analysis = video.strongest(1)[0].analysis
    if local_scan:
        pending.scan_refused = NO_LOCAL_SCAN


def record(video: VideoAnalysis, *, sweep: bool = False) -> dict:
    """The clip export's record ("kind" first: `facts` and the report read it) with what a case item
    needs: P, the input's facts, the limits, and each strongest frame's patch scores for the report."""
    out = clip_report.record(video)
    top = video.strongest(clip_report.STRONGEST)
    info, first = video.info, top[0]
    for entry, frame in zip(out["strongest_frames"], top):
        entry["patch_scores"] = [[number(v) for v in row] for row in frame.analysis.patch_scores]
    out.update({
        "fake_probability": number(video.timeline.max_probability),
        "fake_probability_is": "the strongest sampled frame's (the clip's highest P); the call follows the clip rule",
        "input_sha256": info.sha256,
        "input": {"name": info.name, "bytes": info.num_bytes, "format": "video", "width": info.width,
                  "height": info.height, "frames": len(video.frames)},
        "limits": limits(first.analysis),
        "near_duplicates": {"hashed": "the strongest frame", "index": first.index,
                            "timestamp_s": number(first.timestamp)},
    })
    if sweep:
        out["notes"] = [*out["notes"], NO_SWEEP]
    return out


def is_clip_record(record: dict | None) -> bool:
    return bool(record) and record.get("kind") == KIND


def facts(record: dict) -> dict:
    """What the triage table shows of a clip: frames sampled and its strongest frame."""
    first = record["strongest_frames"][0]
    return {"frames": len(record["frames"]), "strongest_frame": first["index"],
            "strongest_timestamp_s": first["timestamp_s"]}


def label(clip: dict) -> str:
    return f"clip, {clip['frames']} frames"


def clip_facts(conn, case_id: int, rows) -> dict[int, dict]:
    """{item id: facts} of the clips among `rows` (id, file_name, verdict). Only items with a
    video name and a record are read, so a case of pictures costs no record parsing."""
    ids = [r.id for r in rows if r.verdict is not None and is_video_path(r.file_name)]
    out = {}
    for start in range(0, len(ids), 500):  # bounded IN lists
        for item_id, text_ in conn.execute(select(items.c.id, items.c.record_json).where(
                items.c.case_id == case_id, items.c.id.in_(ids[start:start + 500]))):
            rec = json.loads(text_) if text_ else None
            if is_clip_record(rec):
                out[item_id] = facts(rec)
    return out


def check_record(record: dict, sha256: str | None) -> str | None:
    """verify: a clip's record must describe the kept file (its own hash of the bytes it decoded)."""
    if is_clip_record(record) and (record.get("video") or {}).get("sha256") != sha256:
        return "its stored clip record describes another file (the record's SHA-256 of the clip differs)"
    return None


def frames(path: Path, indices, name: str | None = None) -> dict[int, Image.Image]:
    """The stream frames `indices` of a kept clip, decoded again (InputError when it cannot be)."""
    info = probe(path, name=name)
    return {index: image for index, _, image, _ in decode(path, info, indices)}


def timeline_csv(record: dict) -> bytes:
    """The clip's timeline as the clip export writes it: one row per sampled frame."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(clip_report.TIMELINE_HEADER)
    for f in record["frames"]:
        out.writerow([f["index"], f["timestamp_s"], f["fake_probability"], f["logit"], f["verdict"]])
    return buf.getvalue().encode("utf-8")


__all__ = ["FRAMES", "KIND", "VIDEO_EXTENSIONS", "analyse", "check_record", "clip_facts", "facts", "frames",
           "is_clip", "is_clip_record", "label", "record", "timeline_csv"]
