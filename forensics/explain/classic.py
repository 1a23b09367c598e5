"""Classic forensic views on pixels: error level analysis and a noise residual.

Both take an RGB uint8 array (H, W, 3) and return a `ClassicView`: an RGB uint8 array of the same
size and a one-line caption that says what the view can and cannot show. They are aids for the
eye, computed on demand; they produce no score and never change P(AI-generated). See
docs/METHODS.md ("Classic views") for the method and the references.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

ELA_QUALITY = 90     # JPEG quality of the re-save
ELA_GAIN = 20.0      # amplification of the absolute difference
NOISE_KSIZE = 3      # median filter used as the denoiser
NOISE_GAIN = 8.0     # amplification of the residual around mid-grey


@dataclass(frozen=True)
class ClassicView:
    name: str               # "error level analysis" or "noise residual"
    image: np.ndarray       # (H, W, 3) uint8 RGB
    caption: str            # one line: what it shows, what it cannot show
    settings: tuple[tuple[str, float], ...] = ()

    def to_record(self) -> dict:
        return {"name": self.name, "caption": self.caption, "settings": dict(self.settings)}


def _check(rgb: np.ndarray) -> np.ndarray:
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"expected an RGB uint8 array (H, W, 3), got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


def error_level_analysis(rgb: np.ndarray, quality: int = ELA_QUALITY, gain: float = ELA_GAIN) -> ClassicView:
    """|image - JPEG(image, quality)| x gain, per channel (Krawetz 2007)."""
    arr = _check(rgb)
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be 1-100, got {quality}")
    bgr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise ValueError("JPEG re-save failed")
    resaved = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    diff = np.abs(arr.astype(np.int16) - resaved.astype(np.int16)).astype(np.float32)
    out = np.clip(diff * gain, 0, 255).astype(np.uint8)
    caption = (f"Error level analysis: difference from a JPEG re-save at quality {int(quality)}, "
               f"amplified {gain:g}x. Areas saved fewer times or at another quality than the rest "
               "(e.g. pasted in after the last save) can look brighter; edges and texture always do, "
               "and it cannot prove editing or show whether an image is AI-generated.")
    return ClassicView("error level analysis", out, caption, (("quality", float(quality)), ("gain", float(gain))))


def noise_residual(rgb: np.ndarray, ksize: int = NOISE_KSIZE, gain: float = NOISE_GAIN) -> ClassicView:
    """(image - median_ksize(image)) x gain around mid-grey: the noise the denoiser removed."""
    arr = _check(rgb)
    if ksize not in (3, 5):
        raise ValueError(f"ksize must be 3 or 5, got {ksize}")
    denoised = cv2.medianBlur(arr, ksize)
    residual = arr.astype(np.float32) - denoised.astype(np.float32)
    out = np.clip(128.0 + residual * gain, 0, 255).astype(np.uint8)
    caption = (f"Noise residual: the image minus a {ksize}x{ksize} median-filtered copy, amplified {gain:g}x "
               "around grey. Regions whose noise differs from their surroundings (pasted, retouched, "
               "resampled or smoothed) can stand out; edges and fine texture always do, and it cannot "
               "tell which region is original or whether an image is AI-generated.")
    return ClassicView("noise residual", out, caption, (("ksize", float(ksize)), ("gain", float(gain))))


def classic_views(rgb: np.ndarray) -> tuple[ClassicView, ClassicView]:
    """Both views with their default settings."""
    return error_level_analysis(rgb), noise_residual(rgb)
