"""Bounded decoding of a video clip: its facts (VideoInfo), the limits it must keep, which frames to
sample, and the sampled frames as (RGB image, InputInfo) pairs.

A clip is decoded straight through with OpenCV's FFmpeg backend (grab every frame, retrieve only
the sampled ones: seeking measured no faster and is inexact in some containers). Each sampled
frame becomes the same (RGB image, InputInfo) pair an image file gives, so it goes through
`Detector.analyze_decoded` unchanged and its P equals that frame analysed as an image.

Codecs: the opencv-python-headless wheel decodes H.264, HEVC, VP8, VP9, MPEG-4 Part 2, MJPEG
and FFV1 in MP4/MOV/MKV/WebM/AVI; it does not decode AV1 (such clips are refused with the
command that re-encodes them). PyAV would add AV1 but bundles GPL codec libraries: not used.

Imports nothing above `inputs`; `video` builds the timeline and the verdict on top of it.
"""
from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np
from PIL import Image

from ..core.errors import InputError
from .images import InputInfo, file_size

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts",
                    ".wmv", ".flv", ".3gp", ".ogv")
DEFAULT_FRAMES = 32
REENCODE = "ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4"


@dataclass(frozen=True)
class VideoLimits:
    """What a clip may cost before it is refused (each raises InputError saying what to change)."""

    max_bytes: int = 1024 * 1024 * 1024      # 1 GiB on disk
    max_duration_s: float = 30 * 60.0        # decoding runs straight through: ~1 ms a 720p frame
    max_stream_frames: int = 108_000         # 30 min at 60 fps: bounds the decode however fps lies
    max_pixels: int = 4096 * 2160            # per frame: DCI 4K
    max_frames: int = 256                    # frames sampled and analysed
    max_sampled_pixels: int = 600_000_000    # all sampled frames together (~1.8 GB of RGB kept)


DEFAULT_LIMITS = VideoLimits()


@dataclass(frozen=True)
class VideoInfo:
    """Provenance of a clip: what the file is and what was sampled from it."""

    name: str | None
    sha256: str
    num_bytes: int
    container: str            # from the file's magic bytes, e.g. "MP4 (isom)", "WebM", "AVI"
    codec: str                # FourCC as OpenCV reports it, e.g. "h264", "VP90", "MJPG"
    fps: float
    duration_s: float         # declared frame count / fps
    frame_count: int          # frames the container declares (counted when it declares none)
    width: int
    height: int
    sampling: str = ""        # "frames=32" or "every=2s"
    frames_read: int = 0      # stream frames decoded (grabbed) to reach the sampled ones
    rotation: int = 0         # degrees of rotation metadata (OpenCV applies it when decoding)

    def record(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "bytes": self.num_bytes,
                "container": self.container, "codec": self.codec, "fps": self.fps,
                "duration_s": self.duration_s, "frame_count": self.frame_count,
                "width": self.width, "height": self.height, "sampling": self.sampling,
                "frames_read": self.frames_read, "rotation": self.rotation,
                "decoder": f"OpenCV {cv2.__version__} (FFmpeg backend)"}


