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

from .errors import InputError

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
    resized_size: tuple[int, int]    # after the shortest-edge resize (floats for a resampled region)
    crop_offset: tuple[int, int]     # (left, top) of the crop in the resized image
    input_size: int = INPUT_SIZE
    # Set for a region analysis (see crop_region): the region asked for, clipped to the image,
    # and how it was fed: "native" (1:1 window), "resized" (downscaled), "upscaled" (small image).
    region: tuple[int, int, int, int] | None = None
    mode: str = "centre-crop"

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

    @property
    def zoom(self) -> float:
        """Model-input pixels per original pixel: 1 native, below 1 downscaled, above 1 upscaled."""
        l, _, r, _ = self.crop_box_exact
        return self.input_size / (r - l)

    @property
    def region_seen(self) -> float | None:
        """Share of the region's area inside what the model saw (None: no region)."""
        if self.region is None:
            return None
        l, t, r, b = self.region
        cl, ct, cr, cb = self.crop_box
        inside = max(0, min(r, cr) - max(l, cl)) * max(0, min(b, cb) - max(t, ct))
        return inside / ((r - l) * (b - t))

    def patch_box_input(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Patch (row, col) covers input pixels [16col, 16col+16) x [16row, 16row+16)."""
        if not (0 <= row < GRID and 0 <= col < GRID):
            raise IndexError(f"patch ({row}, {col}) is outside the {GRID}x{GRID} grid")
        return (col * PATCH_SIZE, row * PATCH_SIZE, (col + 1) * PATCH_SIZE, (row + 1) * PATCH_SIZE)

    def patch_box_original(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Patch (row, col) in original pixels, rounded to whole pixels and clamped."""
        return self._whole_pixels(self.input_to_original(self.patch_box_input(row, col)))

    def patch_boxes_original(self) -> np.ndarray:
        """Every patch's `patch_box_original` at once: (GRID, GRID, 4) int64, [row, col] ->
        (left, top, right, bottom). np.rint rounds half to even, as Python's round does."""
        sx, sy = self.scale
        ox, oy = self.crop_offset
        edges = np.arange(GRID + 1) * PATCH_SIZE
        xs, ys = np.rint((ox + edges) * sx), np.rint((oy + edges) * sy)  # patch edges in the original
        w, h = self.original_size
        left, top = np.clip(xs[:-1], 0, w - 1), np.clip(ys[:-1], 0, h - 1)
        right, bottom = np.minimum(w, np.maximum(left + 1, xs[1:])), np.minimum(h, np.maximum(top + 1, ys[1:]))
        cols = np.stack([left, right])[:, None, :].repeat(GRID, axis=1)   # (2, row, col)
        rows = np.stack([top, bottom])[:, :, None].repeat(GRID, axis=2)
        return np.stack([cols[0], rows[0], cols[1], rows[1]], axis=-1).astype(np.int64)

    def _whole_pixels(self, box) -> tuple[int, int, int, int]:
        """Round a float box to pixels inside the image, at least one pixel wide and high."""
        w, h = self.original_size
        l, t = min(max(0, round(box[0])), w - 1), min(max(0, round(box[1])), h - 1)
        return (l, t, min(w, max(l + 1, round(box[2]))), min(h, max(t + 1, round(box[3]))))

    def original_to_patch(self, x: float, y: float) -> tuple[int, int] | None:
        """Original pixel -> (row, col) of the patch that saw it, or None outside the crop."""
        sx, sy = self.scale
        # Rounded to 1e-6 input pixel: float error in the scale must not push an exact corner
        # or patch edge (x = crop left) to the wrong side.
        xi = round(x / sx - self.crop_offset[0], 6)
        yi = round(y / sy - self.crop_offset[1], 6)
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


# -- regions: a box of the original analysed at full resolution ---------------------------------

MIN_REGION_SIDE = 8  # half a patch: below this a region holds too little to judge


def check_region(region, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A (left, top, right, bottom) box in original pixels -> whole pixels clipped to the image.

    Raises InputError for anything but four finite numbers with left < right and top < bottom
    that overlap the image by at least MIN_REGION_SIDE pixels each way. A box that runs past an
    edge (a box dragged over the border) is clipped, not refused.
    """
    width, height = size
    try:
        values = [float(v) for v in region]
        if len(values) != 4 or any(isinstance(v, (bool, str, bytes)) for v in region):
            raise TypeError
    except (TypeError, ValueError):
        raise InputError(f"A region is four numbers (left, top, right, bottom) in pixels of the upright "
                         f"image; got {region!r}.") from None
    if not all(np.isfinite(values)):
        raise InputError(f"The region {tuple(values)} has a coordinate that is not a finite number; "
                         "give four pixel positions.")
    l, t, r, b = values
    if r <= l or b <= t:
        raise InputError(f"The region ({l:g}, {t:g}, {r:g}, {b:g}) is empty or inverted: give "
                         "(left, top, right, bottom) with left < right and top < bottom.")
    # floor the start, ceil the end: every pixel the box touches is inside
    box = (max(0, int(np.floor(l))), max(0, int(np.floor(t))),
           min(width, int(np.ceil(r))), min(height, int(np.ceil(b))))
    if box[2] <= box[0] or box[3] <= box[1]:
        raise InputError(f"The region ({l:g}, {t:g}, {r:g}, {b:g}) lies outside the {width}x{height} "
                         "image: give a box in pixels of the upright image.")
    if box[2] - box[0] < MIN_REGION_SIDE or box[3] - box[1] < MIN_REGION_SIDE:
        raise InputError(f"The region {box} (inside the {width}x{height} image) is "
                         f"{box[2] - box[0]}x{box[3] - box[1]} pixels; draw at least "
                         f"{MIN_REGION_SIDE}x{MIN_REGION_SIDE}.")
    return box


def region_window(box: tuple[int, int, int, int], size: tuple[int, int],
                  input_size: int = INPUT_SIZE) -> tuple[int, int, int]:
    """(left, top, side) of the square of the original the model sees for a region.

    The side is the region's short side, but never under `input_size` (no zooming in past the
    original pixels: a region that fits is seen 1:1 with context around it) and never over the
    image's short side (an image under 384 on a side is upscaled, as the whole-image transform
    does). The square is centred on the region and shifted to stay inside the image.
    """
    width, height = size
    l, t, r, b = box
    side = min(max(input_size, min(r - l, b - t)), width, height)
    left = min(max(0, int(round((l + r - side) / 2))), width - side)
    top = min(max(0, int(round((t + b - side) / 2))), height - side)
    return left, top, side


def crop_region(image: Image.Image, region, transform: Transform) -> tuple[Image.Image, Geometry]:
    """The 384x384 RGB input for a region of the original, and the geometry that maps it back.

    "native": the square is 384 original pixels, cut out unchanged;
    "resized": a region larger than 384 on its short side, the square brought down to 384
      (the transform's resampling; Pillow's box resize reads only that square);
    "upscaled": the image is under 384 on a side, the square brought up to 384.
    Only the transform's resampling, mean and std apply; its 440 resize and centre crop are for
    whole images.
    """
    box = check_region(region, image.size)
    left, top, side = region_window(box, image.size)
    c = INPUT_SIZE
    if side == c:
        crop = image.crop((left, top, left + c, top + c))
        geometry = Geometry(image.size, image.size, (left, top), c, box, "native")
    else:
        # Original -> input is x * c / side: the virtual resized image and the crop offset in it
        # are exact multiples, so input_to_original returns (left, top)-(left+side, top+side).
        k = c / side
        crop = image.resize((c, c), transform.resample, box=(left, top, left + side, top + side))
        geometry = Geometry(image.size, (image.width * k, image.height * k), (left * k, top * k), c, box,
                            "resized" if side > c else "upscaled")
    return crop, geometry
