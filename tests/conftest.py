import io

import numpy as np
import pytest
from PIL import Image

from forensics import Detector
from model_factory import build_model, save_checkpoint, tiny_config
from forensics.model import vit_small_config


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A 3-block, 32-wide ViT with the real 24x24 grid, saved in the current tensor layout."""
    return save_checkpoint(build_model(tiny_config()), tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_legacy_dir(tmp_path_factory):
    """The same tiny weights saved with the legacy tensor names."""
    return save_checkpoint(build_model(tiny_config()), tmp_path_factory.mktemp("tiny_legacy"), legacy=True)


@pytest.fixture(scope="session")
def vit_small_dir(tmp_path_factory):
    """The exact ViT-S/16-384 one-logit architecture of the real checkpoint, random weights."""
    return save_checkpoint(build_model(vit_small_config(), seed=1), tmp_path_factory.mktemp("vits"), legacy=True)


@pytest.fixture(scope="session")
def tiny_detector(tiny_model_dir):
    return Detector.from_pretrained(tiny_model_dir, device="cpu")


def make_photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth, structured RGB test image (gradients plus a bright disc), not noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([x / max(width - 1, 1), y / max(height - 1, 1), 0.5 + 0.5 * np.sin(x / 17 + y / 29)], -1)
    cx, cy, r = width * rng.uniform(0.3, 0.7), height * rng.uniform(0.3, 0.7), min(width, height) / 6
    img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = 1.0
    return Image.fromarray((img * 255).astype(np.uint8), "RGB")


def encode(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


@pytest.fixture
def photo():
    return make_photo
