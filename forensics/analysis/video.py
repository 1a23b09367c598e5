"""Video clips as sampled frames: the P(AI-generated) timeline, the clip verdict, `analyze_video`.

Decoding and sampling (limits, codec facts, which frames) live in `video_decode`; their names are
re-exported here, so `forensics.video.probe` and the rest keep working. Each sampled frame is
analysed by `Detector.analyze_decoded` exactly as an image would be.

This module sits below `analysis`: it calls the detector it is handed and imports nothing above
`inputs` and `verdict`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from ..explain import registry
from ..model.loading import DEMO_WARNING
from .result import Analysis
from ..core.verdict import DEFAULT_INCONCLUSIVE_MARGIN, THRESHOLD, VERDICT_WORDING, verdict_for
from ..inputs.video import (ACCEPTED_TEXT, DEFAULT_FRAMES, DEFAULT_LIMITS, REENCODE, VIDEO_EXTENSIONS,
                            VideoInfo, VideoLimits, decode, frame_info, is_video_path, plan, probe)


MIN_RUN = 3  # consecutive "ai-generated" frames that make the clip "ai-generated" (see clip_verdict)


@dataclass(frozen=True)
class VideoFrame:
    """One sampled frame: where it sits in the stream and its analysis as an image."""

    timestamp: float          # seconds from the start of the stream (its presentation time)
    index: int                # frame number in the stream, 0-based
    analysis: Analysis

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
            other = registry.get(self.frames[0].analysis.compared_method).label
            out.append(f"In {unstable} frame(s) {registry.get(registry.BASELINE).label} and {other} disagree on "
                       "where the evidence lies: do not read those heatmaps as stable explanations.")
        a = self.frames[0].analysis  # every frame has the same size, so the same crop
        if a.demo:
            out.insert(0, DEMO_WARNING.upper() + ".")
        if a.coverage < 0.999:
            l, t, r, b = a.crop_box
            out.append(f"Only the centre crop ({l}, {t})-({r}, {b}) of each frame was analysed: "
                       f"{a.coverage:.0%} of the frame area.")
        return out


def analyze_video(detector, path: str | os.PathLike, frames: int | None = DEFAULT_FRAMES,
                  every: float | None = None, head_fusion: str = "mean", discard_ratio: float = 0.0, *,
                  method: str = registry.BASELINE, batch_size: int = 8, limits: VideoLimits = DEFAULT_LIMITS,
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


__all__ = ["VideoAnalysis", "VideoFrame", "Timeline", "analyze_video", "summarize", "clip_rule", "clip_verdict",
           "CLIP_RULE", "MIN_RUN",
           # from video_decode
           "VideoInfo", "VideoLimits", "DEFAULT_LIMITS", "DEFAULT_FRAMES", "VIDEO_EXTENSIONS", "REENCODE",
           "ACCEPTED_TEXT", "is_video_path", "probe", "plan", "decode", "frame_info"]
