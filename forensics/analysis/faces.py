"""Face boxes in an image, so each face can be analysed as a region.

The detector is MediaPipe's BlazeFace full-range model (a 1 MB TFLite file bundled in
forensics/data, Apache-2.0) run by OpenCV's own DNN module: no new dependency, no download,
and it runs offline with the pinned opencv-python-headless. The model sees a 192x192 letterboxed
square, so it finds faces down to about 1/20 of the image's long side; on larger images it also
looks at overlapping tiles (a third, a ninth, ... of the long side) for smaller faces.

Boxes are (left, top, right, bottom) in pixels of the EXIF-upright original, like every region.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..inputs.images import ImageSource, load_image

MODEL_FILE = Path(__file__).resolve().parents[1] / "data" / "face_detection_full_range.tflite"
MODEL_SHA256 = "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"
MODEL_INPUT = 192          # the model's square input side
GRID = 48                  # one anchor per cell of a 48x48 grid (stride 4), MediaPipe's full-range SSD
MIN_SCORE = 0.5            # MediaPipe's default detection threshold
MERGE_IOU = 0.3            # detections overlapping this much are one face (MediaPipe's weighted NMS)
TILE_FRACTION = 1 / 3      # each level's tile side, as a share of the level above
MIN_TILE = 2 * MODEL_INPUT  # smallest tile side: faces of about 32 pixels and up
TILE_OVERLAP = 0.25
TILE_EDGE = 0.02           # a tile detection this close to a cut edge is a partial face: dropped
MIN_FACE = 8               # pixels; smaller boxes are noise at any scale

_lock = threading.Lock()   # one cv2.dnn.Net is not safe to run from two threads at once


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]   # (left, top, right, bottom), original upright pixels
    score: float                     # the detector's confidence, 0..1


def find_faces(image: ImageSource | np.ndarray, min_score: float = MIN_SCORE) -> list[tuple[int, int, int, int]]:
    """Face boxes (left, top, right, bottom) in original upright pixels, most confident first.

    image: a path, bytes or PIL image (decoded and EXIF-transposed like every input), or an
    upright RGB array (H, W, 3) uint8.
    """
    return [f.box for f in detect_faces(image, min_score)]


def detect_faces(image: ImageSource | np.ndarray, min_score: float = MIN_SCORE) -> list[Face]:
    """`find_faces` with each face's score."""
    rgb = _rgb_array(image)
    height, width = rgb.shape[:2]
    boxes, scores = _detect_in(rgb, (0, 0, width, height), (width, height))
    for tile in _tiles(width, height):
        b, s = _detect_in(rgb, tile, (width, height))
        boxes, scores = np.concatenate([boxes, b]), np.concatenate([scores, s])
    keep = scores >= min_score
    faces = []
    for box, score in _merge(boxes[keep], scores[keep]):
        l, t = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
        r, b = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
        if r - l >= MIN_FACE and b - t >= MIN_FACE:
            faces.append(Face((l, t, r, b), float(score)))
    return faces


def _rgb_array(image) -> np.ndarray:
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"an image array must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
        return image
    if not isinstance(image, Image.Image) or image.mode != "RGB":
        image, _ = load_image(image)
    return np.asarray(image)


@lru_cache(maxsize=1)
def _net() -> cv2.dnn.Net:
    data = MODEL_FILE.read_bytes()
    if hashlib.sha256(data).hexdigest() != MODEL_SHA256:
        raise RuntimeError(f"{MODEL_FILE.name} does not match its SHA-256: the package is damaged; reinstall it")
    # The classic engine: OpenCV 5's new one exposes only one of the model's two outputs (and
    # reading from a buffer ignores the engine asked for, so read the checked file by path).
    return cv2.dnn.readNetFromTFLite(str(MODEL_FILE), engine=cv2.dnn.ENGINE_CLASSIC)


@lru_cache(maxsize=1)
def _output_names() -> tuple[str, str]:
    """The score and box layers, by name: the order of the listed outputs is not the model's promise."""
    names = _net().getLayerNames()
    return ([n for n in names if n.startswith("reshaped_classifier")][-1],
            [n for n in names if n.startswith("reshaped_regressor")][-1])