def is_video_path(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(VIDEO_EXTENSIONS)


def probe(path: str | os.PathLike, limits: VideoLimits = DEFAULT_LIMITS, *, name: str | None = None) -> VideoInfo:
    """Open a clip, check it against `limits` and return its facts (raises InputError)."""
    path = Path(path)
    name = name or path.name
    size = file_size(path, "a video file")
    if size == 0:
        raise InputError(f"{_label(name)} is empty (0 bytes). The upload or copy may have failed.")
    if size > limits.max_bytes:
        raise InputError(f"{_label(name)} is {size / 2**20:.0f} MB; the limit is {limits.max_bytes / 2**20:.0f} MB. "
                         "Trim the clip to the part in question (ffmpeg -ss START -t SECONDS -i IN -c copy OUT).")
    head, digest = _hash_and_head(path)
    container = _container(head)
    if container.startswith("image:"):
        raise InputError(f"{_label(name)} is a {container[6:]} image, not a video. Analyse it as an image.")
    cap = _open(path, name, container)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        codec = _fourcc(cap.get(cv2.CAP_PROP_FOURCC))
        rotation = int(cap.get(getattr(cv2, "CAP_PROP_ORIENTATION_META", -1)) or 0) % 360
    finally:
        cap.release()
    if not math.isfinite(fps) or fps <= 0 or fps > 1000:
        raise InputError(f"{_label(name)} declares no usable frame rate ({fps:g} fps); it may be damaged. "
                         f"Re-encode it: {REENCODE}")
    if width < 1 or height < 1:
        raise InputError(f"{_label(name)} has no video frames we can decode (codec {codec or 'unknown'}). "
                         f"Re-encode it: {REENCODE}")
    if width * height > limits.max_pixels:
        raise InputError(f"{_label(name)} is {width}x{height} ({width * height / 1e6:.1f} MP a frame); the limit is "
                         f"{limits.max_pixels / 1e6:.1f} MP. Downscale it: ffmpeg -i IN -vf scale=-2:2160 OUT.mp4")
    if count <= 0:  # some containers declare no length: count by decoding, within the limits
        count = _count_frames(path, name, container, min(limits.max_stream_frames, int(limits.max_duration_s * fps) + 1))
    duration = count / fps
    if duration > limits.max_duration_s or count > limits.max_stream_frames:
        raise InputError(f"{_label(name)} runs {duration / 60:.1f} min ({count} frames); the limit is "
                         f"{limits.max_duration_s / 60:.0f} min and {limits.max_stream_frames} frames. Trim it to the "
                         "part in question (ffmpeg -ss START -t SECONDS -i IN -c copy OUT).")
    return VideoInfo(name=name, sha256=digest, num_bytes=size, container=container, codec=codec, fps=fps,
                     duration_s=duration, frame_count=count, width=width, height=height, rotation=rotation)


def plan(info: VideoInfo, frames: int | None = DEFAULT_FRAMES, every: float | None = None,
         limits: VideoLimits = DEFAULT_LIMITS) -> list[int]:
    """Stream frame numbers to sample: `frames` evenly from first to last, or one each `every` seconds."""
    if every is not None:
        if not (isinstance(every, (int, float)) and math.isfinite(every) and every > 0):
            raise InputError(f"every must be a positive number of seconds, got {every!r}.")
        if every * info.fps <= 1:  # no longer than a frame: every frame (and no huge list to build)
            indices = list(range(info.frame_count))
        else:
            wanted = (round(k * every * info.fps) for k in range(int(info.duration_s / every) + 1))
            indices = sorted({i for i in wanted if i < info.frame_count})
        what = f"one frame every {every:g} s"
    else:
        if not isinstance(frames, int) or isinstance(frames, bool) or frames < 1:
            raise InputError(f"frames must be a whole number >= 1, got {frames!r}.")
        n = min(frames, info.frame_count)
        indices = sorted({int(i) for i in np.round(np.linspace(0, info.frame_count - 1, n))})
        what = f"{frames} frames"
    if len(indices) > limits.max_frames:
        raise InputError(f"{what} of {_label(info.name)} makes {len(indices)} frames to analyse; the limit is "
                         f"{limits.max_frames}. Sample fewer frames or a longer interval.")
    if len(indices) * info.width * info.height > limits.max_sampled_pixels:
        most = max(1, limits.max_sampled_pixels // (info.width * info.height))
        raise InputError(f"{len(indices)} frames of {info.width}x{info.height} would hold "
                         f"{len(indices) * info.width * info.height * 3 / 2**30:.1f} GB in memory; at this size sample "
                         f"at most {most} frames.")
    return indices


def decode(path: str | os.PathLike, info: VideoInfo, indices: Sequence[int],
           stats: dict | None = None) -> Iterator[tuple[int, float, Image.Image, InputInfo]]:
    """Yield (index, timestamp s, RGB image, InputInfo) of each sampled frame, in stream order.

    Decodes straight through: grab() every frame, retrieve() (the colour conversion) only the
    sampled ones. Raises InputError when the stream ends well before its declared length.
    `stats["frames_read"]` counts the frames grabbed.
    """
    wanted = sorted(set(indices))
    if not wanted:
        return
    cap = _open(Path(path), info.name, info.container)
    stats = {} if stats is None else stats
    # Declared lengths can be a frame or two long (estimated from the duration in Matroska):
    # the last TAIL frames are kept as they pass, so a last sample the stream lacks is
    # replaced by the true last frame instead of failing.
    tail_from = info.frame_count - max(3, round(0.01 * info.frame_count))
    position, last_time, k, last = 0, -1.0, 0, None
    try:
        while k < len(wanted) and cap.grab():
            if position == wanted[k] or position >= tail_from:
                ok, bgr = cap.retrieve()
                if not ok or bgr is None or bgr.ndim != 3:
                    raise InputError(f"{_label(info.name)}: frame {position} could not be decoded; the file may be "
                                     f"damaged. Re-encode it: {REENCODE}")
                # The stream's own presentation time (right for variable frame rates); index/fps
                # when the container gives none or it runs backwards.
                msec = cap.get(cv2.CAP_PROP_POS_MSEC)
                t = msec / 1000.0 if math.isfinite(msec) and msec / 1000.0 >= last_time and (
                    msec > 0 or position == 0) else position / info.fps
                if position == wanted[k]:
                    last_time, last = t, None
                    yield _frame(info, position, t, bgr)
                    k += 1
                else:
                    last = (position, t, bgr)
            position += 1
            stats["frames_read"] = position
    finally:
        cap.release()
    if k < len(wanted) and wanted[k] >= tail_from and position >= tail_from:
        if last is not None:  # the stream's true last frame stands in for the declared one
            yield _frame(info, *last)
        return
    if k < len(wanted):
        if position == 0:
            raise InputError(f"{_label(info.name)} holds no frame OpenCV can decode (codec {info.codec or 'unknown'}"
                             f"{': AV1 is not supported' if info.codec.lower() in ('av01', 'av1') else ''}). "
                             f"Re-encode it: {REENCODE}")
        raise InputError(f"{_label(info.name)} ends at frame {position} of the {info.frame_count} it declares: it is "
                         f"truncated or damaged. Use the complete file, or re-encode what is there: {REENCODE}")


def _frame(info: VideoInfo, index: int, timestamp: float, bgr: np.ndarray):
    return index, timestamp, Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)), frame_info(info, index, timestamp, bgr)


