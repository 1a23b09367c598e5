"""Video clips as sampled frames: bounded decoding, the P(AI-generated) timeline, the clip verdict.

A clip is decoded straight through with OpenCV's FFmpeg backend (grab every frame, retrieve only
the sampled ones: seeking measured no faster and is inexact in some containers). Each sampled
frame becomes the same (RGB image, InputInfo) pair an image file gives, so it goes through
`Detector.analyze_decoded` unchanged and its P equals that frame analysed as an image.

Codecs: the opencv-python-headless wheel decodes H.264, HEVC, VP8, VP9, MPEG-4 Part 2, MJPEG
and FFV1 in MP4/MOV/MKV/WebM/AVI; it does not decode AV1 (such clips are refused with the
command that re-encodes them). PyAV would add AV1 but bundles GPL codec libraries: not used.

This module sits below `analysis`: it calls the detector it is handed and imports nothing above
`inputs` and `verdict`.
"""
from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import cv2
import numpy as np
from PIL import Image

from .inputs import InputError, InputInfo
from .model import DEMO_WARNING
from .verdict import DEFAULT_INCONCLUSIVE_MARGIN, THRESHOLD, VERDICT_WORDING, verdict_for

if TYPE_CHECKING:  # type names only: analysis imports this module, never the other way
    from .analysis import Analysis

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts",
                    ".wmv", ".flv", ".3gp", ".ogv")
DEFAULT_FRAMES = 32
MIN_RUN = 3  # consecutive "ai-generated" frames that make the clip "ai-generated" (see clip_verdict)
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


@dataclass(frozen=True)
class VideoFrame:
    """One sampled frame: where it sits in the stream and its analysis as an image."""

    timestamp: float          # seconds from the start of the stream (its presentation time)
    index: int                # frame number in the stream, 0-based
    analysis: "Analysis"

    @property
    def fake_probability(self) -> float:
        return self.analysis.fake_probability

    @property
    def verdict(self) -> str:
        return self.analysis.verdict


@dataclass(frozen=True)
class Timeline:
    """The timeline in numbers. "Above the cut-off" means P(AI-generated) > 0.5."""

    frames: int
    max_probability: float
    median_probability: float
    mean_probability: float
    share_above: float              # fraction of sampled frames with P > 0.5
    longest_run_above: int          # most consecutive sampled frames with P > 0.5
    longest_run_above_s: float      # first to last timestamp of that run (0 for one frame)
    longest_ai_run: int             # most consecutive sampled frames with verdict "ai-generated"
    ai_generated_frames: int
    real_frames: int
    inconclusive_frames: int

    def record(self) -> dict:
        return dict(self.__dict__)