@lru_cache(maxsize=1)
def _anchors() -> np.ndarray:
    """(2304, 2) anchor centres (x, y) in 0..1 of the model input, row-major over the grid."""
    centres = (np.arange(GRID, dtype=np.float32) + 0.5) / GRID
    xs, ys = np.meshgrid(centres, centres)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _detect_in(rgb: np.ndarray, window: tuple[int, int, int, int],
               size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Run the model on one window of the image -> boxes (N, 4) in original pixels, scores (N,)."""
    l, t, r, b = window
    w, h = r - l, b - t
    k = MODEL_INPUT / max(w, h)                                # original -> model pixels
    nw, nh = max(1, round(w * k)), max(1, round(h * k))
    px, py = (MODEL_INPUT - nw) // 2, (MODEL_INPUT - nh) // 2  # letterbox padding
    canvas = np.zeros((MODEL_INPUT, MODEL_INPUT, 3), np.float32)
    canvas[py:py + nh, px:px + nw] = cv2.resize(rgb[t:b, l:r], (nw, nh), interpolation=cv2.INTER_AREA)
    blob = (canvas / 127.5 - 1.0).transpose(2, 0, 1)[None]   # (1, 3, 192, 192) in -1..1
    with _lock:
        net = _net()
        net.setInput(np.ascontiguousarray(blob))
        raw_scores, raw_boxes = net.forward(list(_output_names()))   # (1, 2304, 1), (1, 2304, 16)
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1), -80, 80)))  # (2304,)
    raw = raw_boxes.reshape(-1, 16)[:, :4] / MODEL_INPUT                      # (2304, 4): dx, dy, w, h
    centre = raw[:, :2] + _anchors()
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1) * MODEL_INPUT  # model pixels
    boxes = (boxes - [px, py, px, py]) / k + [l, t, l, t]                          # original pixels
    keep = scores >= 0.1  # far below any useful threshold: just fewer boxes to merge
    boxes, scores = boxes[keep], scores[keep]
    if window != (0, 0, *size):
        # A face cut by the tile's inner edge is seen whole by a neighbouring tile.
        margin = TILE_EDGE * max(w, h)
        cut = np.zeros(len(boxes), bool)
        if l > 0:
            cut |= boxes[:, 0] < l + margin
        if t > 0:
            cut |= boxes[:, 1] < t + margin
        if r < size[0]:
            cut |= boxes[:, 2] > r - margin
        if b < size[1]:
            cut |= boxes[:, 3] > b - margin
        boxes, scores = boxes[~cut], scores[~cut]
    return boxes, scores


def _tiles(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Overlapping square tiles at a third, a ninth, ... of the long side, down to MIN_TILE.

    The model finds faces of about 1/12 of its window's side and up; a tile holds whole any face
    up to its overlap (1/4 of its side), so each level covers the sizes the level above misses.
    """
    tiles, side = [], max(width, height)
    while True:
        side = round(side * TILE_FRACTION)
        if side < MIN_TILE:
            return tiles
        if side >= min(width, height):
            continue  # a tile as tall as the image is the whole-image pass again, squeezed

        def starts(length, side=side):
            n = int(np.ceil((length - side) / (side * (1 - TILE_OVERLAP)))) + 1
            return sorted({int(round(x)) for x in np.linspace(0, length - side, n)})

        tiles += [(x, y, x + side, y + side) for y in starts(height) for x in starts(width)]


def _merge(boxes: np.ndarray, scores: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Weighted non-maximum suppression: each group of overlapping boxes -> their score-weighted mean.

    A box mostly inside a stronger one (a face part found in a tile) is dropped.
    """
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    used = np.zeros(len(boxes), bool)
    out = []
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    for i in range(len(boxes)):
        if used[i]:
            continue
        lt = np.maximum(boxes[i, :2], boxes[:, :2])
        rb = np.minimum(boxes[i, 2:], boxes[:, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        iou = inter / (area[i] + area - inter)
        inside = inter / np.minimum(area[i], area)
        group = ~used & (iou > MERGE_IOU)
        used |= group | (inside > 0.6)   # parts are dropped, not averaged in
        w = scores[group]
        out.append(((boxes[group] * w[:, None]).sum(0) / w.sum(), float(scores[i])))
    return out


def analyze_faces(detector, analysis, min_score: float = MIN_SCORE) -> list[tuple[Face, object]]:
    """Every face in an analysed image, each analysed as a region -> [(Face, Analysis)].

    One batched forward pass over the image already decoded for `analysis`, with its method,
    head fusion and discard ratio. For the page's Faces section; the CLI batches the same way.
    """
    faces = detect_faces(analysis.image, min_score)
    if not faces:
        return []
    results = detector.analyze_decoded([(analysis.image, analysis.input)] * len(faces),
                                       analysis.head_fusion, analysis.discard_ratio, method=analysis.method,
                                       regions=[f.box for f in faces])
    return list(zip(faces, results))
