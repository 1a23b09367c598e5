"""The model's input transform, and the geometry that maps patches back to the original.

Two transforms, both with Pillow resampling and numpy normalisation:
- "training": what the authors trained with (shortest edge 440 bilinear, centre crop 384,
  ImageNet mean/std). The default.
- "hub": the hub's preprocessor_config.json as published (CLIP mean/std, bicubic).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, asdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

INPUT_SIZE = 384
PATCH_SIZE = 16
GRID = INPUT_SIZE // PATCH_SIZE  # 24
MAX_RESIZED_SIDE = 8192  # beyond this, resize only the cropped region (see crop_input)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Pillow's resampling filters by the integer codes transformers configs use.
_RESAMPLE = {0: Image.NEAREST, 1: Image.LANCZOS, 2: Image.BILINEAR, 3: Image.BICUBIC,
             4: Image.BOX, 5: Image.HAMMING}
_RESAMPLE_NAME = {Image.NEAREST: "nearest", Image.LANCZOS: "lanczos", Image.BILINEAR: "bilinear",
                  Image.BICUBIC: "bicubic", Image.BOX: "box", Image.HAMMING: "hamming"}


@dataclass(frozen=True)
class Transform:
    """Resize, centre-crop a square, normalise. Configuration is data.

    resize "shortest_edge": the short side becomes `size`, aspect kept (then a centre crop);
    resize "exact": the image is squashed to size x size (the whole image is seen, distorted).
    """

    name: str
    size: int
    crop_size: int
    resample: int            # a PIL.Image resampling constant
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize: str = "shortest_edge"

    def describe(self) -> dict:
        d = asdict(self)
        d["resample"] = _RESAMPLE_NAME.get(self.resample, str(self.resample))
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d


TRAINING = Transform("training", 440, INPUT_SIZE, Image.BILINEAR, IMAGENET_MEAN, IMAGENET_STD)


def hub_transform(config_path: str | Path | None) -> Transform:
    """The transform described by a `preprocessor_config.json` (transformers' keys)."""
    if config_path is None or not Path(config_path).is_file():
        raise FileNotFoundError("preprocessing='hub' needs preprocessor_config.json beside the weights")
    cfg = json.loads(Path(config_path).read_text())
    size, resize = cfg.get("size", INPUT_SIZE), "shortest_edge"
    if isinstance(size, dict):
        if "shortest_edge" in size:
            size = size["shortest_edge"]
        else:  # {"height": h, "width": w}: transformers resizes to exactly that, aspect ignored
            if size.get("height") != size.get("width"):
                raise ValueError(f"hub preprocessing resizes to a non-square {size}")
            size, resize = size["height"], "exact"
    crop = cfg.get("crop_size", size) if cfg.get("do_center_crop", True) else size
    if isinstance(crop, dict):
        crop = min(crop.get("height", INPUT_SIZE), crop.get("width", INPUT_SIZE))
    if int(crop) != INPUT_SIZE:
        raise ValueError(f"hub preprocessing crops to {crop}, but the model takes {INPUT_SIZE}")
    if not cfg.get("do_resize", True):
        raise ValueError("hub preprocessing does not resize; images of any size cannot be fed")
    return Transform("hub", int(size), int(crop), _RESAMPLE[int(cfg.get("resample", 3))],
                     tuple(cfg.get("image_mean", IMAGENET_MEAN)), tuple(cfg.get("image_std", IMAGENET_STD)),
                     resize)


@dataclass(frozen=True)
class Geometry:
    """Where the model input came from in the original (EXIF-upright) image.

    Input pixel (x, y) in the 384x384 crop <-> original pixel
    (crop_left + x * scale_x, crop_top + y * scale_y).
    """

    original_size: tuple[int, int]   # (width, height)
    resized_size: tuple[int, int]    # after the shortest-edge resize
    crop_offset: tuple[int, int]     # (left, top) of the crop in the resized image
    input_size: int = INPUT_SIZE

    @property
    def scale(self) -> tuple[float, float]:
        """Original pixels per input pixel, (x, y)."""
        return (self.original_size[0] / self.resized_size[0], self.original_size[1] / self.resized_size[1])

    def input_to_original(self, box_input) -> tuple[float, float, float, float]:
        """A (left, top, right, bottom) box in input pixels -> original pixels (floats)."""
        sx, sy = self.scale
        ox, oy = self.crop_offset
        l, t, r, b = box_input
        return ((ox + l) * sx, (oy + t) * sy, (ox + r) * sx, (oy + b) * sy)

    @property
    def crop_box_exact(self) -> tuple[float, float, float, float]:
        return self.input_to_original((0, 0, self.input_size, self.input_size))

    @property
    def crop_box(self) -> tuple[int, int, int, int]:
        """The analysed region in original pixels, rounded to whole pixels and clamped."""
        return self._whole_pixels(self.crop_box_exact)

    def patch_box_input(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Patch (row, col) covers input pixels [16col, 16col+16) x [16row, 16row+16)."""
        if not (0 <= row < GRID and 0 <= col < GRID):
            raise IndexError(f"patch ({row}, {col}) is outside the {GRID}x{GRID} grid")
        return (col * PATCH_SIZE, row * PATCH_SIZE, (col + 1) * PATCH_SIZE, (row + 1) * PATCH_SIZE)

    def patch_box_original(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Patch (row, col) in original pixels, rounded to whole pixels and clamped."""
        return self._whole_pixels(self.input_to_original(self.patch_box_input(row, col)))

    def _whole_pixels(self, box) -> tuple[int, int, int, int]:
        """Round a float box to pixels inside the image, at least one pixel wide and high."""
        w, h = self.original_size
        l, t = min(max(0, round(box[0])), w - 1), min(max(0, round(box[1])), h - 1)
        return (l, t, min(w, max(l + 1, round(box[2]))), min(h, max(t + 1, round(box[3]))))

    def original_to_patch(self, x: float, y: float) -> tuple[int, int] | None:
        """Original pixel -> (row, col) of the patch that saw it, or None outside the crop."""
        sx, sy = self.scale
        xi = x / sx - self.crop_offset[0]
        yi = y / sy - self.crop_offset[1]
        if not (0 <= xi < self.input_size and 0 <= yi < self.input_size):
            return None
        return int(yi // PATCH_SIZE), int(xi // PATCH_SIZE)


def resized_size(width: int, height: int, shortest_edge: int) -> tuple[int, int]:
    """torchvision's Resize(int) rule: short side -> shortest_edge, long side truncated."""
    if width <= height:
        return shortest_edge, int(shortest_edge * height / width)
    return int(shortest_edge * width / height), shortest_edge


def crop_input(image: Image.Image, transform: Transform) -> tuple[Image.Image, Geometry]:
    """Resize + centre-crop to the 384x384 RGB image the model sees, and where it came from."""
    if transform.resize == "exact":
        new_w = new_h = transform.size
    else:
        new_w, new_h = resized_size(image.width, image.height, transform.size)
    c = transform.crop_size
    # torchvision's CenterCrop rounding
    left = int(round((new_w - c) / 2.0))
    top = int(round((new_h - c) / 2.0))
    geometry = Geometry(image.size, (new_w, new_h), (left, top), c)
    if max(new_w, new_h) <= MAX_RESIZED_SIDE:
        crop = image.resize((new_w, new_h), transform.resample).crop((left, top, left + c, top + c))
    else:
        # Extreme aspect ratios (a 1x4000 strip resizes to 440x1,760,000): resample only the
        # source region under the crop. Pillow's box resize matches resize-then-crop to +-1 level.
        crop = image.resize((c, c), transform.resample, box=geometry.crop_box_exact)
    return crop, geometry


def to_tensor(crops: list[Image.Image], transform: Transform) -> torch.Tensor:
    """RGB crops -> normalised float32 tensor (B, 3, 384, 384)."""
    batch = np.stack([np.asarray(c, dtype=np.float32) for c in crops])  # (B, H, W, 3) in 0..255
    mean = np.asarray(transform.mean, dtype=np.float32) * 255.0
    std = np.asarray(transform.std, dtype=np.float32) * 255.0
    batch = (batch - mean) / std
    return torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)))