def summarize(probabilities: Sequence[float], timestamps: Sequence[float], verdicts: Sequence[str]) -> Timeline:
    """Timeline numbers from per-frame P, timestamps and verdicts (in stream order)."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.size == 0:
        raise ValueError("a timeline needs at least one frame")
    above = p > THRESHOLD
    start, length = _longest_run(above)
    span = float(timestamps[start + length - 1] - timestamps[start]) if length else 0.0
    return Timeline(frames=int(p.size), max_probability=float(p.max()),
                    median_probability=float(np.median(p)), mean_probability=float(p.mean()),
                    share_above=float(above.mean()), longest_run_above=length, longest_run_above_s=span,
                    longest_ai_run=_longest_run([v == "ai-generated" for v in verdicts])[1],
                    ai_generated_frames=sum(v == "ai-generated" for v in verdicts),
                    real_frames=sum(v == "real" for v in verdicts),
                    inconclusive_frames=sum(v == "inconclusive" for v in verdicts))


def _longest_run(flags) -> tuple[int, int]:
    """(start, length) of the longest stretch of True; (0, 0) when none."""
    best, start, run = (0, 0), 0, 0
    for i, flag in enumerate(flags):
        if flag:
            start, run = (i, 1) if run == 0 else (start, run + 1)
            if run > best[1]:
                best = (start, run)
        else:
            run = 0
    return best


def clip_rule(min_run: int = MIN_RUN) -> str:
    """The clip-level verdict rule in words, as every export prints it."""
    return (f"ai-generated: at least {min_run} consecutive sampled frames (all of them in a shorter clip) "
            "have the verdict ai-generated; real: no frame is ai-generated and the median P(AI-generated) "
            "is in the real band; otherwise inconclusive")


CLIP_RULE = clip_rule()


def clip_verdict(timeline: Timeline, margin: float = DEFAULT_INCONCLUSIVE_MARGIN, min_run: int = MIN_RUN) -> str:
    """The clip-level verdict (CLIP_RULE).

    A sustained stretch decides "ai-generated": a generated or swapped segment shows in several
    frames in a row, while one spiking frame among real ones is more often noise (motion blur,
    a compression burst). "real" asks for every frame to stay out of the ai-generated band.
    """
    if timeline.longest_ai_run >= min(min_run, timeline.frames):
        return "ai-generated"
    if timeline.ai_generated_frames == 0 and verdict_for(timeline.median_probability, margin) == "real":
        return "real"
    return "inconclusive"


@dataclass(frozen=True)
class VideoAnalysis:
    """A clip's sampled frames, each analysed as an image, and what they say together."""

    frames: tuple[VideoFrame, ...]
    info: VideoInfo
    inconclusive_margin: float = DEFAULT_INCONCLUSIVE_MARGIN
    min_run: int = MIN_RUN
    timeline: Timeline = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "timeline", summarize(self.probabilities, self.timestamps,
                                                       [f.verdict for f in self.frames]))

    @property
    def probabilities(self) -> np.ndarray:
        return np.array([f.fake_probability for f in self.frames], dtype=np.float64)

    @property
    def timestamps(self) -> np.ndarray:
        return np.array([f.timestamp for f in self.frames], dtype=np.float64)

    @property
    def verdict(self) -> str:
        return clip_verdict(self.timeline, self.inconclusive_margin, self.min_run)

    @property
    def verdict_text(self) -> str:
        return VERDICT_WORDING[self.verdict]

    @property
    def rule(self) -> str:
        return clip_rule(self.min_run)

    @property
    def demo(self) -> bool:
        return self.frames[0].analysis.demo

    def strongest(self, k: int = 3) -> list[VideoFrame]:
        """The k frames with the highest P(AI-generated), highest first (earlier first on ties)."""
        order = sorted(range(len(self.frames)), key=lambda i: (-self.frames[i].fake_probability, i))
        return [self.frames[i] for i in order[:k]]

    def frame(self, index: int) -> VideoFrame:
        """The sampled frame with stream frame number `index`."""
        for f in self.frames:
            if f.index == index:
                return f
        raise KeyError(f"frame {index} was not sampled; sampled: {[f.index for f in self.frames]}")

    def nearest(self, timestamp: float) -> VideoFrame:
        """The sampled frame closest in time to `timestamp` (seconds): what a click on the plot picks."""
        return self.frames[int(np.argmin(np.abs(self.timestamps - float(timestamp))))]

    def notes(self) -> list[str]:
        t = self.timeline
        out = [f"{t.frames} of {self.info.frame_count} frames sampled ({self.info.sampling}); "
               "frames in between were not analysed."]
        if self.verdict == "inconclusive" and t.ai_generated_frames:
            out.append(f"{t.ai_generated_frames} frame(s) scored ai-generated, but no run of {self.min_run} in a "
                       "row: look at those frames before drawing a conclusion.")
        unstable = sum(f.analysis.explanation_unstable for f in self.frames)
        if unstable:
            out.append(f"In {unstable} frame(s) attention rollout and grad-rollout disagree on where the evidence "
                       "lies: do not read those heatmaps as stable explanations.")
        a = self.frames[0].analysis  # every frame has the same size, so the same crop
        if a.demo:
            out.insert(0, DEMO_WARNING.upper() + ".")
        if a.coverage < 0.999:
            l, t, r, b = a.crop_box
            out.append(f"Only the centre crop ({l}, {t})-({r}, {b}) of each frame was analysed: "
                       f"{a.coverage:.0%} of the frame area.")
        return out


# -- decoding ------------------------------------------------------------------------------------

def is_video_path(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(VIDEO_EXTENSIONS)


def probe(path: str | os.PathLike, limits: VideoLimits = DEFAULT_LIMITS, *, name: str | None = None) -> VideoInfo:
    """Open a clip, check it against `limits` and return its facts (raises InputError)."""
    path = Path(path)
    name = name or path.name
    if not path.exists():
        raise InputError(f"No file at {path}. Check the path and try again.")
    if not path.is_file():
        raise InputError(f"{path} is not a file (a folder?). Give a video file.")
    size = path.stat().st_size
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


def analyze_video(detector, path: str | os.PathLike, frames: int | None = DEFAULT_FRAMES,
                  every: float | None = None, head_fusion: str = "mean", discard_ratio: float = 0.0, *,
                  method: str = "attention-rollout", batch_size: int = 8, limits: VideoLimits = DEFAULT_LIMITS,
                  keep_attention: bool = False, name: str | None = None, min_run: int = MIN_RUN,
                  progress: Callable[[int, int], None] | None = None) -> VideoAnalysis:
    """Sample a clip, analyse the frames `batch_size` at a time with `detector.analyze_decoded`.

    `detector` is a forensics Detector (passed in, so this module needs nothing above it).
    `progress(done, total)` is called after each batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    info = probe(path, limits, name=name)
    indices = plan(info, frames, every, limits)
    info = replace(info, sampling=f"every={every:g}s" if every is not None else f"frames={frames}")
    settings = dict(head_fusion=head_fusion, discard_ratio=discard_ratio, method=method, keep_attention=keep_attention)
    stats, results, pending = {}, [], []

    def flush():
        analyses = detector.analyze_decoded([(img, fi) for _, _, img, fi in pending], **settings)
        results.extend(VideoFrame(timestamp=t, index=i, analysis=a) for (i, t, _, _), a in zip(pending, analyses))
        pending.clear()
        if progress:
            progress(len(results), len(indices))

    for item in decode(path, info, indices, stats):
        pending.append(item)
        if len(pending) == batch_size:
            flush()
    if pending:
        flush()
    info = replace(info, frames_read=stats.get("frames_read", 0))
    return VideoAnalysis(frames=tuple(results), info=info,
                         inconclusive_margin=detector.inconclusive_margin, min_run=min_run)


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
