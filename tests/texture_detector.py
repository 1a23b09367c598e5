"""A fixture detector that really fires on something: the real ViT architecture (tiny width) with
its one-logit head fitted, on the final layer-normed CLS, to a planted texture.

Decision rules (applicability, the stability rule, the local scan) need a detector whose call
means something: random weights call everything inconclusive. This one calls a picture
"ai-generated" when the model sees a fine checkerboard (`plant_texture`) at native scale, and
"real" when it sees clean pictures (smooth scenes with or without camera-like noise). The
checkerboard is a one-pixel pattern, so what erases it (resizing, JPEG at ordinary qualities)
also erases the call: exactly the kind of detector the delivery-path sweep must catch.

Built once per test session, saved in the real checkpoint format (`save_checkpoint`) and loaded
through `Detector.from_pretrained`, like the real weights.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression

from forensics.core.preprocess import INPUT_SIZE, crop_input
from forensics.model.spec import TRAINING
from helpers import make_photo
from model_factory import build_model, save_checkpoint, tiny_config

AMPLITUDE = 40          # the checkerboard's +/- step on every channel (0..255)
MIN_AMPLITUDE = 6       # the faintest checkerboard the head is fitted to call
LOGIT_SCALE = 4.0       # the fitted head's logits are stretched so calls are confident (|logit| ~ 5+)


def checkerboard(height: int, width: int, amplitude: int = AMPLITUDE, phase: int = 0) -> np.ndarray:
    """(H, W, 1) +/- amplitude in a one-pixel checkerboard; phase 1 swaps its two colours."""
    y, x = np.mgrid[0:height, 0:width]
    return np.where((x + y + phase) % 2 == 0, amplitude, -amplitude)[..., None].astype(np.int16)


def plant_texture(image: Image.Image, box=None, amplitude: int = AMPLITUDE, phase: int = 0) -> Image.Image:
    """A copy of `image` with the checkerboard added inside `box` (left, top, right, bottom; all
    of the image when None); `phase` 1 swaps the colours. The original is not changed."""
    arr = np.asarray(image.convert("RGB"), dtype=np.int16).copy()
    l, t, r, b = box or (0, 0, image.width, image.height)
    arr[t:b, l:r] += checkerboard(b - t, r - l, amplitude, phase=(l + t + phase) % 2)  # on the image's grid
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def camera_like(width: int, height: int, seed: int = 0, noise: float = 4.0) -> Image.Image:
    """A smooth scene with Gaussian sensor-like noise (no periodic pattern)."""
    base = np.asarray(make_photo(width, height, seed=seed), dtype=np.float32)
    rng = np.random.default_rng(seed + 1000)
    arr = base * 0.8 + 25 + rng.normal(0, noise, base.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _training_crops(n: int, seed: int) -> tuple[list[Image.Image], np.ndarray]:
    """n clean and n textured 384x384 crops (what the model is fed at native scale)."""
    rng = np.random.default_rng(seed)
    crops, labels = [], []
    for i in range(n):
        noise = float(rng.choice([0.0, 2.0, 4.0, 8.0]))
        if i % 3 == 2:  # a large clean picture as the transform shrinks it: its noise averaged away
            large = camera_like(int(rng.integers(800, 2000)), int(rng.integers(800, 1600)), seed=seed * 1000 + i)
            clean = crop_input(large, TRAINING)[0]
        elif i % 3 == 1:  # a window of a large picture at native scale (regions, the local scan)
            large = camera_like(int(rng.integers(800, 1600)), int(rng.integers(600, 1200)), seed=seed * 1000 + i,
                                noise=noise)
            left, top = int(rng.integers(0, large.width - INPUT_SIZE)), int(rng.integers(0, large.height - INPUT_SIZE))
            clean = large.crop((left, top, left + INPUT_SIZE, top + INPUT_SIZE))
        else:
            clean = camera_like(INPUT_SIZE, INPUT_SIZE, seed=seed * 1000 + i, noise=noise)
        # both phases: a crop or a window may start on an odd pixel
        textured = plant_texture(clean, amplitude=int(rng.integers(MIN_AMPLITUDE, AMPLITUDE + 11)), phase=i % 2)
        crops += [clean, textured]
        labels += [0, 1]
    return crops, np.array(labels)


def build_texture_checkpoint(folder: Path, n: int = 48, seed: int = 7) -> Path:
    """Fit the head of a tiny ViT on its own final CLS to tell textured crops from clean ones,
    and save it in the real checkpoint format."""
    model = build_model(tiny_config(), seed=seed)
    with torch.no_grad():
        # High-pass the patch kernels (each 2x2 block of a kernel sums to zero): smooth content, a
        # colour or a gradient, then barely moves a patch's embedding, so a native-scale window of a
        # large clean picture looks like the clean crops the head was fitted on, while the one-pixel
        # checkerboard still does.
        w = model.vit.embeddings.patch_embeddings.projection.weight                # (hidden, 3, 16, 16)
        block_mean = torch.nn.functional.avg_pool2d(w.flatten(0, 1)[:, None], 2)   # (hidden * 3, 1, 8, 8)
        w.sub_(torch.nn.functional.interpolate(block_mean, scale_factor=2, mode="nearest").view_as(w))
    crops, labels = _training_crops(n, seed)
    mean = torch.tensor(TRAINING.mean).view(1, 3, 1, 1)
    std = torch.tensor(TRAINING.std).view(1, 3, 1, 1)
    pixels = torch.stack([torch.from_numpy(np.asarray(c, dtype=np.float32) / 255.0).permute(2, 0, 1)
                          for c in crops])
    with torch.no_grad():
        cls = model.vit((pixels - mean) / std).last_hidden_state[:, 0].numpy()  # (2n, hidden): the head's input
    probe = LogisticRegression(C=10.0, max_iter=5000).fit(cls, labels)
    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(probe.coef_ * LOGIT_SCALE).float())
        model.classifier.bias.copy_(torch.from_numpy(probe.intercept_ * LOGIT_SCALE).float())
    return save_checkpoint(model, folder)