def frame_info(info: VideoInfo, index: int, timestamp: float, bgr: np.ndarray) -> InputInfo:
    """The facts of one frame, as an image file's facts. The clip's hash is in VideoInfo."""
    label = f"{info.name or 'video'}#t={timestamp:.3f}"  # a media-fragment address of the frame
    return InputInfo(name=label, sha256=None, num_bytes=None, format=f"video frame {index} ({info.codec})",
                     width=int(bgr.shape[1]), height=int(bgr.shape[0]), mode="RGB")


ACCEPTED_TEXT = "MP4/MOV, Matroska/WebM, AVI, MPEG-TS and more, with H.264, HEVC, VP8/VP9, MPEG-4 or MJPEG"


def _open(path: Path, name: str | None, container: str = ""):
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        if container == "unknown":
            raise InputError(f"{_label(name)} is not a video: its first bytes match no video container we know "
                             f"({ACCEPTED_TEXT}). Check that it is not a document or web page renamed as a video.")
        raise InputError(f"{_label(name)} looks like {container or 'a video'} but cannot be opened: it is truncated "
                         "or damaged (an MP4 or MOV cut short loses the index at its end). Use the complete file.")
    return cap


def _count_frames(path: Path, name: str | None, container: str, most: int) -> int:
    cap = _open(path, name, container)
    n = 0
    try:
        while n <= most and cap.grab():
            n += 1
    finally:
        cap.release()
    if n == 0:
        raise InputError(f"{_label(name)} holds no frame we can decode. Re-encode it: {REENCODE}")
    return n


def _hash_and_head(path: Path) -> tuple[bytes, str]:
    digest, head = hashlib.sha256(), b""
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                head = head or chunk[:512]
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"{path.name} could not be read ({exc.strerror or exc}).") from None
    return head, digest.hexdigest()


def _container(head: bytes) -> str:
    """The container format named by the file's first bytes ("unknown" when not recognised)."""
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("latin-1").strip()
        return "QuickTime" if brand == "qt" else f"MP4 ({brand})"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "WebM" if b"webm" in head else "Matroska"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "AVI"
    if head.startswith(b"OggS"):
        return "Ogg"
    if head.startswith(b"FLV"):
        return "FLV"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "ASF/WMV"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "MPEG-PS"
    if head[:1] == b"\x47" and head[188:189] == b"\x47":  # two 188-byte packets in sync
        return "MPEG-TS"
    if head.startswith(b"\xff\xd8\xff"):
        return "image:JPEG"
    if head.startswith(b"\x89PNG"):
        return "image:PNG"
    if head[:4] in (b"GIF8",) or (head.startswith(b"RIFF") and head[8:12] == b"WEBP"):
        return "image:" + ("GIF" if head.startswith(b"GIF") else "WebP")
    return "unknown"


def _fourcc(value: float) -> str:
    code = int(value or 0)
    text = bytes((code >> (8 * i)) & 0xFF for i in range(4)).decode("latin-1")
    return "".join(c for c in text if c.isprintable()).strip()


def _label(name: str | None) -> str:
    return f"'{name}'" if name else "The video"
